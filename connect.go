package parley

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// StartChat starts a chat through the Connect API (StartChatContact) and
// returns the customer's details, ready for NewSession. The client is
// aws-sdk-go-v2's, with the instance's credentials; for Parley, set its
// BaseEndpoint to the server.
func StartChat(ctx context.Context, c *connect.Client, in *connect.StartChatContactInput) (Details, error) {
	out, err := c.StartChatContact(ctx, in)
	if err != nil {
		return Details{}, err
	}
	if out.ContactId == nil || out.ParticipantId == nil || out.ParticipantToken == nil {
		return Details{}, errors.New("parley: StartChatContact returned no participant")
	}
	return Details{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}, nil
}

// JoinChat adds a participant to a chat through the Connect API
// (CreateParticipant): types.ParticipantRoleCustomBot on Amazon Connect, and
// also types.ParticipantRoleAgent on Parley, which is how an agent joins.
func JoinChat(ctx context.Context, c *connect.Client, instanceID, contactID string, role types.ParticipantRole, displayName string) (Details, error) {
	in := &connect.CreateParticipantInput{
		InstanceId: aws.String(instanceID), ContactId: aws.String(contactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: role},
	}
	if displayName != "" {
		in.ParticipantDetails.DisplayName = aws.String(displayName)
	}
	out, err := c.CreateParticipant(ctx, in)
	if err != nil {
		return Details{}, err
	}
	if out.ParticipantId == nil || out.ParticipantCredentials == nil || out.ParticipantCredentials.ParticipantToken == nil {
		return Details{}, errors.New("parley: CreateParticipant returned no participant")
	}
	return Details{ContactID: contactID, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantCredentials.ParticipantToken}, nil
}
