package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/store"
)

func items(contact string, from, n int) []store.Item {
	var its []store.Item
	for i := range n {
		its = append(its, store.Item{ContactID: contact, Seq: int64(from + i), ID: fmt.Sprint(contact, from+i)})
	}
	return its
}

func TestPublishDeliversInOrderToTheChatOnly(t *testing.T) {
	m := NewMemory()
	a := m.Subscribe("a", 100)
	b := m.Subscribe("b", 100)
	defer a.Close()
	defer b.Close()
	m.Publish(context.Background(), append(items("a", 1, 3), items("b", 1, 2)...))
	m.Publish(context.Background(), items("a", 4, 2))
	<-a.Ready
	got := a.Take()
	for i, it := range got {
		if it.Seq != int64(i+1) || it.ContactID != "a" {
			t.Fatalf("a got %+v at %d", it, i)
		}
	}
	if len(got) != 5 || len(b.Take()) != 2 || len(a.Take()) != 0 {
		t.Errorf("a got %d items; want 5, and b 2", len(got))
	}
}

func TestSlowSubscriberIsDroppedWithoutAGap(t *testing.T) {
	m := NewMemory()
	slow := m.Subscribe("c", 4)
	fast := m.Subscribe("c", 100)
	m.Publish(context.Background(), items("c", 1, 3))
	first := slow.Take() // frees the queue mid-way; nothing after the overflow may use it
	m.Publish(context.Background(), items("c", 4, 6))
	select {
	case <-slow.Dropped:
	default:
		t.Fatal("an overflowing subscriber was not dropped")
	}
	var got []int64
	for _, it := range append(first, slow.Take()...) {
		got = append(got, it.Seq)
	}
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("dropped subscriber holds %v: not a gap-free run from 1", got)
		}
	}
	if len(got) != 7 {
		t.Errorf("dropped subscriber holds %v, want 1–7 (3 taken, then 4 queued)", got)
	}
	if n := len(fast.Take()); n != 9 {
		t.Errorf("the fast subscriber has %d items, want all 9", n)
	}
	if m.Subscribers("c") != 1 {
		t.Errorf("%d subscribers left, want only the fast one", m.Subscribers("c"))
	}
	m.Publish(context.Background(), items("c", 10, 1)) // no panic, nothing more for the dropped one
	slow.Close()
	fast.Close()
	if m.Subscribers("c") != 0 {
		t.Error("subscriptions not removed on Close")
	}
}

// BenchmarkPublish is the fan-out of one committed batch of 16 items to a
// chat's 5 sockets, as the store's commit hook does it.
func BenchmarkPublish(b *testing.B) {
	m := NewMemory()
	var subs []*Subscription
	for range 5 {
		subs = append(subs, m.Subscribe("c", 1<<30))
	}
	batch := items("c", 1, 16)
	b.ReportAllocs()
	for b.Loop() {
		m.Publish(context.Background(), batch)
		for _, s := range subs {
			s.Take()
		}
	}
}

// TestPublishNotifiesOncePerBatch: each subscriber is told once per
// Publish, however many of the batch's items are its chat's, in small and
// large batches alike.
func TestPublishNotifiesOncePerBatch(t *testing.T) {
	for _, size := range []int{3, 40} {
		m := NewMemory()
		calls := map[string]*int{}
		for _, c := range []string{"a", "b", "c"} {
			calls[c] = new(int)
			n := calls[c]
			sub := m.SubscribeFunc(c, 100, func() { *n++ })
			defer sub.Close()
		}
		var items []store.Item
		for i := range size {
			items = append(items, store.Item{ContactID: []string{"a", "b"}[i%2], Seq: int64(i/2 + 1)})
		}
		m.Publish(context.Background(), items)
		if *calls["a"] != 1 || *calls["b"] != 1 || *calls["c"] != 0 {
			t.Errorf("batch of %d: notified a %d, b %d, c %d times; want 1, 1, 0", size, *calls["a"], *calls["b"], *calls["c"])
		}
	}
}
