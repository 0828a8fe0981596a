package parley

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
)

// startParley runs a Parley server whose connections (tokens and
// websockets) live ttl, and starts a chat on it.
func startParley(t *testing.T, ttl time.Duration) (*server.Server, Details) {
	t.Helper()
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": t.TempDir(), "PARLEY_INSTANCE_ID": "i",
		"PARLEY_ACCESS_KEY_ID": "K", "PARLEY_SECRET_ACCESS_KEY": "S"}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// Below the 65 s that serve accepts: the server closes each socket
	// after ttl, so that a test sees several renewals in seconds.
	cfg.ConnectionTTL = ttl
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	cc := connect.New(connect.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), Credentials: credentials.NewStaticCredentialsProvider("K", "S", "")})
	out, err := cc.StartChatContact(context.Background(), &connect.StartChatContactInput{InstanceId: aws.String("i"), ContactFlowId: aws.String("f"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, Details{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}
}

// dialCounter counts websocket upgrades.
type dialCounter struct{ dials atomic.Int32 }

func (d *dialCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		d.dials.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// openSockets reads the server's count of open websockets from its metrics.
func openSockets(t *testing.T, srv *server.Server) string {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "parley_websocket_connections "); ok {
			return v
		}
	}
	t.Fatal("no parley_websocket_connections in the metrics")
	return ""
}

// TestSocketRenewedBeforeExpiry: against a Parley whose sockets live 8 s,
// the session renews its socket before the server ends it, twice over 11 s
// of messages: no ConnectionLost, every message exactly once and in order,
// and the server holds one socket once the renewals are done.
func TestSocketRenewedBeforeExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for renewals")
	}
	srv, d := startParley(t, 8*time.Second)
	dc := &dialCounter{}
	s := NewSession(d, Options{Endpoint: srv.URL(), HTTPClient: &http.Client{Transport: dc}})
	s.life.urlWindow = 0 // Parley's 8 s socket, not a URL to open within 100 s
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var (
		mu   sync.Mutex
		sent []string
	)
	done := make(chan error, 1)
	go func() {
		for i := range 110 { // 11 s
			text := fmt.Sprintf("message %03d", i)
			if _, err := s.SendText(ctx, text); err != nil {
				done <- err
				return
			}
			mu.Lock()
			sent = append(sent, text)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()

	var got []string
	sending := true
	timeout := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("sending: %v", err)
			}
			sending = false
		case e := <-s.Events():
			switch e := e.(type) {
			case *ConnectionLost:
				t.Fatalf("ConnectionLost during renewal: %v", e.Err)
			case *ConnectionRestored:
				t.Fatal("ConnectionRestored: the session reconnected instead of renewing")
			case *Message:
				got = append(got, e.Content)
			}
		case <-timeout:
			t.Fatalf("after 30 s, %d messages of %d arrived", len(got), len(sent))
		}
		mu.Lock()
		complete := !sending && len(got) >= len(sent)
		mu.Unlock()
		if complete {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Errorf("messages across the renewals:\n got %q\nwant %q", got, sent)
	}
	if n := dc.dials.Load(); n < 3 {
		t.Errorf("%d websockets opened over 11 s of 8 s sockets, want at least 3 (two renewals)", n)
	}
	// Each old socket was closed: the server holds only the current one
	// (the switch may still be closing one).
	deadline := time.Now().Add(5 * time.Second)
	for openSockets(t, srv) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %s websockets of the session, want 1", openSockets(t, srv))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A renewal in a quiet chat (no item comes on both sockets: the switch
	// waits out its grace and reads the transcript) brings no duplicate,
	// and the new socket delivers.
	quiet := dc.dials.Load()
	deadline = time.Now().Add(10 * time.Second)
	for dc.dials.Load() == quiet {
		select {
		case e := <-s.Events():
			t.Errorf("an event in a quiet chat: %#v", e)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no renewal within 10 s in a quiet chat")
		}
	}
	time.Sleep(3 * time.Second) // past the grace: the switch is done
	if _, err := s.SendText(ctx, "after a quiet renewal"); err != nil {
		t.Fatal(err)
	}
	for e := range s.Events() {
		switch e := e.(type) {
		case *Message:
			if e.Content != "after a quiet renewal" {
				t.Fatalf("a late duplicate: %q", e.Content)
			}
			return
		case *ConnectionLost:
			t.Fatalf("ConnectionLost during a quiet renewal: %v", e.Err)
		}
	}
}

// TestRenewAt: when a socket is renewed, from what CreateParticipantConnection
// said and the service's clock.
func TestRenewAt(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		serverNow time.Time // the response's Date; zero: none
		expiry    time.Time
		want      time.Time
	}{
		{"no expiry: ChatJS's transport lifetime", time.Time{}, time.Time{}, start.Add(3540 * time.Second)},
		{"Connect's URL window is not the socket's end", start, start.Add(100 * time.Second), start.Add(3540 * time.Second)},
		{"Parley's default day: the transport lifetime comes first", start, start.Add(24 * time.Hour), start.Add(3540 * time.Second)},
		{"a 10-minute socket: a minute before its end", start, start.Add(10 * time.Minute), start.Add(9 * time.Minute)},
		{"a 110 s socket: halfway", start, start.Add(110 * time.Second), start.Add(55 * time.Second)},
		{"the server's clock 5 min ahead", start.Add(5 * time.Minute), start.Add(15 * time.Minute), start.Add(9 * time.Minute)},
		{"no Date header: the client's clock", time.Time{}, start.Add(10 * time.Minute), start.Add(9 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultLifetimes.renewAt(start, tt.serverNow, tt.expiry); !got.Equal(tt.want) {
				t.Errorf("renewAt = %v after start, want %v", got.Sub(start), tt.want.Sub(start))
			}
		})
	}
}

// TestRenewalSurvivesFailures: a renewal that CreateParticipantConnection
// refuses keeps the old socket and is tried again; when the old socket dies
// while the new one is already subscribed, the session switches to the new
// one and reads the transcript for what the old one may have held back,
// without a ConnectionLost: whether it dies while the renewal is opening
// or during the switch's grace.
func TestRenewalSurvivesFailures(t *testing.T) {
	for _, tt := range []struct {
		name  string
		early bool // the old socket dies before the new one's subscription is answered
	}{{"while opening", true}, {"during the grace", false}} {
		t.Run(tt.name, func(t *testing.T) { testRenewalSurvivesFailures(t, tt.early) })
	}
}

func testRenewalSurvivesFailures(t *testing.T, early bool) {
	var srv *httptest.Server
	var connections, sockets, transcripts atomic.Int32
	first := make(chan *websocket.Conn, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/connection", func(w http.ResponseWriter, r *http.Request) {
		if n := connections.Add(1); n >= 2 && n <= 4 { // the first renewal, all three attempts
			w.Header().Set("X-Amzn-ErrorType", "InternalServerException")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"Message":"try again"}`)
			return
		}
		// A socket that the service ends after 3 s.
		fmt.Fprintf(w, `{"Websocket":{"Url":%q,"ConnectionExpiry":%q},"ConnectionCredentials":{"ConnectionToken":"tok","Expiry":"2099-01-01T00:00:00Z"}}`,
			"ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", time.Now().Add(3*time.Second).UTC().Format(time.RFC3339Nano))
	})
	mux.HandleFunc("POST /participant/transcript", func(w http.ResponseWriter, r *http.Request) {
		if transcripts.Add(1) == 1 { // Connect's look at the newest item
			fmt.Fprint(w, `{"Transcript":[]}`)
			return
		}
		fmt.Fprint(w, `{"Transcript":[{"Id":"m1","Type":"MESSAGE","ContentType":"text/plain","Content":"committed during the switch"}]}`)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil { // aws/subscribe
			return
		}
		n := sockets.Add(1)
		if n == 2 && early {
			(<-first).CloseNow()
			time.Sleep(300 * time.Millisecond) // the client sees it before the answer
		}
		c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`))
		switch n {
		case 1:
			first <- c
		case 2:
			if !early {
				time.Sleep(300 * time.Millisecond) // the client holds both
				(<-first).CloseNow()
			}
			item := `{"Id":"m2","Type":"MESSAGE","ContentType":"text/plain","Content":"on the new socket"}`
			b, _ := json.Marshal(map[string]string{"topic": "aws/chat", "contentType": "application/json", "content": item})
			c.Write(ctx, websocket.MessageText, b)
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if strings.Contains(string(b), "aws/heartbeat") {
				c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/heartbeat"}`))
			}
		}
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()

	s := NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: srv.URL})
	s.life.urlWindow = 0
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	timeout := time.After(15 * time.Second)
	for len(got) < 2 {
		select {
		case e := <-s.Events():
			switch e := e.(type) {
			case *Message:
				got = append(got, e.Content)
			case *ConnectionLost:
				t.Fatalf("ConnectionLost: %v (messages so far %q)", e.Err, got)
			}
		case <-timeout:
			t.Fatalf("after 15 s: messages %q, %d connections, %d sockets", got, connections.Load(), sockets.Load())
		}
	}
	if want := []string{"committed during the switch", "on the new socket"}; !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	if n := connections.Load(); n < 5 {
		t.Errorf("%d CreateParticipantConnection calls, want the failed renewal tried again", n)
	}
}
