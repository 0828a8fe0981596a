package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// route is one operation of the API models, as its http trait routes it.
type route struct {
	API       string `json:"api"`
	Operation string `json:"operation"`
	Method    string `json:"method"`
	URI       string `json:"uri"`
}

// specDir holds the API models (shared/spec beside the repository), when
// this checkout has them.
const specDir = "../../shared/spec"

// modelRoutes reads the routes from the models in specDir.
func modelRoutes(t *testing.T) []route {
	var out []route
	for api, file := range map[string]string{"connect": "connect-2017-08-08.chat-subset.json", "participant": "connectparticipant-2018-09-07.json"} {
		raw, err := os.ReadFile(filepath.Join(specDir, file))
		if err != nil {
			return nil
		}
		var m struct {
			Operations map[string]struct {
				HTTP struct{ Method, RequestURI string } `json:"http"`
			} `json:"operations"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for name, op := range m.Operations {
			out = append(out, route{api, name, op.HTTP.Method, op.HTTP.RequestURI})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].API != out[j].API {
			return out[i].API < out[j].API
		}
		return out[i].Operation < out[j].Operation
	})
	return out
}

// routes is testdata/routes.json, the models' routes for checkouts without
// the models; with them, it must match them.
func routes(t *testing.T) []route {
	raw, err := os.ReadFile(filepath.Join("testdata", "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []route
	if err := json.Unmarshal(raw, &rs); err != nil {
		t.Fatal(err)
	}
	if m := modelRoutes(t); m != nil && !reflect.DeepEqual(m, rs) {
		t.Fatalf("testdata/routes.json differs from the models in %s: regenerate it", specDir)
	}
	return rs
}

// TestEveryRouteAnswersTyped walks every operation of both models, and
// unknown routes and methods, and checks that each works or answers an
// error the SDKs decode: an X-Amzn-ErrorType and a JSON Message.
func TestEveryRouteAnswersTyped(t *testing.T) {
	ts := startServer(t)
	chat, _, custToken, _ := ts.withAgent(t)
	labels := map[string]string{"InstanceId": ts.InstanceID, "ContactId": chat.ContactID,
		"InitialContactId": chat.ContactID, "AttachmentScope": "CHAT", "ViewToken": "nope"}

	call := func(api, method, path string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if api == "connect" {
			creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex("{}"), "connect", testRegion, time.Now()); err != nil {
				t.Fatal(err)
			}
		} else {
			req.Header.Set("X-Amz-Bearer", custToken)
		}
		return send(t, req)
	}
	typed := func(t *testing.T, resp *http.Response, body []byte) string {
		t.Helper()
		if resp.StatusCode < 300 {
			return ""
		}
		typ := resp.Header.Get("X-Amzn-ErrorType")
		var e struct{ Message *string }
		if typ == "" || json.Unmarshal(body, &e) != nil || e.Message == nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("status %d, type %q, body %q: not a typed error", resp.StatusCode, typ, body)
		}
		return typ
	}

	rs := routes(t)
	if len(rs) != 25 {
		t.Fatalf("%d operations in the models, want 14 + 11", len(rs))
	}
	for _, r := range rs {
		t.Run(r.API+"/"+r.Operation, func(t *testing.T) {
			path := r.URI
			for k, v := range labels {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
			}
			resp, body := call(r.API, r.Method, path)
			typ := typed(t, resp, body)
			switch {
			case typ == "MissingAuthenticationTokenException":
				t.Errorf("%s %s is not routed", r.Method, path)
			}
			// Another method on the same path is no operation.
			other := map[string]string{"GET": "DELETE", "POST": "DELETE", "PUT": "DELETE"}[r.Method]
			resp, body = call(r.API, other, path)
			if typ := typed(t, resp, body); resp.StatusCode != http.StatusForbidden || typ != "MissingAuthenticationTokenException" {
				t.Errorf("%s %s: %d %s, want 403 MissingAuthenticationTokenException", other, path, resp.StatusCode, typ)
			}
		})
	}
	for _, u := range []struct{ api, method, path string }{
		{"connect", "POST", "/contact/nothing-here"},
		{"connect", "GET", "/instance/" + ts.InstanceID + "/queues"},
		{"connect", "GET", "/contact/attributes/" + ts.InstanceID},
		{"participant", "POST", "/participant/nothing-here"},
		{"participant", "GET", "/participant/message"},
	} {
		resp, body := call(u.api, u.method, u.path)
		if typ := typed(t, resp, body); resp.StatusCode != http.StatusForbidden || typ != "MissingAuthenticationTokenException" {
			t.Errorf("%s %s: %d %s, want 403 MissingAuthenticationTokenException", u.method, u.path, resp.StatusCode, typ)
		}
	}

	// The official client decodes them: a typed exception where the model
	// has one, and the code otherwise.
	cc := ts.connectClient()
	_, err := cc.MonitorContact(context.Background(), &connect.MonitorContactInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(chat.ContactID), UserId: aws.String("u")})
	var notFound *ctypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("MonitorContact of an unknown user: %v, want ResourceNotFoundException", err)
	}
	_, err = connectClientWith(ts.URL+"/nowhere", testAKID, testSecret).DescribeContact(context.Background(),
		&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)})
	assertAPIError(t, "unknown route", err, "MissingAuthenticationTokenException", http.StatusForbidden)
}
