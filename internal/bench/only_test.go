package bench

import "testing"

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		name, only string
		want       bool
	}{
		{"SendMessage throughput", "", true},
		{"SendMessage throughput", "throughput", true},
		{"SendMessage throughput on PostgreSQL, 1 and 3 nodes", "SendMessage throughput", true},
		{"SendMessage throughput on PostgreSQL, 1 and 3 nodes", "SendMessage throughput$", false},
		{"SendMessage throughput", "SendMessage throughput$", true},
		{"delivery latency", "latency$", true},
	} {
		if got := selected(c.name, c.only); got != c.want {
			t.Errorf("selected(%q, %q) = %v, want %v", c.name, c.only, got, c.want)
		}
	}
}
