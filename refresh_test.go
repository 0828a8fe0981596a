package parley

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
)

// TestConnectionTokenRefresh: with connection tokens that live 65 s, a
// session gets a new one a minute before expiry, on the same socket, and
// goes on working with it.
func TestConnectionTokenRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a refresh")
	}
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": t.TempDir(), "PARLEY_INSTANCE_ID": "i",
		"PARLEY_ACCESS_KEY_ID": "K", "PARLEY_SECRET_ACCESS_KEY": "S", "PARLEY_CONNECTION_TTL": "65s"}
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
	ctx := context.Background()
	cc := connect.New(connect.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), Credentials: credentials.NewStaticCredentialsProvider("K", "S", "")})
	out, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String("i"), ContactFlowId: aws.String("f"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")}})
	if err != nil {
		t.Fatal(err)
	}
	d := Details{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}
	s := NewSession(d, Options{Endpoint: srv.URL()})
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := s.connectionToken()
	deadline := time.Now().Add(20 * time.Second)
	for s.connectionToken() == first {
		if time.Now().After(deadline) {
			t.Fatal("no refresh within 20 s of a token that expires in 65 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := s.SendText(ctx, "after the refresh"); err != nil {
		t.Fatal(err)
	}
	for e := range s.Events() {
		if _, lost := e.(*ConnectionLost); lost {
			t.Fatal("the refresh dropped the socket")
		}
		if m, ok := e.(*Message); ok && m.Content == "after the refresh" {
			return // delivered on the same socket
		}
	}
}
