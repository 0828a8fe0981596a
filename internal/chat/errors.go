package chat

import (
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/store"
)

// Kind classifies a domain error; each API maps kinds to its own exception
// shapes (the participant API's AccessDeniedException, Connect's
// ResourceNotFoundException, …).
type Kind int

const (
	Invalid       Kind = iota + 1 // the request breaks a rule of the chat
	NotFound                      // an instance, contact or item that does not exist
	AccessDenied                  // bad or expired token, or a participant who has left
	Ended                         // the chat has ended
	Conflict                      // the request conflicts with the chat's state
	QuotaExceeded                 // a per-chat limit is reached
	// Mismatch: the request's ClientToken is that of an earlier request
	// for another contact (or user, or endpoint).
	Mismatch
)

// Error is a domain error with a message fit for the API caller.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or 0 for an unexpected error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

var (
	errAccessDenied = errorf(AccessDenied, "You do not have sufficient access to perform this action.")
	errChatEnded    = errorf(Ended, "The chat has ended.")
	// errParticipantEnded is how the participant API answers a participant
	// whose chat ended: AccessDenied, as on Connect.
	errParticipantEnded = errorf(AccessDenied, "The chat has ended.")
	errLeft             = errorf(AccessDenied, "The participant has left the chat.")

	errParticipantQuota = errorf(QuotaExceeded, "The chat already has %d participants.", MaxParticipants)
	errAgentQuota       = errorf(QuotaExceeded, "An agent can hold at most %d chats at once.", MaxAgentChats)
	errFileQuota        = errorf(QuotaExceeded, "A chat can have at most %d attachments.", attach.MaxPerChat)
)

// limitError is the domain error for a store.Limit a change exceeded.
func limitError(err error) error {
	var le *store.LimitError
	if !errors.As(err, &le) {
		return err
	}
	switch le.Limit.Count {
	case store.CountParticipants:
		return errParticipantQuota
	case store.CountAgentChats:
		return errAgentQuota
	case store.CountAgentAway:
		return errAway
	case store.CountFiles:
		return errFileQuota
	}
	return err
}
