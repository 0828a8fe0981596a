package connectapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/sigv4"
)

// TestUnreadableBodyErrorDeclared: a body that cannot be read (here, one
// past awswire.MaxBodyBytes) is refused with a 400 that the operation's
// model declares, so that the SDKs return it typed: InvalidParameterException
// where the operation has it, else InvalidRequestException (its errors
// lists in shared/spec/connect-2017-08-08.chat-subset.json).
func TestUnreadableBodyErrorDeclared(t *testing.T) {
	v := &sigv4.Verifier{Service: "connect", Secret: func(id string) (string, bool) { return "s3cret", id == "AKID" }}
	mux := http.NewServeMux()
	New(Config{Verifier: v}, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(mux)
	for _, tt := range []struct{ op, method, path, want string }{
		{"StartChatContact", "PUT", "/contact/chat", "InvalidParameterException"},
		{"StopContact", "POST", "/contact/stop", "InvalidParameterException"},
		{"CreateParticipant", "POST", "/contact/create-participant", "InvalidRequestException"},
		{"MonitorContact", "POST", "/contact/monitor", "InvalidRequestException"},
		{"TransferContact", "POST", "/contact/transfer", "InvalidRequestException"},
		{"GetContactAttributes", "GET", "/contact/attributes/i/c", "InvalidRequestException"},
		{"UpdateContactAttributes", "POST", "/contact/attributes", "InvalidParameterException"},
		{"UpdateAttachedFilesConfiguration", "POST", "/attached-files-configurations/i/CHAT", "InvalidParameterException"},
	} {
		t.Run(tt.op, func(t *testing.T) {
			body := strings.Repeat(" ", awswire.MaxBodyBytes+1)
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(body))
			r.Host = "127.0.0.1:8080"
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s3cret"},
				r, "UNSIGNED", "connect", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if got := w.Header().Get("X-Amzn-ErrorType"); w.Code != http.StatusBadRequest || got != tt.want {
				t.Errorf("%s with an unreadable body = %d %s, want 400 %s", tt.op, w.Code, got, tt.want)
			}
		})
	}
}
