// Package store defines Parley's data model and the interface every storage
// backend implements. The chat domain decides what to write; a backend only
// stores it, durably, and reports what it committed in commit order.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"time"
)

// Contact states.
const (
	ContactQueued    = "QUEUED"
	ContactConnected = "CONNECTED"
	ContactEnded     = "ENDED"
)

// Contact is one chat.
type Contact struct {
	ID               string
	InstanceID       string
	InitialContactID string
	FlowID           string
	QueueID          string
	State            string
	Attributes       map[string]string // set through the Connect API
	// CustomerAttributes are what a browser supplied through the widget:
	// unverified, and never mixed with Attributes.
	CustomerAttributes map[string]string
	ContentTypes       []string // SupportedMessagingContentTypes
	AgentID            string   // the first agent participant to join
	CreatedAt          time.Time
	ConnectedAt        time.Time // zero until an agent joins
	EndedAt            time.Time // zero while the chat lives
	Deadline           time.Time // when ChatDurationInMinutes runs out
	// ConnectBy is when the chat ends unless its customer has created a
	// participant connection by then (zero: it has, or no such rule).
	ConnectBy        time.Time
	DisconnectReason string
	Timers           map[string]ParticipantTimers // by role, from UpdateParticipantRoleConfig
	// PendingTimers are timers set while an agent or a custom bot was
	// with the customer (see SetTimers.PendingWhile): stored, not applied
	// until the next one joins (Change.PromoteTimers). nil: none pending;
	// an empty map: a pending configuration with no timer.
	PendingTimers map[string]ParticipantTimers
	// RelatedContactID is the contact this one was started in relation to
	// (StartChatContact's RelatedContactId), or the one a persistent chat
	// rehydrated from, as Connect sets it.
	RelatedContactID string
	// ContinuedFromID is the ended contact whose transcript a persistent
	// chat continues ("" if none); RehydrationType is how it was chosen.
	// A contact is continued from at most once.
	ContinuedFromID string
	RehydrationType string
	// RehydrationAnnounced is set once the chat.rehydrated event went out.
	RehydrationAnnounced bool
	// TransferTo is the console agent a queued chat is being transferred
	// to: only that agent may accept it.
	TransferTo string
	// CustomerID and SegmentAttributes are StartChatContact's CustomerId
	// and SegmentAttributes, kept as given for DescribeContact.
	CustomerID        string
	SegmentAttributes map[string]SegmentAttributeValue
	// UpdatedAt is when the contact last changed other than by starting,
	// connecting to an agent or ending (an attribute update, a transfer
	// back to the queue, a persistent chat association); zero if it has
	// not. LastUpdate takes it into account.
	UpdatedAt time.Time
	// RequeuedAt is when a transfer last put the contact back in the queue
	// (zero: never); see EnqueuedAt.
	RequeuedAt time.Time
}

// EnqueuedAt is when the contact was last added to the queue, for
// DescribeContact's QueueInfo.EnqueueTimestamp: its start, or the transfer
// that last put it back.
func (c *Contact) EnqueuedAt() time.Time {
	if c.RequeuedAt.IsZero() {
		return c.CreatedAt
	}
	return c.RequeuedAt
}

// LastUpdate is when the contact last changed: DescribeContact's
// LastUpdateTimestamp, which Connect moves for UpdateContactAttributes as
// well ("use the LastUpdateTimestamp attribute to determine whether a copy
// contains newer data", contact records data model).
func (c *Contact) LastUpdate() time.Time {
	last := c.CreatedAt
	for _, t := range []time.Time{c.ConnectedAt, c.EndedAt, c.UpdatedAt} {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// SegmentAttributeValue is Connect's SegmentAttributeValue: any of its
// members may be set. Pointers keep an empty string or a zero apart from
// an absent member.
type SegmentAttributeValue struct {
	ValueString  *string                          `json:",omitempty"`
	ValueMap     map[string]SegmentAttributeValue `json:",omitempty"`
	ValueInteger *int32                           `json:",omitempty"`
	ValueList    []SegmentAttributeValue          `json:",omitempty"`
	ValueArn     *string                          `json:",omitempty"`
}

// ParticipantTimers are the idle and auto-disconnect timeouts of a role.
type ParticipantTimers struct {
	IdleMinutes       int `json:"idle,omitempty"`
	DisconnectMinutes int `json:"disconnect,omitempty"`
}

// Ended reports whether the chat is over, by state or by its deadline.
func (c *Contact) Ended(now time.Time) bool {
	return c.State == ContactEnded || !now.Before(c.Deadline)
}

// Participant states.
const (
	ParticipantJoined = "JOINED"
	ParticipantLeft   = "LEFT"
)

// Participant is a member of a chat.
type Participant struct {
	ID          string
	ContactID   string
	Role        string // CUSTOMER, AGENT, CUSTOM_BOT, SYSTEM
	DisplayName string
	TokenHash   string // hash of the ParticipantToken
	State       string
	Connected   bool // acknowledged with ConnectParticipant
	JoinedAt    time.Time
	LeftAt      time.Time
	AgentID     string // the console agent an AGENT or SUPERVISOR participant is, if any
	// MonitorCapabilities are a SUPERVISOR's (MonitorContact's
	// AllowedMonitorCapabilities: SILENT_MONITOR, BARGE); Barged is set once
	// it barged in, after which it may send.
	MonitorCapabilities []string
	Barged              bool
	// The participant timers' state, kept in the store so that it outlives
	// the process: Idle since the idle timeout ran out; IdleAt, when it
	// will (zero: no idle timer runs); DisconnectAt, when an idle
	// participant is auto-disconnected (zero: never).
	Idle         bool
	IdleAt       time.Time
	DisconnectAt time.Time
}

// Expect is what a change was decided from: a participant JOINED in
// ContactID, with this timer state (Participant.Idle, IdleAt,
// DisconnectAt), in a contact whose timers for the participant's role are
// Timers.
type Expect struct {
	ParticipantID string
	ContactID     string
	Idle          bool
	IdleAt        time.Time
	DisconnectAt  time.Time
	Timers        ParticipantTimers
}

// Clock sets a participant's idle state and deadlines (Participant.Idle,
// IdleAt, DisconnectAt), and releases any claim on them.
type Clock struct {
	ParticipantID string
	Idle          bool
	IdleAt        time.Time
	DisconnectAt  time.Time
	// Conditional fails the change with ErrConflict unless the participant
	// is still JOINED with the deadlines IfIdleAt and IfDisconnectAt: what
	// a sweeper read when it claimed them. So two sweepers acting on the
	// same deadline cannot both take effect.
	Conditional    bool
	IfIdleAt       time.Time
	IfDisconnectAt time.Time
}

// Kinds of Due.
const (
	DueExpiry     = "expiry"     // a chat's Deadline (ChatDurationInMinutes) passed
	DueIdle       = "idle"       // a participant's IdleAt passed
	DueDisconnect = "disconnect" // an idle participant's DisconnectAt passed
	DueConnectBy  = "connect-by" // a chat's ConnectBy passed
)

// Due is a deadline that has passed, as ClaimDue returns it.
type Due struct {
	Kind          string
	ContactID     string
	ParticipantID string // DueIdle and DueDisconnect
	At            time.Time
}

// Agent is a person who signs in to the agent console.
type Agent struct {
	ID        string
	Name      string
	KeyHash   string
	CreatedAt time.Time
	Status    string // AgentAway, or AgentAvailable ("" until first set: available)
}

// Agent statuses, as CCP's: an AWAY agent is offered no chats.
const (
	AgentAvailable = "AVAILABLE"
	AgentAway      = "AWAY"
)

// AgentStatus sets a console agent's status.
type AgentStatus struct {
	AgentID string
	Status  string
}

// Canned is a canned response of an instance, which agents insert in the
// console by its shortcut.
type Canned struct {
	ID         string
	InstanceID string
	Shortcut   string
	Text       string
	CreatedAt  time.Time
}

// CannedKey names a canned response of an instance.
type CannedKey struct {
	InstanceID string
	ID         string
}

// AgentMessage is a message found by SearchAgentMessages, with the name
// of its chat's customer.
type AgentMessage struct {
	Item     Item
	Customer string
}

// ConnectionToken is a stored (hashed) ConnectionToken.
type ConnectionToken struct {
	Hash          string
	ParticipantID string
	Expires       time.Time
}

// Attachment is one file of an ATTACHMENT item.
type Attachment struct {
	ID          string
	Name        string
	ContentType string
	Status      string // APPROVED, REJECTED, IN_PROGRESS
}

// Receipt records when a participant was delivered or read a message.
type Receipt struct {
	MessageID   string
	ContactID   string
	RecipientID string
	Delivered   time.Time
	Read        time.Time
}

// Item is one entry of a chat: a message, an event, an attachment or a
// receipt. An item is identified by (ContactID, Seq). Seq and Time are
// assigned by the store in the committing transaction, under the chat's
// row: a chat's seqs are 1, 2, 3… without gaps, in commit order, and its
// item times never decrease. There is no order between chats.
type Item struct {
	Seq           int64 // position in the chat
	ID            string
	ContactID     string
	ParticipantID string
	ClientToken   string // "" when the request had none
	Type          string
	ContentType   string
	Content       string
	DisplayName   string
	Role          string
	Time          time.Time
	// InTranscript is false for typing, receipts and other ephemeral
	// events: the commit hook delivers them whole, but a backend stores
	// them without their Content, and Prune deletes them after a while
	// (they are kept only so that a retry of their request is answered).
	InTranscript bool
	Attachments  []Attachment // ATTACHMENT items
	Receipts     []Receipt    // MESSAGEMETADATA items: the receipts they announce
	MessageID    string       // MESSAGEMETADATA items: the message they are about
}

// File states.
const (
	FilePending = "PENDING"
	// FileReceiving: a server is receiving the bytes PUT to the upload URL.
	// Moving a file here from PENDING is the claim on its upload, so that
	// two servers never receive one file at once.
	FileReceiving  = "RECEIVING"
	FileUploaded   = "UPLOADED"
	FileInProgress = "IN_PROGRESS"
	FileApproved   = "APPROVED"
	FileRejected   = "REJECTED"
	FileDeleted    = "DELETED"
)

// File is an attachment's upload: its declared name, type and size, where
// it is in its checks, and the verdict.
type File struct {
	ID            string
	ContactID     string
	ParticipantID string
	Name          string
	ContentType   string // as declared
	Size          int64
	State         string
	SHA256        string // hex, once uploaded
	ServeType     string // the content type downloads are served with
	Reason        string // why it was rejected
	ItemID        string // the ATTACHMENT item announcing it
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// FileUpdate moves a file from one state to another; it fails with
// ErrConflict if the file is no longer in From.
type FileUpdate struct {
	ID, From, To string
	SHA256       string
	ServeType    string
	Reason       string
	ItemID       string
	At           time.Time
	// LeaseUntil, if set, is the new lease on the file's check (see
	// ClaimFiles): the process that moves a file to IN_PROGRESS checks it.
	// On a file moved to RECEIVING it is the receiver's lease.
	LeaseUntil time.Time
	// Receiver is the file's new receiver: the PUT that claims it, with To
	// RECEIVING. Any other update clears it, and a file that leaves
	// RECEIVING without a LeaseUntil loses the receiver's lease.
	Receiver string
	// IfReceiver, if set, applies the update only while the file's
	// receiver is this one: a PUT whose claim was taken over has none.
	IfReceiver string
	// IfLeaseEnded applies the update only if the file's lease ended by
	// At: a RECEIVING file whose receiver's lease ran out (its node died)
	// may be taken over, one being received may not.
	IfLeaseEnded bool
}

// FilesConfig is an instance's attachment limits for one scope.
type FilesConfig struct {
	InstanceID string
	Scope      string
	MaxBytes   int64
	Extensions []string
	ModifiedAt time.Time
}

// Idempotency is a stored first result of a request made with a ClientToken.
type Idempotency struct {
	Scope       string // what the token is unique within, e.g. the instance
	ClientToken string
	Response    []byte // sealed by the domain when it holds a bearer token
	ContactID   string // the contact the request concerned, so that erasure finds it
}

// Change is everything one domain operation writes, applied atomically.
type Change struct {
	// RequireActive names a contact that must not have ended; otherwise the
	// change fails with ErrEnded. Checked inside the transaction.
	RequireActive string
	// Expect fails the change with ErrStale unless the participant is as
	// the caller saw it, which may have been in a cache that other
	// processes' writes made stale. Checked inside the transaction, before
	// anything is written.
	Expect *Expect
	// Idempotency is inserted; if the key exists the change fails with
	// ErrDuplicate.
	Idempotency *Idempotency

	NewContact      *Contact
	NewParticipants []Participant
	// ConnectAgent moves a queued contact to CONNECTED with this agent.
	ConnectAgent *ConnectAgent
	// Acknowledge marks participants as connected (ConnectParticipant).
	Acknowledge []string
	// Subscribed names a contact whose customer has created a participant
	// connection: its ConnectBy is cleared.
	Subscribed string
	// Leave marks participants as having left.
	Leave    []Leave
	Tokens   []ConnectionToken
	Items    []Item
	Receipts []Receipt
	// End ends a contact; it fails with ErrEnded if it has ended already.
	End *End
	// Timers replaces a contact's participant timers, or stores them as
	// pending (see SetTimers).
	Timers *SetTimers
	// PromoteTimers applies a contact's pending timers (see PromoteTimers).
	PromoteTimers *PromoteTimers
	// Clocks set participants' timer state (see Clock); applied before
	// Leave. End clears the deadlines of the ended contact's participants.
	Clocks []Clock
	// NewFile records an attachment whose upload starts.
	NewFile *File
	// FileUpdates move files between states, conditionally.
	FileUpdates []FileUpdate
	// ItemUpdates replace the attachments and content of existing items (a
	// verdict updating the transcript's ATTACHMENT item).
	ItemUpdates map[string]ItemUpdate
	// FilesConfig replaces an instance's attachment limits.
	FilesConfig *FilesConfig
	// NewAgent adds a console agent; a taken name fails with ErrDuplicate.
	NewAgent *Agent

	// Erase deletes everything stored of a contact (its items, receipts,
	// files' records, participants, tokens and idempotency records, and the
	// contact itself) and leaves a Tombstone. A contact that does not exist
	// fails with ErrNotFound, unless it was erased already: then the change
	// succeeds and keeps the first tombstone.
	Erase *Tombstone

	// Limits are checked in the transaction that commits the change, after
	// its writes: if any count then exceeds its maximum, the whole change
	// fails with a *LimitError (errors.Is ErrLimit) and writes nothing.
	// Checks made before Apply race with concurrent changes; these do not.
	Limits []Limit
	// RemoveAgent deletes the console agent of this name; none fails with
	// ErrNotFound.
	RemoveAgent string
	// AgentKey replaces a console agent's key; no such agent fails with
	// ErrNotFound.
	AgentKey *AgentKey
	// QueueCeiling fails the change with ErrQueueFull when as many contacts
	// of its flow are queued already; checked before NewContact is added.
	QueueCeiling *QueueCeiling
	// Attributes merges attributes into a contact's, ended or not
	// (UpdateContactAttributes). Inside the transaction the backend reads the
	// contact's attributes, sets every key of Set (keys not in Set keep
	// their values), and stores the result; if the result's keys and values
	// total more than MaxBytes UTF-8 bytes the change fails with
	// ErrTooLarge, and an unknown contact fails it with ErrNotFound. The
	// contact's UpdatedAt moves to the update's At.
	Attributes *MergeAttributes
	// AgentStatus sets a console agent's status; no such agent fails
	// with ErrNotFound.
	AgentStatus *AgentStatus
	// NewCanned adds a canned response; a shortcut the instance has
	// already fails with ErrDuplicate.
	NewCanned *Canned
	// RemoveCanned deletes a canned response; none fails with ErrNotFound.
	RemoveCanned *CannedKey
	// RequireNoJoined fails the change with ErrConflict if the contact has
	// a joined participant (state JOINED) in one of the roles. Checked
	// inside the transaction, before anything is written.
	RequireNoJoined *RoleCheck
	// Persist makes a live contact a persistent chat continuing an ended
	// one (CreatePersistentContactAssociation). It fails with ErrConflict
	// if the contact continues one already, or if another contact
	// continues the source already; an unknown contact fails it with
	// ErrNotFound. NewContact with ContinuedFromID set is checked the same
	// way: a source is continued at most once.
	Persist *Persist
	// Barge marks a SUPERVISOR participant as barged in; it fails with
	// ErrConflict unless the participant is joined and has not barged yet.
	Barge string
	// ParticipantToken replaces a participant's token hash (the console
	// hands a supervisor the token of the participant MonitorContact made).
	ParticipantToken *ParticipantToken
	// StartStream adds a message stream to a contact: from this change on,
	// every item committed for the contact is queued for it, in the same
	// transaction, in commit order (see Delivery).
	StartStream *Stream
	// StopStream stops a contact's stream; an unknown one fails with
	// ErrNotFound, a stopped one succeeds. Its queued deliveries remain.
	StopStream *StopStream
	// DeliveriesDone removes delivered (or abandoned) deliveries.
	DeliveriesDone []int64
	// DeliveryRetries reschedule deliveries that failed.
	DeliveryRetries []DeliveryRetry
	// Requeue puts a connected contact back in the queue (a transfer): it
	// fails with ErrConflict unless the contact is CONNECTED.
	Requeue *Requeue
	// AnnounceRehydration marks the contact's chat.rehydrated event as
	// sent; if it was sent already the change fails with ErrConflict.
	AnnounceRehydration string
}

// Stream is a contact's message stream to an endpoint (an SNS topic ARN).
type Stream struct {
	ID          string
	ContactID   string
	EndpointARN string
	StartedAt   time.Time
	StoppedAt   time.Time // zero while it streams
}

// StopStream stops a stream.
type StopStream struct {
	ContactID, StreamID string
	At                  time.Time
}

// Delivery is an item a stream must still deliver. A backend queues one
// per item and active stream of the item's contact in the transaction
// that commits the item, and keeps it until DeliveriesDone names it, so
// that delivery is at least once across crashes.
type Delivery struct {
	ID          int64 // rises in commit order among a contact's deliveries (a backend with concurrent writers assigns it under the contact's lock)
	StreamID    string
	ContactID   string
	EndpointARN string
	Item        Item
	Attempts    int
	NextAt      time.Time // not before
	CreatedAt   time.Time
}

// DeliveryRetry schedules a delivery's next attempt.
type DeliveryRetry struct {
	ID       int64
	Attempts int
	NextAt   time.Time
}

// ParticipantToken is a participant's new token.
type ParticipantToken struct {
	ParticipantID string
	TokenHash     string
}

// Requeue is a contact going back to the queue, for any agent or, with
// TransferTo, for one console agent.
type Requeue struct {
	ContactID  string
	TransferTo string
	// At is when it went back: the contact's RequeuedAt, and its UpdatedAt
	// unless that is later already.
	At time.Time
}

// Persist links a contact to the ended contact it continues.
type Persist struct {
	ContactID       string
	SourceID        string
	RehydrationType string
	// At is when: the contact's UpdatedAt becomes At, unless it is later
	// already.
	At time.Time
}

// MergeAttributes is an update of a contact's attributes.
type MergeAttributes struct {
	ContactID string
	Set       map[string]string
	MaxBytes  int
	// At is when the update was made: the contact's UpdatedAt becomes At,
	// unless it is later already.
	At time.Time
}

// RoleCheck names roles that must not be joined in a contact.
type RoleCheck struct {
	ContactID string
	Roles     []string
}

// AttributesSize is how Connect measures attributes against their limit:
// the UTF-8 bytes of every key and value.
func AttributesSize(attrs map[string]string) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(v)
	}
	return n
}

// Tombstone records that a contact was erased, when and why.
type Tombstone struct {
	ContactID string
	At        time.Time
	Reason    string
}

// AgentKey is a console agent's new key.
type AgentKey struct {
	Name    string
	KeyHash string
}

// QueueCeiling bounds the queued contacts of one flow.
type QueueCeiling struct {
	FlowID string
	Max    int
}

// QueueQuery selects a page of the queue, oldest first: the contacts queued
// after the position (CreatedAt, ID), of FlowID if set.
type QueueQuery struct {
	FlowID       string
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// What a Limit counts.
const (
	// CountFiles counts the files of contact Key that were not rejected
	// (as CountFiles does).
	CountFiles = "files"
	// CountParticipants counts the JOINED participants of contact Key.
	CountParticipants = "participants"
	// CountAgentChats counts the JOINED participants whose AgentID is Key,
	// in contacts that have not ENDED, but not SUPERVISOR ones: monitoring
	// takes none of an agent's chats.
	CountAgentChats = "agent-chats"
	// CountAgentAway is 1 while agent Key is AWAY, else 0: a Limit of it
	// with Max 0 lets a change through only while the agent is available.
	CountAgentAway = "agent-away"
)

// Limit bounds how many rows of a kind a change may leave behind. It is
// data, not code, so that every backend checks it the same way inside its
// transaction: SQLite's single writer serialises changes, so counting in
// the transaction is enough; a backend with concurrent writers (PostgreSQL)
// first locks the row Key names (SELECT … FOR UPDATE on contacts for
// CountFiles and CountParticipants, on agents for CountAgentChats and
// CountAgentAway), so that
// two changes under the same limit take turns, then writes, then counts.
type Limit struct {
	Count string // CountFiles, CountParticipants or CountAgentChats
	Key   string // the contact or agent id counted within
	Max   int    // the most there may be once the change is written
}

// LimitError is how a change fails a Limit.
type LimitError struct {
	Limit Limit
	Found int // the count with the change written
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("store: limit of %d %s for %s exceeded (%d)", e.Limit.Max, e.Limit.Count, e.Limit.Key, e.Found)
}

// Is makes errors.Is(err, ErrLimit) true for every LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// SetTimers is a contact's new participant timers. If, in the committing
// transaction, each group of roles in PendingWhile has a JOINED participant
// in the contact, they become its PendingTimers and its Timers stay as
// they are; otherwise they replace its Timers and clear its PendingTimers.
type SetTimers struct {
	ContactID    string
	Timers       map[string]ParticipantTimers
	PendingWhile [][]string
}

// PromoteTimers makes a contact's PendingTimers, if it has any, its Timers
// and clears them, provided that its Timers and PendingTimers are still
// IfTimers and IfPending (what the change was decided from: a nil
// IfPending expects none pending); otherwise the change fails with
// ErrStale.
type PromoteTimers struct {
	ContactID string
	IfTimers  map[string]ParticipantTimers
	IfPending map[string]ParticipantTimers
}

// EncodeTimers is how the backends store a pending timer configuration: ""
// for none, JSON otherwise (an empty configuration is "{}").
func EncodeTimers(t map[string]ParticipantTimers) string {
	if t == nil {
		return ""
	}
	b, _ := json.Marshal(t)
	return string(b)
}

// DecodeTimers reverses EncodeTimers.
func DecodeTimers(s string) (map[string]ParticipantTimers, error) {
	if s == "" {
		return nil, nil
	}
	t := map[string]ParticipantTimers{}
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, err
	}
	return t, nil
}

// Promote is PromoteTimers for a backend that has read, in the committing
// transaction, the contact's timers and pending timers as stored: it
// returns the timers to store (pending is then cleared), or ErrStale.
func (p *PromoteTimers) Promote(timers, pending string) (string, error) {
	t, err := DecodeTimers(timers)
	if err != nil {
		return "", err
	}
	q, err := DecodeTimers(pending)
	if err != nil {
		return "", err
	}
	if !maps.Equal(t, p.IfTimers) || (q == nil) != (p.IfPending == nil) || !maps.Equal(q, p.IfPending) {
		return "", ErrStale
	}
	if q == nil {
		return timers, nil
	}
	return pending, nil
}

// ItemUpdate is the new state of an ATTACHMENT item.
type ItemUpdate struct {
	Attachments []Attachment
	Content     string
}

// ConnectAgent is a contact being accepted by an agent.
type ConnectAgent struct {
	ContactID string
	AgentID   string
	At        time.Time
	// Exclusive fails the change with ErrConflict unless the contact was
	// still queued: two agents accepting at once cannot both have it.
	Exclusive bool
	// Console is the console agent accepting; with Exclusive, a contact
	// being transferred to another console agent fails with ErrConflict.
	Console string
}

// Leave is a participant leaving.
type Leave struct {
	ParticipantID string
	At            time.Time
}

// End is a contact ending.
type End struct {
	ContactID string
	At        time.Time
	Reason    string
	// OnlyQueued ends the contact only if no agent has joined it; otherwise
	// the change fails with ErrConflict.
	OnlyQueued bool
	// OnlyNotConnected ends the contact only if its ConnectBy is still set
	// (its customer has not connected); otherwise the change fails with
	// ErrConflict.
	OnlyNotConnected bool
}

// Errors a backend returns. Backends wrap others with context.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrEnded     = errors.New("store: contact has ended")
	ErrDuplicate = errors.New("store: duplicate client token")
	ErrConflict  = errors.New("store: state changed")
	ErrStale     = errors.New("store: not as expected") // see Change.Expect
	ErrLimit     = errors.New("store: limit exceeded")  // see LimitError
	ErrTooLarge  = errors.New("store: over a size limit")
)

// ErrQueueFull is a change refused by its QueueCeiling.
var ErrQueueFull = errors.New("store: queue is full")

// Store is a storage backend. Apply is durable when it returns nil: the data
// survives a crash of the process and of the machine.
type Store interface {
	// Apply commits c and returns its items as stored (with Seq and Time).
	Apply(ctx context.Context, c *Change) ([]Item, error)

	Contact(ctx context.Context, id string) (Contact, error)
	// ActiveContacts yields every contact that has not ended.
	ActiveContacts(ctx context.Context) iter.Seq2[Contact, error]
	Idempotency(ctx context.Context, scope, clientToken string) ([]byte, error)

	Participant(ctx context.Context, id string) (Participant, error)
	// Session returns a participant and its contact: what every request
	// of the participant reads, in one round trip where the backend can.
	Session(ctx context.Context, participantID string) (Participant, Contact, error)
	ParticipantByToken(ctx context.Context, tokenHash string) (Participant, error)
	Participants(ctx context.Context, contactID string) ([]Participant, error)
	ConnectionToken(ctx context.Context, hash string) (ConnectionToken, error)

	Item(ctx context.Context, contactID, id string) (Item, error)
	ItemByClientToken(ctx context.Context, participantID, clientToken string) (Item, error)
	// Transcript returns up to limit transcript items of a contact starting
	// at seq from (inclusive), newest first when backward.
	Transcript(ctx context.Context, contactID string, from int64, forward bool, limit int) ([]Item, error)
	// ItemsFrom returns up to limit items of a contact, transcript or not,
	// from seq from (inclusive) in seq order: what a follower that missed
	// items reads to fill the gap. Ephemeral items come without their
	// Content, and are pruned after a while.
	ItemsFrom(ctx context.Context, contactID string, from int64, limit int) ([]Item, error)
	// LastSeqs returns the seq of the newest item of each of the given
	// contacts (0 for none; unknown contacts are left out): how a follower
	// finds items its bus lost when no later item shows the gap.
	LastSeqs(ctx context.Context, contactIDs []string) (map[string]int64, error)
	// TranscriptSeqAt returns the seq of the first transcript item at or
	// after t (forward) or the last at or before t (backward).
	TranscriptSeqAt(ctx context.Context, contactID string, t time.Time, forward bool) (int64, error)
	// TranscriptNewest returns the seq of the n-th newest transcript item
	// (1 is the newest), or of the oldest when there are fewer.
	TranscriptNewest(ctx context.Context, contactID string, n int) (int64, error)
	// Receipts returns the receipts of the given messages, by message id.
	Receipts(ctx context.Context, messageIDs []string) (map[string][]Receipt, error)

	File(ctx context.Context, id string) (File, error)
	// CountFiles counts a contact's files that were not rejected.
	CountFiles(ctx context.Context, contactID string) (int, error)
	// UnfinishedFiles yields files uploaded but without a verdict yet.
	UnfinishedFiles(ctx context.Context) ([]File, error)
	// ExpiredFiles returns files not yet DELETED, in any other state, of
	// contacts that ended before endedBefore.
	ExpiredFiles(ctx context.Context, endedBefore time.Time, limit int) ([]File, error)
	// AbandonedFiles returns PENDING, RECEIVING and UPLOADED files created
	// before createdBefore: uploads never completed.
	AbandonedFiles(ctx context.Context, createdBefore time.Time, limit int) ([]File, error)
	FilesConfig(ctx context.Context, instanceID, scope string) (FilesConfig, error)
	// Scrub makes deleted data unreadable from the backend's files as far
	// as it can (old page versions, dead rows); erasure calls it.
	Scrub(ctx context.Context) error
	// Tombstone returns the record of an erased contact, or ErrNotFound.
	Tombstone(ctx context.Context, contactID string) (Tombstone, error)
	// Files returns a contact's files in every state, oldest first.
	Files(ctx context.Context, contactID string) ([]File, error)
	// EndedContacts returns the ids of the contacts that ended at or after
	// after and before before, in the order they ended.
	EndedContacts(ctx context.Context, after, before time.Time) ([]string, error)

	AgentByKey(ctx context.Context, keyHash string) (Agent, error)
	// Agents returns every console agent, by name.
	Agents(ctx context.Context) ([]Agent, error)
	// QueuedContacts returns a page of the contacts waiting for an agent,
	// oldest first.
	QueuedContacts(ctx context.Context, q QueueQuery) ([]Contact, error)
	// CountQueued counts the contacts waiting for an agent, of flowID if set.
	CountQueued(ctx context.Context, flowID string) (int, error)
	// AgentParticipants returns the joined participants of an agent in
	// chats that have not ended.
	AgentParticipants(ctx context.Context, agentID string) ([]Participant, error)
	// CannedResponses returns an instance's canned responses, by shortcut.
	CannedResponses(ctx context.Context, instanceID string) ([]Canned, error)
	// ContactsWithAttribute returns up to limit contacts whose Attributes
	// (set through the Connect API, never CustomerAttributes) hold key =
	// value, newest first.
	ContactsWithAttribute(ctx context.Context, key, value string, limit int) ([]Contact, error)
	// SearchAgentMessages returns up to limit transcript MESSAGE items
	// whose content holds text (case-insensitively for ASCII), of the
	// chats the agent was in, newest first.
	SearchAgentMessages(ctx context.Context, agentID, text string, limit int) ([]AgentMessage, error)

	// ClaimDue claims up to limit deadlines that passed at now (chats not
	// ended whose Deadline or ConnectBy passed; JOINED participants whose
	// IdleAt or DisconnectAt passed) and that no claim holds, and holds them until
	// now+lease: until then no other ClaimDue, in this process or another,
	// returns them. A claim whose effect is not applied by then (its
	// process died) is returned again. The effect itself is a conditional
	// Change (End, or a Conditional Clock), so it takes effect once however
	// often a deadline is claimed. On PostgreSQL the rows are claimed with
	// SELECT … FOR UPDATE SKIP LOCKED; on SQLite through the single writer.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Due, error)
	// ClaimFiles claims up to limit IN_PROGRESS files whose check's lease
	// ran out (its process died or stopped), leasing them until now+lease,
	// as ClaimDue claims deadlines. The verdict is a FileUpdate from
	// IN_PROGRESS, so it is recorded once.
	ClaimFiles(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]File, error)
	// Streams returns a contact's streams, active and stopped, oldest first.
	Streams(ctx context.Context, contactID string) ([]Stream, error)
	// Deliveries returns up to limit queued deliveries, by ID (so each
	// stream's in commit order).
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)

	// Prune deletes what no request needs any more, at most p.Limit rows
	// of each kind, and reports how many rows it deleted in all.
	Prune(ctx context.Context, p Prune) (int, error)

	Close() error
}

// Prune is what Store.Prune deletes; a zero time deletes nothing of its kind.
type Prune struct {
	TokensExpiredBefore time.Time // connection tokens that expired before
	IdempotencyBefore   time.Time // idempotency records created before
	EphemeralBefore     time.Time // items not in the transcript committed before
	Limit               int
}

// CommitHook is called by a backend after each commit with the items it
// committed, in commit order, one call at a time.
type CommitHook func(items []Item)

// CommitObserver is told of each batch a backend commits: how many changes
// and items it held, how long the whole transaction took, and how long its
// commit (the log write and its fsync) took. For the metrics.
type CommitObserver func(changes, items int, total, commit time.Duration)

// CheckExpect is Change.Expect's check for a backend that has read the
// participant's row (contactID … disconnectAt) and its contact's timers
// (as stored: JSON of Contact.Timers, or ""). It returns ErrStale or nil.
func CheckExpect(e *Expect, contactID, role, state string, idle bool, idleAt, disconnectAt time.Time, timers string) error {
	// Stores keep milliseconds; a cache may hold what was written, finer.
	msOf := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	if contactID != e.ContactID || state != ParticipantJoined || idle != e.Idle ||
		msOf(idleAt) != msOf(e.IdleAt) || msOf(disconnectAt) != msOf(e.DisconnectAt) {
		return ErrStale
	}
	var t map[string]ParticipantTimers
	if timers != "" {
		if err := json.Unmarshal([]byte(timers), &t); err != nil {
			return err
		}
	}
	if t[role] != e.Timers {
		return ErrStale
	}
	return nil
}
