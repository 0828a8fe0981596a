package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store/pgtest"
)

// The cluster's tables come with the migrations: a node can lease a socket
// before any node has shared the identity, and the first identity stored
// is the one every later node gets.
func TestClusterTablesComeWithTheMigrations(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, want := range []bool{true, false} {
		ok, err := db.AcquireSocket(ctx, "s"+string(rune('1'+i)), "p1", "n1", 1, time.Minute)
		if err != nil || ok != want {
			t.Fatalf("socket %d: %v, %v; want %v", i+1, ok, err, want)
		}
	}
	// A second process on the same database, as another node.
	db2, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	for _, tc := range []struct {
		db              *DB
		candidate, want string
	}{{db, "first", "first"}, {db2, "second", "first"}} {
		got, err := tc.db.ShareIdentity(ctx, []byte(tc.candidate))
		if err != nil || string(got) != tc.want {
			t.Fatalf("ShareIdentity(%q) = %q, %v; want %q", tc.candidate, got, err, tc.want)
		}
	}
}
