package quota

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(Connect, &ConnectDefault)
	l.now = func() time.Time { return now }
	tests := []struct {
		op    string
		burst int
		rate  float64
	}{
		{"StartChatContact", 8, 5},
		{"DescribeContact", 5, 2},
	}
	for _, tt := range tests {
		for i := range tt.burst {
			if !l.Allow("i", tt.op) {
				t.Fatalf("%s: request %d of the burst refused", tt.op, i+1)
			}
		}
		if l.Allow("i", tt.op) {
			t.Fatalf("%s: request past the burst allowed", tt.op)
		}
		if !l.Allow("other", tt.op) {
			t.Fatalf("%s: another instance shares the bucket", tt.op)
		}
	}
	now = now.Add(time.Second)
	for _, tt := range tests {
		n := 0
		for l.Allow("i", tt.op) {
			n++
		}
		if n != int(tt.rate) {
			t.Errorf("%s: %d requests a second later, want %v", tt.op, n, tt.rate)
		}
	}
	p := New(Participant, nil)
	for range 100 {
		if !p.Allow("i", "DescribeView") {
			t.Fatal("an operation without a documented rate was throttled")
		}
	}
	var off *Limiter
	if !off.Allow("i", "StartChatContact") {
		t.Fatal("a nil limiter throttled")
	}
}
