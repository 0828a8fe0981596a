package webapi

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(3)
	now := time.Now()
	for i := range 3 {
		if !l.allow("1.2.3.4", now) {
			t.Fatalf("request %d refused within the rate", i+1)
		}
	}
	if l.allow("1.2.3.4", now) {
		t.Error("a fourth request in the same instant was allowed")
	}
	if !l.allow("5.6.7.8", now) {
		t.Error("another address shares the first one's bucket")
	}
	if !l.allow("1.2.3.4", now.Add(20*time.Second)) { // 3 a minute: one token every 20 s
		t.Error("the bucket does not refill")
	}
	if l.allow("1.2.3.4", now.Add(21*time.Second)) {
		t.Error("refilled faster than the rate")
	}
	if !newLimiter(0).allow("x", now) {
		t.Error("a zero rate means no limit")
	}
}
