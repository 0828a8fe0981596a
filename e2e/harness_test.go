// Package e2e holds Parley's black-box tests: a real server on 127.0.0.1
// driven by the official clients (aws-sdk-go-v2 connect, aws-sdk-go v1
// connectparticipant, and the npm packages under js/).
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	v1creds "github.com/aws/aws-sdk-go/aws/credentials"
	v1session "github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/store/pgtest"
)

const (
	testAKID   = "PARLEYTESTKEY"
	testSecret = "parley-test-secret-key"
	testRegion = "us-east-1"
)

type testServer struct {
	URL         string
	InstanceID  string
	DataDir     string
	DatabaseURL string // "" for SQLite in DataDir
	srv         *server.Server
}

// onPostgres: PARLEY_E2E_DATABASE=postgres runs every test server on its
// own PostgreSQL database (from the package's private server, see pgtest)
// instead of SQLite.
var onPostgres = os.Getenv("PARLEY_E2E_DATABASE") == "postgres"

// databaseURL is a fresh database for t's server: "" (SQLite in the data
// dir) unless the suite runs on PostgreSQL.
func databaseURL(t testing.TB) string {
	if !onPostgres {
		return ""
	}
	return pgtest.NewDatabase(t)
}

// startServer runs a Parley server on 127.0.0.1 with a fresh data dir.
func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerIn(t, t.TempDir())
}

func startServerIn(t testing.TB, dataDir string, extraEnv ...string) *testServer {
	t.Helper()
	env := map[string]string{
		"PARLEY_ADDR":              "127.0.0.1:0",
		"PARLEY_DATA_DIR":          dataDir,
		"PARLEY_ACCESS_KEY_ID":     testAKID,
		"PARLEY_SECRET_ACCESS_KEY": testSecret,
		"PARLEY_INSTANCE_ID":       "test-instance",
	}
	if url := databaseURL(t); url != "" {
		env["PARLEY_DATABASE_URL"] = url
	}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	ts := &testServer{URL: srv.URL(), InstanceID: cfg.InstanceID, DataDir: dataDir, DatabaseURL: cfg.DatabaseURL, srv: srv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// connectClient is the official Go Connect client pointed at the server.
func (ts *testServer) connectClient() *connect.Client {
	return connectClientWith(ts.URL, testAKID, testSecret)
}

func connectClientWith(url, akid, secret string) *connect.Client {
	return connect.New(connect.Options{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		BaseEndpoint: aws.String(url),
	})
}

// participantClient is the official v1 Go participant client (the v2 module
// is not served by the module proxy these machines reach).
func (ts *testServer) participantClient() *connectparticipant.ConnectParticipant {
	// One client per server URL, made once: aws-sdk-go v1 sets up TLS on
	// the shared http.DefaultClient as it makes a session, a write the race
	// detector catches when concurrent senders make theirs; and a client is
	// safe for concurrent use.
	participantClientsMu.Lock()
	defer participantClientsMu.Unlock()
	if c, ok := participantClients[ts.URL]; ok {
		return c
	}
	sess := v1session.Must(v1session.NewSession(&v1aws.Config{
		Region:      v1aws.String(testRegion),
		Endpoint:    v1aws.String(ts.URL),
		Credentials: v1creds.AnonymousCredentials,
		MaxRetries:  v1aws.Int(0),
	}))
	c := connectparticipant.New(sess)
	participantClients[ts.URL] = c
	return c
}

var (
	participantClientsMu sync.Mutex
	participantClients   = map[string]*connectparticipant.ConnectParticipant{}
)

type chatDetails struct {
	ContactID, ParticipantID, ParticipantToken string
}

// startChat starts a chat through the Connect API.
func (ts *testServer) startChat(t testing.TB, in *connect.StartChatContactInput) chatDetails {
	t.Helper()
	if in == nil {
		in = &connect.StartChatContactInput{}
	}
	if in.InstanceId == nil {
		in.InstanceId = aws.String(ts.InstanceID)
	}
	if in.ContactFlowId == nil {
		in.ContactFlowId = aws.String("flow")
	}
	if in.ParticipantDetails == nil {
		in.ParticipantDetails = &ctypes.ParticipantDetails{DisplayName: aws.String("Customer")}
	}
	out, err := ts.connectClient().StartChatContact(context.Background(), in)
	if err != nil {
		t.Fatalf("StartChatContact: %v", err)
	}
	return chatDetails{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}
}

// addAgent joins an agent to a chat (Parley's CreateParticipant extension).
func (ts *testServer) addAgent(t testing.TB, contactID string) chatDetails {
	t.Helper()
	out, err := ts.connectClient().CreateParticipant(context.Background(), &connect.CreateParticipantInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID),
		ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleAgent, DisplayName: aws.String("Agent")},
	})
	if err != nil {
		t.Fatalf("CreateParticipant: %v", err)
	}
	return chatDetails{ContactID: contactID, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantCredentials.ParticipantToken}
}

// connectionToken makes a participant connection and returns its token.
func (ts *testServer) connectionToken(t testing.TB, participantToken string) string {
	t.Helper()
	out, err := ts.participantClient().CreateParticipantConnection(&connectparticipant.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(participantToken),
		Type:             v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"}),
	})
	if err != nil {
		t.Fatalf("CreateParticipantConnection: %v", err)
	}
	return *out.ConnectionCredentials.ConnectionToken
}

// rawRequest sends a request with no SDK in between.
func rawRequest(t testing.TB, method, url string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// send does req and reads the whole response.
func send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// withAgent starts a chat, joins an agent, and connects both.
func (ts *testServer) withAgent(t testing.TB) (chat, agent chatDetails, customerToken, agentToken string) {
	t.Helper()
	chat = ts.startChat(t, nil)
	agent = ts.addAgent(t, chat.ContactID)
	return chat, agent, ts.connectionToken(t, chat.ParticipantToken), ts.connectionToken(t, agent.ParticipantToken)
}

func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func readCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func do(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// handover restarts the server on the same address and data without a gap:
// the successor listens before the old server drops its websockets, as a
// rolling restart would. Clients must reconnect by themselves.
func (ts *testServer) handover(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old := ts.srv
	if err := old.StopAccepting(ctx); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(ts.URL, "http://")
	env := map[string]string{
		"PARLEY_ADDR": addr, "PARLEY_DATA_DIR": ts.DataDir, "PARLEY_ACCESS_KEY_ID": testAKID,
		"PARLEY_SECRET_ACCESS_KEY": testSecret, "PARLEY_INSTANCE_ID": ts.InstanceID, "PARLEY_DATABASE_URL": ts.DatabaseURL,
	}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	next, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go next.Serve()
	ts.srv = next
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
}

func stopInput(ts *testServer, contactID string) *connect.StopContactInput {
	return &connect.StopContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID)}
}

func sendInput(connectionToken, text string) *connectparticipant.SendMessageInput {
	return &connectparticipant.SendMessageInput{ConnectionToken: v1aws.String(connectionToken),
		ContentType: v1aws.String("text/plain"), Content: v1aws.String(text)}
}

func jsonUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func startInput(ts *testServer) *connect.StartChatContactInput {
	return &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("flow"),
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("Ada")}}
}
