package parley_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley"
	"github.com/parleychat/parley/contact"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
)

// startParley runs a Parley server for the examples and returns its
// endpoint and a Connect API client for it.
func startParley() (endpoint string, connectClient *connect.Client) {
	dir, err := os.MkdirTemp("", "parley-example")
	if err != nil {
		log.Fatal(err)
	}
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": dir, "PARLEY_INSTANCE_ID": "example",
		"PARLEY_ACCESS_KEY_ID": "EXAMPLEKEY", "PARLEY_SECRET_ACCESS_KEY": "example-secret"}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	return srv.URL(), connect.New(connect.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("EXAMPLEKEY", "example-secret", "")})
}

// A customer starts a chat, an agent joins, and they talk.
func Example() {
	endpoint, connectClient := startParley()
	ctx := context.Background()

	customer, err := contact.Start(ctx, connectClient, &connect.StartChatContactInput{
		InstanceId: aws.String("example"), ContactFlowId: aws.String("default"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
	})
	if err != nil {
		log.Fatal(err)
	}
	agent, err := contact.Join(ctx, connectClient, &contact.JoinInput{InstanceID: "example", ContactID: customer.ContactID, Role: types.ParticipantRoleAgent, DisplayName: "Grace"})
	if err != nil {
		log.Fatal(err)
	}

	a := parley.NewSession(agent, parley.Options{Endpoint: endpoint})
	if err := a.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	c := parley.NewSession(customer, parley.Options{Endpoint: endpoint})
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	c.SendText(ctx, "Hello, my parcel is late.")
	for e := range a.Events() {
		switch e := e.(type) {
		case *parley.Message:
			fmt.Printf("%s: %s\n", e.DisplayName, e.Content)
			if e.ParticipantRole == "CUSTOMER" {
				a.SendText(ctx, "Sorry to hear that, let me check.")
			} else {
				c.Disconnect(ctx) // the customer leaves: the chat ends
			}
		case *parley.ChatEnded:
			fmt.Println("chat ended")
		}
	}
	// Output:
	// Ada: Hello, my parcel is late.
	// Grace: Sorry to hear that, let me check.
	// chat ended
}

// Sending a file and downloading it again.
func ExampleSession_SendAttachment() {
	endpoint, connectClient := startParley()
	ctx := context.Background()
	customer, _ := contact.Start(ctx, connectClient, &connect.StartChatContactInput{
		InstanceId: aws.String("example"), ContactFlowId: aws.String("default"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
	})
	s := parley.NewSession(customer, parley.Options{Endpoint: endpoint})
	if err := s.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	csv := "order,amount\n1234,19.99\n"
	sent, err := s.SendAttachment(ctx, &parley.SendAttachmentInput{Name: "orders.csv", ContentType: "text/csv",
		Body: strings.NewReader(csv), Size: int64(len(csv))})
	if err != nil {
		log.Fatal(err)
	}
	id := sent.AttachmentID
	// The verdict on the file arrives as an event.
	for e := range s.Events() {
		if a, ok := e.(*parley.AttachmentEvent); ok && a.Attachment.ID == id && a.Attachment.Status != "IN_PROGRESS" {
			fmt.Println(a.Attachment.Name, a.Attachment.Status)
			break
		}
	}
	body, info, err := s.DownloadAttachment(ctx, id, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	fmt.Printf("%s %s %d bytes, same: %v\n", info.Name, info.ContentType, info.Size, string(b) == csv)
	// Output:
	// orders.csv APPROVED
	// orders.csv text/csv 24 bytes, same: true
}

// Reading the transcript, oldest first, page by page as it is iterated.
func ExampleSession_Transcript() {
	endpoint, connectClient := startParley()
	ctx := context.Background()
	customer, _ := contact.Start(ctx, connectClient, &connect.StartChatContactInput{
		InstanceId: aws.String("example"), ContactFlowId: aws.String("default"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
		InitialMessage:     &types.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("Hi!")},
	})
	s := parley.NewSession(customer, parley.Options{Endpoint: endpoint})
	if err := s.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.SendText(ctx, "Anyone there?")

	for it, err := range s.Transcript(ctx, parley.TranscriptOptions{Ascending: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(strings.TrimSpace(it.Type + " " + it.ContentType + " " + it.Content))
	}
	// Output:
	// EVENT application/vnd.amazonaws.connect.event.participant.joined
	// MESSAGE text/plain Hi!
	// MESSAGE text/plain Anyone there?
}

// Telling typed errors apart.
func ExampleAPIError() {
	endpoint, _ := startParley()
	s := parley.NewSession(parley.Details{ParticipantToken: "not-a-token"}, parley.Options{Endpoint: endpoint})
	err := s.Connect(context.Background())

	var denied *parley.AccessDeniedException
	fmt.Println(errors.As(err, &denied), denied.StatusCode)
	// Output: true 403
}
