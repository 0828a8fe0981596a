// Package contact is the Connect API side of a chat for Go programs:
// starting chats, joining them, and the operations around them
// (persistent chat, supervisors, message streaming), through
// aws-sdk-go-v2's Connect client. It returns parley.Details for
// parley.NewSession; a program that only takes part in chats needs the
// parley package alone, without the Connect SDK.
package contact

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley"
)

// Start starts a chat through the Connect API (StartChatContact) and
// returns the customer's details, ready for parley.NewSession. The client
// is aws-sdk-go-v2's, with the instance's credentials; for Parley, set its
// BaseEndpoint to the server.
func Start(ctx context.Context, c *connect.Client, in *connect.StartChatContactInput) (parley.Details, error) {
	out, err := c.StartChatContact(ctx, in)
	if err != nil {
		return parley.Details{}, err
	}
	if out.ContactId == nil || out.ParticipantId == nil || out.ParticipantToken == nil {
		return parley.Details{}, errors.New("contact: StartChatContact returned no participant")
	}
	return parley.Details{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}, nil
}

// JoinInput is a participant joining a chat.
type JoinInput struct {
	InstanceID  string
	ContactID   string
	Role        types.ParticipantRole // CUSTOM_BOT; on Parley also AGENT
	DisplayName string
}

// Join adds a participant to a chat through the Connect API
// (CreateParticipant): types.ParticipantRoleCustomBot on Amazon Connect, and
// also types.ParticipantRoleAgent on Parley, which is how an agent joins.
func Join(ctx context.Context, c *connect.Client, in *JoinInput) (parley.Details, error) {
	req := &connect.CreateParticipantInput{
		InstanceId: aws.String(in.InstanceID), ContactId: aws.String(in.ContactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: in.Role},
	}
	if in.DisplayName != "" {
		req.ParticipantDetails.DisplayName = aws.String(in.DisplayName)
	}
	out, err := c.CreateParticipant(ctx, req)
	if err != nil {
		return parley.Details{}, err
	}
	if out.ParticipantId == nil || out.ParticipantCredentials == nil || out.ParticipantCredentials.ParticipantToken == nil {
		return parley.Details{}, errors.New("contact: CreateParticipant returned no participant")
	}
	return parley.Details{ContactID: in.ContactID, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantCredentials.ParticipantToken}, nil
}

// ContinueInput starts a persistent chat: a new chat carrying an ended
// one's transcript.
type ContinueInput struct {
	// Start is the new chat; its PersistentChat is set from the fields below.
	Start *connect.StartChatContactInput
	// SourceContactID is the ended chat; with EntirePastSession, the
	// initial contact of its session.
	SourceContactID   string
	EntirePastSession bool
}

// Continue starts a persistent chat (StartChatContact with PersistentChat)
// and returns the customer's details and the contact it continues.
func Continue(ctx context.Context, c *connect.Client, in *ContinueInput) (parley.Details, string, error) {
	typ := types.RehydrationTypeFromSegment
	if in.EntirePastSession {
		typ = types.RehydrationTypeEntirePastSession
	}
	start := *in.Start
	start.PersistentChat = &types.PersistentChat{RehydrationType: typ, SourceContactId: aws.String(in.SourceContactID)}
	out, err := c.StartChatContact(ctx, &start)
	if err != nil {
		return parley.Details{}, "", err
	}
	if out.ContactId == nil || out.ParticipantId == nil || out.ParticipantToken == nil {
		return parley.Details{}, "", errors.New("contact: StartChatContact returned no participant")
	}
	return parley.Details{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken},
		aws.ToString(out.ContinuedFromContactId), nil
}

// MonitorInput makes a user (on Parley, a console agent's id) a
// supervisor of a chat.
type MonitorInput struct {
	InstanceID, ContactID, UserID string
	// Barge allows the supervisor to barge in, beside silent monitoring.
	Barge bool
}

// Monitor calls MonitorContact.
func Monitor(ctx context.Context, c *connect.Client, in *MonitorInput) error {
	caps := []types.MonitorCapability{types.MonitorCapabilitySilentMonitor}
	if in.Barge {
		caps = append(caps, types.MonitorCapabilityBarge)
	}
	_, err := c.MonitorContact(ctx, &connect.MonitorContactInput{InstanceId: aws.String(in.InstanceID),
		ContactId: aws.String(in.ContactID), UserId: aws.String(in.UserID), AllowedMonitorCapabilities: caps})
	return err
}

// StartStreaming streams a chat to an SNS topic (StartContactStreaming)
// and returns the StreamingId.
func StartStreaming(ctx context.Context, c *connect.Client, instanceID, contactID, topicARN string) (string, error) {
	out, err := c.StartContactStreaming(ctx, &connect.StartContactStreamingInput{InstanceId: aws.String(instanceID),
		ContactId: aws.String(contactID), ChatStreamingConfiguration: &types.ChatStreamingConfiguration{StreamingEndpointArn: aws.String(topicARN)}})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.StreamingId), nil
}

// StopStreaming stops a stream (StopContactStreaming).
func StopStreaming(ctx context.Context, c *connect.Client, instanceID, contactID, streamingID string) error {
	_, err := c.StopContactStreaming(ctx, &connect.StopContactStreamingInput{InstanceId: aws.String(instanceID),
		ContactId: aws.String(contactID), StreamingId: aws.String(streamingID)})
	return err
}
