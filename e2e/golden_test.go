package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

var update = flag.Bool("update", false, "rewrite the responses of the golden files in testdata/golden")

// goldenCase is one file of testdata/golden: a request, with {{Name}}
// placeholders for the values of the chat the test sets up, and the response
// expected, normalised (ids, times and tokens replaced by <uuid>, <time>,
// <token>, and the set-up values by their placeholders).
type goldenCase struct {
	Comment  string         `json:"comment,omitempty"`
	Request  goldenRequest  `json:"request"`
	Response goldenResponse `json:"response"`
}

type goldenRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

type goldenResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"`
}

// goldenHeaders are the response headers the files pin down.
var goldenHeaders = []string{"Content-Type", "X-Amzn-Errortype", "X-Amzn-Requestid", "Access-Control-Allow-Origin"}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	ts := startServer(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			vars := goldenSetup(t, ts)
			got := goldenDo(t, ts, gc.Request, vars)
			if *update {
				gc.Response = got
				if err := os.WriteFile(file, marshalIndent(gc), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, have := marshalIndent(gc.Response), marshalIndent(got)
			if !bytes.Equal(want, have) {
				t.Errorf("%s: response differs (go test ./e2e -run Golden -update rewrites it)\n--- want\n%s\n--- got\n%s", file, want, have)
			}
		})
	}
}

// goldenSetup starts a chat with a customer and an agent, and one agent message.
func goldenSetup(t *testing.T, ts *testServer) map[string]string {
	chat, agent, cust, agentTok := ts.withAgent(t)
	msg, err := ts.participantClient().SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(agentTok),
		ContentType: v1aws.String("text/plain"), Content: v1aws.String("Hello, how can I help?")})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"InstanceId":            ts.InstanceID,
		"ContactId":             chat.ContactID,
		"ParticipantId":         chat.ParticipantID,
		"ParticipantToken":      chat.ParticipantToken,
		"ConnectionToken":       cust,
		"AgentParticipantId":    agent.ParticipantID,
		"AgentParticipantToken": agent.ParticipantToken,
		"AgentConnectionToken":  agentTok,
		"MessageId":             *msg.Id,
	}
}

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

// goldenDo sends the request (SigV4-signed for the Connect API routes) and
// returns the normalised response.
func goldenDo(t *testing.T, ts *testServer, gr goldenRequest, vars map[string]string) goldenResponse {
	t.Helper()
	body := expand(string(gr.Body), vars)
	req, err := http.NewRequest(gr.Method, ts.URL+expand(gr.Path, vars), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range gr.Headers {
		req.Header.Set(k, expand(v, vars))
	}
	if !strings.HasPrefix(gr.Path, "/participant/") {
		creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "connect", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, raw := send(t, req)
	out := goldenResponse{Status: resp.StatusCode, Headers: map[string]string{}}
	for _, h := range goldenHeaders {
		if v := resp.Header.Get(h); v != "" {
			out.Headers[h] = normalise(v, vars).(string)
		}
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatalf("response is not JSON: %q", raw)
	}
	out.Body = normalise(decoded, vars)
	return out
}

var (
	uuidRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timeRe  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	tokenRe = regexp.MustCompile(`^[A-Za-z0-9_\-]{40,}(\.[A-Za-z0-9_\-]+)?$`)
	wsRe    = regexp.MustCompile(`^ws://127\.0\.0\.1:\d+/ws/v1/connect\?token=\S+$`)
	fileRe  = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/attachments/[0-9a-f-]{36}\?token=\S+$`)
)

// normalise replaces what differs between runs with stable placeholders.
func normalise(v any, vars map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if _, isNum := e.(float64); isNum && strings.HasSuffix(k, "Timestamp") {
				out[k] = "<epoch-seconds>"
				continue
			}
			out[k] = normalise(e, vars)
		}
		return out
	case []any:
		for i := range v {
			v[i] = normalise(v[i], vars)
		}
		return v
	case string:
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v == vars[k] {
				return "{{" + k + "}}"
			}
		}
		switch {
		case uuidRe.MatchString(v):
			return "<uuid>"
		case timeRe.MatchString(v):
			return "<time>"
		case wsRe.MatchString(v):
			return "ws://127.0.0.1:<port>/ws/v1/connect?token=<signed>"
		case fileRe.MatchString(v):
			return "http://127.0.0.1:<port>/attachments/<uuid>?token=<signed>"
		case tokenRe.MatchString(v):
			return "<token>"
		}
		if strings.HasPrefix(v, "arn:aws:connect:") {
			return expandBack(v, vars)
		}
	}
	return v
}

func expandBack(s string, vars map[string]string) string {
	for k, v := range vars {
		if len(v) > 8 {
			s = strings.ReplaceAll(s, v, "{{"+k+"}}")
		}
	}
	return s
}

// marshalIndent writes JSON as people read it: indented, "<" left as is.
func marshalIndent(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return b.Bytes()
}
