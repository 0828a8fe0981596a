package chat

import (
	"testing"
	"time"
)

// FuzzQueueToken: the console's queue position reads back as it was
// made, and any token a client sends that is accepted names a position
// (a time from 1970 on and an id) whose own token reads back the same.
func FuzzQueueToken(f *testing.F) {
	f.Add(queueToken(time.UnixMilli(1700000000123), "abc-1"), int64(1700000000123), "abc-1")
	for _, s := range []string{"", "!!", "bm90aGluZw", "LTEgeA", "KzUgeA", "MDA3IHg", "OTIyMzM3MjAzNjg1NDc3NTgwNyB4"} {
		f.Add(s, int64(0), " ")
	}
	f.Fuzz(func(t *testing.T, token string, ms int64, id string) {
		if ms >= 0 && id != "" {
			at := time.UnixMilli(ms)
			got, gotID, ok := parseQueueToken(queueToken(at, id))
			if !ok || !got.Equal(at) || gotID != id {
				t.Fatalf("(%v, %q) reads back as (%v, %q, %v)", at, id, got, gotID, ok)
			}
		}
		at, gotID, ok := parseQueueToken(token)
		if !ok {
			return
		}
		if gotID == "" || at.Before(time.Unix(0, 0)) {
			t.Fatalf("%q accepted as (%v, %q)", token, at, gotID)
		}
		again, againID, ok := parseQueueToken(queueToken(at, gotID))
		if !ok || !again.Equal(at) || againID != gotID {
			t.Fatalf("%q: (%v, %q) reads back as (%v, %q, %v)", token, at, gotID, again, againID, ok)
		}
	})
}
