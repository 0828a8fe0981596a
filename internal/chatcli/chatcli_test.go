package chatcli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFollowStopsOnCancel: `parley chat transcript --follow` returns when
// its context ends (Ctrl-C: main cancels the context on SIGINT and has
// caught the signal, so a follow that ignores the context never exits).
func TestFollowStopsOnCancel(t *testing.T) {
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": t.TempDir(), "PARLEY_INSTANCE_ID": "i",
		"PARLEY_ACCESS_KEY_ID": "K", "PARLEY_SECRET_ACCESS_KEY": "S"}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	cliEnv := map[string]string{"AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "PARLEY_INSTANCE_ID": "i", "PARLEY_ENDPOINT": srv.URL()}
	getenv := func(k string) string { return cliEnv[k] }
	session := filepath.Join(t.TempDir(), "s.json")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"start", "--message", "hello", "--session", session}, &out, io.Discard, getenv); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var followed syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"transcript", "--follow", "--session", session}, &followed, io.Discard, getenv)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(followed.String(), "hello"); {
		if time.Now().After(deadline) {
			t.Fatalf("the follow printed no transcript: %q", followed.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("transcript --follow went on after its context was cancelled")
	}
}

// TestParticipantEndpoint: Connect's own API endpoints have the
// Participant Service on a host of their own; anything else (Parley) serves
// both at one address.
func TestParticipantEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://connect.us-west-2.amazonaws.com", "https://participant.connect.us-west-2.amazonaws.com"},
		{"https://connect.eu-central-1.amazonaws.com/", "https://participant.connect.eu-central-1.amazonaws.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://chat.example.com", "https://chat.example.com"},
		{"https://connect.example.com", "https://connect.example.com"},
		{"https://connect.us-west-2.amazonaws.com:8443", "https://connect.us-west-2.amazonaws.com:8443"},
		{"https://connect.a.b.amazonaws.com", "https://connect.a.b.amazonaws.com"},
	} {
		if got := participantEndpoint(tc.in); got != tc.want {
			t.Errorf("participantEndpoint(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
