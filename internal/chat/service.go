// Package chat is Parley's chat domain: contacts, participants and items, and
// the rules Amazon Connect applies to them. Handlers decode and validate the
// wire shapes and call a Service; the Service decides and hands a
// store.Change to the store.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Config holds what the domain needs to know about its deployment.
type Config struct {
	InstanceID string
	QueueID    string
	// WebsocketURL returns the URL a participant's websocket opens, for a
	// signed socket token.
	WebsocketURL func(token string) string
	// ConnectionTTL is how long a ConnectionToken and websocket URL live.
	ConnectionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often the sweeper looks for due deadlines (chat
	// expiry, idle and auto-disconnect), with up to a fifth more of jitter
	// so that processes spread out; zero means 1 s, negative never (tests
	// call sweep themselves).
	SweepInterval time.Duration
	// ConnectWithin ends a chat whose customer has not created a
	// participant connection this long after the chat started, as Amazon
	// Connect does after 5 minutes; zero never does.
	ConnectWithin time.Duration

	// Blobs holds attachment bytes; nil disables attachments.
	Blobs blob.Store
	// Scanner, if set, scans every attachment for malware.
	Scanner attach.Scanner
	// Limits are the attachment limits while the instance has none stored;
	// zero means Connect's defaults.
	Limits attach.Limits
	// FileURL returns the URL of an attachment's upload or download, for a
	// signed token.
	FileURL func(fileID, token string) string
	// VerdictWait is how long CompleteAttachmentUpload waits for a verdict
	// before announcing the attachment IN_PROGRESS; zero means 1 s.
	VerdictWait time.Duration
	// Retention, if set, deletes attachments this long after their chat ended.
	Retention time.Duration
	// ChatRetention, if set, erases whole chats (items, files, records)
	// this long after they ended, leaving tombstones.
	ChatRetention time.Duration
	// Metrics counts what the domain does; nil counts nothing.
	Metrics *obs.Metrics
	// FreeSpace reports the bytes free where Blobs keeps files; nil, or an
	// error, skips the free-space floor.
	FreeSpace func() (int64, error)
	// MinFreeBytes is the free space uploads must leave: StartUpload and
	// the upload itself are refused (ErrStorageFull) below it.
	MinFreeBytes int64
	// Direct, if set, hands out URLs on the blob store itself (presigned S3
	// URLs, as Amazon Connect does) instead of Parley's own, so that bytes
	// bypass Parley.
	Direct DirectBlobs
	// Streams delivers message streams (StartContactStreaming); nil means
	// no endpoint is configured, and streaming is refused.
	Streams StreamSender
	// AccountID is the account the instance belongs to, as message
	// streams' AccountId attribute names it.
	AccountID string
	// SharedStore: other processes write the store too (PostgreSQL). When
	// false this process owns it, and what it does not hold in memory (an
	// upload being received) no process holds.
	SharedStore bool
	// UploadLease is how long a PUT's claim on an upload holds on a shared
	// store unless its process renews it (every third of it, while the
	// bytes arrive): a retry of the URL on another server takes over an
	// upload whose server died once it ran out. 0 means 30 s.
	UploadLease time.Duration
}

// StreamSender posts a stream's notifications to the endpoint a topic ARN
// maps to.
type StreamSender interface {
	Configured(arn string) bool
	Send(ctx context.Context, arn, id, message string, attrs map[string]string, at time.Time) error
}

// DirectBlobs is a blob store clients read and write directly.
type DirectBlobs interface {
	PresignPut(ctx context.Context, key string, size int64, contentType string, ttl time.Duration) (blob.Presigned, error)
	PresignGet(ctx context.Context, key, disposition, contentType string, ttl time.Duration) (string, error)
	Stat(ctx context.Context, key string) (size int64, contentType string, err error)
}

// Service runs chats.
type Service struct {
	cfg     Config
	store   store.Store
	log     *slog.Logger
	sealer  *secret.Sealer
	sockets *secret.Signer
	pages   *secret.Signer
	files   *secret.Signer

	background context.Context // cancelled when Shutdown begins: loops end
	stop       context.CancelFunc
	// work bounds what Shutdown waits for (attachment checks, sweeps):
	// cancelled when Shutdown's context ends, so that work cut
	// short records nothing and a check is claimed again once its lease runs out.
	work       context.Context
	cancelWork context.CancelFunc
	running    sync.WaitGroup // every goroutine the service starts

	mu         sync.Mutex
	streamWake chan struct{} // a commit may have queued deliveries

	// nextWake is the earliest deadline this process set that is due before
	// the sweeper's next tick; woken tells the sweeper of it.
	nextWake time.Time
	woken    chan struct{}
	// uploading holds the files whose bytes are arriving in this process,
	// so that a retried PUT can take over from a stalled one (claimUpload);
	// across servers the file's RECEIVING state is the claim.
	uploading  map[string]*upload
	checked    checkedContent      // content verdicts taken as uploads arrived
	checks     chan struct{}       // a slot per attachment check running (maxChecks)
	thumbLocks map[string]*keyLock // file id → the lock of its preview's making
	closed     bool
}

// New returns a Service over st. key is the server's master secret.
func New(cfg Config, st store.Store, key secret.Key, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConnectionTTL == 0 {
		cfg.ConnectionTTL = 24 * time.Hour
	}
	if cfg.VerdictWait == 0 {
		cfg.VerdictWait = time.Second
	}
	if cfg.UploadLease == 0 {
		cfg.UploadLease = 30 * time.Second
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = time.Second
	}
	background, stop := context.WithCancel(context.Background())
	work, cancelWork := context.WithCancel(context.Background())
	s := &Service{
		cfg:        cfg,
		store:      st,
		log:        log,
		sealer:     secret.NewSealer(key, "idempotency"),
		sockets:    secret.NewSigner(key, "websocket"),
		pages:      secret.NewSigner(key, "transcript-page"),
		files:      secret.NewSigner(key, "file"),
		background: background,
		stop:       stop,
		work:       work,
		cancelWork: cancelWork,
		woken:      make(chan struct{}, 1),
		uploading:  make(map[string]*upload),
		checks:     make(chan struct{}, maxChecks),
		thumbLocks: make(map[string]*keyLock),
		streamWake: make(chan struct{}, 1),
	}
	return s
}

// Start starts the background loops: the sweeper, whose first sweep ends
// the chats whose duration ran out while no server ran, applies the
// participant timers that passed meanwhile and resumes interrupted
// attachment checks; retention; housekeeping.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.SweepInterval > 0 {
		s.spawn(func() { s.runSweeper(s.background) })
	}
	if s.cfg.Retention > 0 && s.cfg.Blobs != nil {
		s.spawn(func() { s.runRetention(s.background) })
	}
	s.spawn(func() { s.runHousekeeping(s.background) })
	if s.cfg.Streams != nil {
		s.spawn(func() { s.runStreams(s.background) })
	}
	return nil
}

// Close is Shutdown without a deadline: every goroutine the service started
// bounds itself (a check by its verdict timeout, a store write by 30 s).
func (s *Service) Close() { s.Shutdown(context.Background()) }

// Shutdown stops every background loop (the sweeper among them), refuses
// new background work, and waits for the work in flight (attachment
// checks, sweeps) until ctx ends; then it cancels what is left, which records
// nothing more. After it returns the store may be closed.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		s.cancelWork()
		return nil
	case <-ctx.Done():
		s.cancelWork()
		return fmt.Errorf("chat: background work still running at shutdown: %w", ctx.Err())
	}
}

// enter counts one goroutine's work, unless Shutdown has begun. Counting
// under mu, where Shutdown sets closed, keeps Add from racing Wait.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.running.Add(1)
	return true
}

// spawn runs f on a goroutine Shutdown waits for; it reports false, running
// nothing, once Shutdown has begun.
func (s *Service) spawn(f func()) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.running.Done()
		f()
	}()
	return true
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// expire ends a chat whose duration ran out.
func (s *Service) expire(contactID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.end(ctx, contactID, ReasonExpired, nil); err != nil && KindOf(err) != Ended {
		s.log.Error("ending expired chat", "contact", contactID, "err", err)
	}
}

// endedItem is the chat.ended event every way of ending a chat adds, so
// that ChatJS and the widget see the chat end.
func endedItem(contactID string) store.Item {
	return store.Item{ID: secret.NewTimeUUID(), ContactID: contactID, Type: TypeEvent, ContentType: EventChatEnded,
		Role: RoleSystem, InTranscript: true}
}

// end ends a chat, adding a chat.ended item after items.
func (s *Service) end(ctx context.Context, contactID, reason string, items []store.Item) error {
	ch := &store.Change{
		Items: append(items, endedItem(contactID)),
		End:   &store.End{ContactID: contactID, At: s.now(), Reason: reason},
	}
	_, err := s.store.Apply(ctx, ch)
	if errors.Is(err, store.ErrEnded) {
		return errChatEnded
	}
	return err
}

// activeContact loads a contact and reports Ended if it is over, ending it
// now if its duration ran out before its timer fired.
func (s *Service) activeContact(ctx context.Context, id string) (store.Contact, error) {
	c, err := s.store.Contact(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errorf(NotFound, "Contact %s not found.", id)
	}
	if err != nil {
		return c, err
	}
	if c.State == store.ContactEnded {
		return c, errChatEnded
	}
	if c.Ended(s.now()) {
		s.expire(id)
		return c, errChatEnded
	}
	return c, nil
}

// idempotent returns the stored first response for (scope, clientToken) in
// out, reporting whether there was one.
func (s *Service) idempotent(ctx context.Context, scope, clientToken string, out any) (bool, error) {
	if clientToken == "" {
		return false, nil
	}
	sealed, err := s.store.Idempotency(ctx, scope, clientToken)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	plain, err := s.sealer.Open(sealed, []byte(scope+"\x00"+clientToken))
	if err != nil {
		return false, fmt.Errorf("opening idempotency record: %w", err)
	}
	return true, json.Unmarshal(plain, out)
}

// idempotencyRecord seals a first response for (scope, clientToken); it
// names the contact the request concerned, so that erasing it finds it.
func (s *Service) idempotencyRecord(scope, contactID, clientToken string, response any) *store.Idempotency {
	if clientToken == "" {
		return nil
	}
	b, _ := json.Marshal(response)
	return &store.Idempotency{Scope: scope, ClientToken: clientToken, ContactID: contactID,
		Response: s.sealer.Seal(b, []byte(scope+"\x00"+clientToken))}
}

// StartChatInput is a StartChatContact request, already shape-validated.
type StartChatInput struct {
	InstanceID  string
	FlowID      string
	DisplayName string
	Attributes  map[string]string
	// CustomerAttributes are what a browser supplied (the widget), kept
	// apart from Attributes.
	CustomerAttributes map[string]string
	// MaxQueued, if set, refuses the chat with ErrQueueFull when as many
	// chats of its flow wait for an agent already.
	MaxQueued      int
	InitialMessage *Message
	ClientToken    string
	DurationMins   int
	ContentTypes   []string
	// RelatedContactID relates the chat to another contact of the
	// instance, whose attributes it starts with.
	RelatedContactID string
	// Persistent, if set, continues an ended chat (persistent chat).
	Persistent *Persistence
	// CustomerID and SegmentAttributes are kept on the contact as given.
	CustomerID        string
	SegmentAttributes map[string]store.SegmentAttributeValue
}

// Message is a piece of content with its type.
type Message struct {
	ContentType string
	Content     string
}

// StartChatOutput is what StartChatContact returns.
type StartChatOutput struct {
	ContactID        string
	ParticipantID    string
	ParticipantToken string
	// ContinuedFromContactID is the contact a persistent chat continues.
	ContinuedFromContactID string `json:",omitempty"`
}

// StartChat starts a chat with its customer as first participant. The chat
// waits in the instance's queue until an agent joins.
func (s *Service) StartChat(ctx context.Context, in StartChatInput) (StartChatOutput, error) {
	var out StartChatOutput
	if err := s.checkInstance(in.InstanceID); err != nil {
		return out, err
	}
	scope := "start-chat:" + in.InstanceID
	if ok, err := s.idempotent(ctx, scope, in.ClientToken, &out); ok || err != nil {
		return out, err
	}
	types := in.ContentTypes
	if len(types) == 0 {
		types = []string{ContentPlain}
	}
	if !slices.Contains(types, ContentPlain) {
		return out, errorf(Invalid, "SupportedMessagingContentTypes must include text/plain.")
	}
	if in.InitialMessage != nil && !slices.Contains(types, in.InitialMessage.ContentType) {
		return out, errorf(Invalid, "InitialMessage content type %s is not one of the SupportedMessagingContentTypes.", in.InitialMessage.ContentType)
	}
	var related store.Contact
	switch {
	case in.Persistent != nil:
		src, err := s.rehydrationSource(ctx, in.InstanceID, *in.Persistent)
		if err != nil {
			return out, err
		}
		related = src
	case in.RelatedContactID != "":
		rc, _, err := s.Contact(ctx, in.InstanceID, in.RelatedContactID)
		if err != nil {
			return out, err
		}
		related = rc
	}
	duration := in.DurationMins
	if duration == 0 {
		duration = DefaultDurationMins
	}
	now := s.now()
	contact := store.Contact{
		ID: secret.NewUUID(), InstanceID: in.InstanceID, FlowID: in.FlowID, QueueID: s.cfg.QueueID,
		State: store.ContactQueued, Attributes: in.Attributes, CustomerAttributes: in.CustomerAttributes, ContentTypes: types,
		CreatedAt: now, Deadline: now.Add(time.Duration(duration) * time.Minute),
		CustomerID: in.CustomerID, SegmentAttributes: in.SegmentAttributes,
	}
	if s.cfg.ConnectWithin > 0 {
		contact.ConnectBy = now.Add(s.cfg.ConnectWithin)
	}
	if related.ID != "" {
		// "This new contact contains a copy of the contact properties from
		// the related contact" (admin guide): its attributes, under the
		// request's own. CustomerId and segment attributes are not
		// inherited: Connect documents copying the contact attributes only.
		attrs := maps.Clone(related.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		maps.Copy(attrs, in.Attributes)
		// The limit is the contact's ("up to 32,768 UTF-8 bytes across all
		// key-value pairs per contact"), so it holds for the merge too.
		if n := store.AttributesSize(attrs); n > MaxAttributesBytes {
			return out, errorf(Invalid, "With the attributes of contact %s, the contact's attributes would total %d bytes; at most %d UTF-8 bytes are allowed across all attributes.",
				related.ID, n, MaxAttributesBytes)
		}
		contact.Attributes = attrs
		contact.RelatedContactID = related.ID
		if in.Persistent != nil {
			contact.ContinuedFromID, contact.RehydrationType = related.ID, in.Persistent.RehydrationType
		}
	}
	if contact.Attributes == nil {
		contact.Attributes = map[string]string{}
	}
	contact.InitialContactID = contact.ID
	token := secret.NewToken()
	customer := store.Participant{
		ID: secret.NewTimeUUID(), ContactID: contact.ID, Role: RoleCustomer, DisplayName: in.DisplayName,
		TokenHash: secret.Hash(token), State: store.ParticipantJoined, JoinedAt: now,
	}
	out = StartChatOutput{ContactID: contact.ID, ParticipantID: customer.ID, ParticipantToken: token, ContinuedFromContactID: contact.ContinuedFromID}
	items := []store.Item{joinedItem(customer)}
	if m := in.InitialMessage; m != nil {
		items = append(items, store.Item{
			ID: secret.NewTimeUUID(), ContactID: contact.ID, ParticipantID: customer.ID, Type: TypeMessage,
			ContentType: m.ContentType, Content: m.Content, DisplayName: customer.DisplayName, Role: RoleCustomer,
			InTranscript: true,
		})
	}
	ch := &store.Change{
		Idempotency:     s.idempotencyRecord(scope, contact.ID, in.ClientToken, out),
		NewContact:      &contact,
		NewParticipants: []store.Participant{customer},
		Items:           items,
	}
	if in.MaxQueued > 0 {
		ch.QueueCeiling = &store.QueueCeiling{FlowID: in.FlowID, Max: in.MaxQueued}
	}
	_, err := s.store.Apply(ctx, ch)
	if errors.Is(err, store.ErrQueueFull) {
		return StartChatOutput{}, ErrQueueFull
	}
	if errors.Is(err, store.ErrConflict) && contact.ContinuedFromID != "" {
		return StartChatOutput{}, errSourceUsed(contact.ContinuedFromID)
	}
	if errors.Is(err, store.ErrDuplicate) { // a concurrent retry won
		_, err = s.idempotent(ctx, scope, in.ClientToken, &out)
		return out, err
	}
	if err != nil {
		return StartChatOutput{}, err
	}
	s.wake(contact.Deadline)
	if !contact.ConnectBy.IsZero() {
		s.wake(contact.ConnectBy)
	}
	return out, nil
}

func joinedItem(p store.Participant) store.Item {
	return store.Item{
		ID: secret.NewTimeUUID(), ContactID: p.ContactID, ParticipantID: p.ID, Type: TypeEvent,
		ContentType: EventParticipantJoined, DisplayName: p.DisplayName, Role: p.Role, InTranscript: true,
	}
}

// InstanceID is the instance the service runs.
func (s *Service) InstanceID() string { return s.cfg.InstanceID }

func (s *Service) checkInstance(id string) error {
	if id != s.cfg.InstanceID {
		return errorf(NotFound, "Instance %s not found.", id)
	}
	return nil
}

// AgentUserID is the agent who accepted contact c, with participants ps,
// as Connect's AgentInfo.Id names it: by user id, the console agent's, or
// the participant's own id for an agent joined with CreateParticipant,
// which is no user; "" while no agent has accepted it.
func AgentUserID(c store.Contact, ps []store.Participant) string {
	for _, p := range ps {
		if p.ID == c.AgentID && p.AgentID != "" {
			return p.AgentID
		}
	}
	return c.AgentID
}

// Contact returns a contact of the instance.
func (s *Service) Contact(ctx context.Context, instanceID, contactID string) (store.Contact, []store.Participant, error) {
	if err := s.checkInstance(instanceID); err != nil {
		return store.Contact{}, nil, err
	}
	c, err := s.store.Contact(ctx, contactID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.InstanceID != instanceID) {
		return c, nil, errorf(NotFound, "Contact %s not found.", contactID)
	}
	if err != nil {
		return c, nil, err
	}
	if c.State != store.ContactEnded && c.Ended(s.now()) {
		s.expire(c.ID)
		if c, err = s.store.Contact(ctx, contactID); err != nil {
			return c, nil, err
		}
	}
	ps, err := s.store.Participants(ctx, contactID)
	return c, ps, err
}

// StopContact ends a chat.
func (s *Service) StopContact(ctx context.Context, instanceID, contactID string) error {
	if _, _, err := s.Contact(ctx, instanceID, contactID); err != nil {
		return err
	}
	return s.end(ctx, contactID, ReasonAPI, nil)
}

// AddParticipantOutput is what CreateParticipant returns.
type AddParticipantOutput struct {
	ParticipantID    string
	ParticipantToken string
	Expiry           time.Time
}

// AddParticipant adds a bot or an agent to a chat. An agent joining a queued
// chat accepts it.
func (s *Service) AddParticipant(ctx context.Context, instanceID, contactID, role, displayName, clientToken string) (AddParticipantOutput, error) {
	return s.addParticipant(ctx, instanceID, contactID, role, displayName, clientToken, "")
}

// addParticipant adds a participant; with consoleAgent, an agent of the
// console accepts a queued chat, which only one agent can.
//
// Custom bots follow the admin guide's rules for custom participants
// ("Customize chat flow experiences by integrating custom participants"):
// one can be added only while no agent is present, only one can be present
// at a time, and it is disconnected when an agent joins.
func (s *Service) addParticipant(ctx context.Context, instanceID, contactID, role, displayName, clientToken, consoleAgent string) (AddParticipantOutput, error) {
	for attempt := 0; ; attempt++ {
		out, err := s.tryAddParticipant(ctx, instanceID, contactID, role, displayName, clientToken, consoleAgent)
		// A bot the agent's change would disconnect left meanwhile: the
		// change failed whole, so it is safe to try again with fresh state.
		if errors.Is(err, errBotLeftMeanwhile) && attempt < 3 {
			continue
		}
		// The chat's timers changed meanwhile (PromoteTimers): likewise.
		if errors.Is(err, store.ErrStale) && attempt < 3 {
			continue
		}
		if errors.Is(err, store.ErrStale) {
			err = errorf(Conflict, "The chat changed while the participant joined; try again.")
		}
		if errors.Is(err, errBotLeftMeanwhile) {
			err = errorf(Conflict, "The chat changed while the agent joined; try again.")
		}
		return out, err
	}
}

var errBotLeftMeanwhile = errors.New("a custom bot left while an agent joined")

func (s *Service) tryAddParticipant(ctx context.Context, instanceID, contactID, role, displayName, clientToken, consoleAgent string) (AddParticipantOutput, error) {
	var out AddParticipantOutput
	c, ps, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return out, err
	}
	scope := "add-participant:" + contactID
	if ok, err := s.idempotent(ctx, scope, clientToken, &out); ok || err != nil {
		return out, err
	}
	if c.State == store.ContactEnded {
		return out, errChatEnded
	}
	if c.TransferTo != "" && role == RoleAgent && consoleAgent != "" && c.TransferTo != consoleAgent {
		return out, errorf(Conflict, "This chat is being transferred to another agent.")
	}
	if role != RoleCustomBot && role != RoleAgent {
		return out, errorf(Invalid, "ParticipantRole %s cannot be added to a chat: use CUSTOM_BOT, or AGENT for an agent joining.", role)
	}
	active := 0
	var bots []store.Participant
	for _, p := range ps {
		if p.State != store.ParticipantJoined {
			continue
		}
		active++
		switch {
		case p.Role == RoleCustomBot:
			bots = append(bots, p)
		case p.Role == RoleAgent && role == RoleCustomBot:
			return out, errorf(Conflict, "A custom participant cannot be added to a chat when an agent is already present on the contact.")
		}
	}
	if role == RoleCustomBot && len(bots) > 0 {
		return out, errorf(QuotaExceeded, "Only one custom participant can be present on a contact.")
	}
	if active >= MaxParticipants {
		// A quick refusal; the limit itself is checked in Apply's
		// transaction, which concurrent requests cannot get round.
		return out, errParticipantQuota
	}
	if displayName == "" {
		displayName = map[string]string{RoleAgent: "Agent", RoleCustomBot: "Bot"}[role]
	}
	now := s.now()
	token := secret.NewToken()
	p := store.Participant{
		ID: secret.NewTimeUUID(), ContactID: contactID, Role: role, DisplayName: displayName,
		TokenHash: secret.Hash(token), State: store.ParticipantJoined, JoinedAt: now, AgentID: consoleAgent,
	}
	out = AddParticipantOutput{ParticipantID: p.ID, ParticipantToken: token, Expiry: c.Deadline}
	ch := &store.Change{
		RequireActive: contactID,
		Idempotency:   s.idempotencyRecord(scope, contactID, clientToken, out),
		Limits:        []store.Limit{{Count: store.CountParticipants, Key: contactID, Max: MaxParticipants}},
	}
	// Timers run while the customer and an agent or a custom bot are in
	// the chat: the first of those to join starts the customer's. The one
	// joining applies the timers an update left pending (see UpdateTimers),
	// if they are still what was read here.
	// An agent disconnects the custom bot in the same change: the bot's
	// leaving stops the customer's timers and the agent's joining starts
	// them again, as if the two had happened one after the other.
	timers := effectiveTimers(c)
	ch.PromoteTimers = &store.PromoteTimers{ContactID: contactID, IfTimers: c.Timers, IfPending: c.PendingTimers}
	stay := ps
	if role == RoleAgent {
		stay = slices.DeleteFunc(slices.Clone(ps), func(o store.Participant) bool { return o.Role == RoleCustomBot })
	}
	if with := append(slices.Clone(stay), p); timersRun(with, "") {
		if human(role) {
			k := s.clock(p.ID, timers[role], now)
			p.IdleAt, p.DisconnectAt = k.IdleAt, k.DisconnectAt
		}
		for _, o := range stay {
			if o.Role == RoleCustomer && o.State == store.ParticipantJoined && !timersRun(stay, "") {
				ch.Clocks = append(ch.Clocks, s.clock(o.ID, timers[RoleCustomer], now))
			}
		}
	}
	ch.NewParticipants = []store.Participant{p}
	if consoleAgent != "" {
		ch.Limits = append(ch.Limits, store.Limit{Count: store.CountAgentChats, Key: consoleAgent, Max: MaxAgentChats},
			// An agent who set themselves Away meanwhile is refused.
			store.Limit{Count: store.CountAgentAway, Key: consoleAgent, Max: 0})
	}
	if role == RoleCustomBot {
		// Checked again in the transaction: two bots, or a bot and an agent,
		// added at once cannot both pass.
		ch.RequireNoJoined = &store.RoleCheck{ContactID: contactID, Roles: []string{RoleAgent, RoleCustomBot}}
	} else {
		// An agent joining disconnects the custom bot, which leaves first.
		for _, b := range bots {
			ch.Leave = append(ch.Leave, store.Leave{ParticipantID: b.ID, At: now})
			ch.Items = append(ch.Items, store.Item{
				ID: secret.NewTimeUUID(), ContactID: contactID, ParticipantID: b.ID, Type: TypeEvent,
				ContentType: EventParticipantLeft, DisplayName: b.DisplayName, Role: b.Role, InTranscript: true,
			})
		}
	}
	if role == RoleAgent && c.State == store.ContactQueued && c.TransferTo != "" {
		ch.Items = append(ch.Items, systemEvent(contactID, EventTransferSucceeded))
	}
	ch.Items = append(ch.Items, joinedItem(p))
	if role == RoleAgent && (c.State == store.ContactQueued || consoleAgent != "") {
		ch.ConnectAgent = &store.ConnectAgent{ContactID: contactID, AgentID: p.ID, At: now, Exclusive: consoleAgent != "", Console: consoleAgent}
	}
	_, err = s.store.Apply(ctx, ch)
	if err != nil && !errors.Is(err, store.ErrDuplicate) && clientToken != "" {
		// A retry that raced its first attempt may fail on what that
		// attempt did (its bot joined, before the key was checked): the
		// first result is its answer.
		var first AddParticipantOutput
		if ok, err := s.idempotent(ctx, scope, clientToken, &first); ok || err != nil {
			return first, err
		}
	}
	switch {
	case errors.Is(err, store.ErrDuplicate):
		_, err = s.idempotent(ctx, scope, clientToken, &out)
		return out, err
	case errors.Is(err, store.ErrEnded) && len(ch.Leave) > 0:
		if k, err := s.store.Contact(ctx, contactID); err == nil && k.State != store.ContactEnded {
			return AddParticipantOutput{}, errBotLeftMeanwhile
		}
		return AddParticipantOutput{}, errChatEnded
	case errors.Is(err, store.ErrEnded):
		return AddParticipantOutput{}, errChatEnded
	case errors.Is(err, store.ErrConflict) && role == RoleCustomBot:
		return AddParticipantOutput{}, errorf(Conflict, "An agent or another custom participant joined the chat meanwhile.")
	case errors.Is(err, store.ErrConflict):
		return AddParticipantOutput{}, errorf(Conflict, "Another agent accepted this chat, or it is being transferred to another agent.")
	case errors.Is(err, store.ErrLimit):
		return AddParticipantOutput{}, limitError(err)
	case err != nil:
		return AddParticipantOutput{}, err
	}
	return out, nil
}
