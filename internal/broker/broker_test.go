package broker

import (
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
	m.Publish(append(items("a", 1, 3), items("b", 1, 2)...))
	m.Publish(items("a", 4, 2))
	for want := int64(1); want <= 5; want++ {
		if it := <-a.C; it.Seq != want || it.ContactID != "a" {
			t.Fatalf("a got %+v, want seq %d", it, want)
		}
	}
	if len(b.C) != 2 || len(a.C) != 0 {
		t.Errorf("b has %d items queued, a has %d", len(b.C), len(a.C))
	}
}

func TestSlowSubscriberIsDroppedWithoutAGap(t *testing.T) {
	m := NewMemory()
	slow := m.Subscribe("c", 4)
	fast := m.Subscribe("c", 100)
	m.Publish(items("c", 1, 3))
	<-slow.C // frees one place mid-way; nothing after the overflow may use it
	m.Publish(items("c", 4, 6))
	select {
	case <-slow.Dropped:
	default:
		t.Fatal("an overflowing subscriber was not dropped")
	}
	var got []int64
	for len(slow.C) > 0 {
		got = append(got, (<-slow.C).Seq)
	}
	for i, s := range got {
		if s != int64(i+2) {
			t.Fatalf("dropped subscriber holds %v: not a gap-free run from 2", got)
		}
	}
	if len(fast.C) != 9 {
		t.Errorf("the fast subscriber has %d items, want all 9", len(fast.C))
	}
	if m.Subscribers("c") != 1 {
		t.Errorf("%d subscribers left, want only the fast one", m.Subscribers("c"))
	}
	m.Publish(items("c", 10, 1)) // no panic, nothing more for the dropped one
	slow.Close()
	fast.Close()
	if m.Subscribers("c") != 0 {
		t.Error("subscriptions not removed on Close")
	}
}
