// Package server assembles Parley: storage, the chat domain and the HTTP
// APIs, and runs them until told to stop.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/parleychat/parley/internal/adminapi"
	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/connectapi"
	"github.com/parleychat/parley/internal/fileapi"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/gcfloor"
	"github.com/parleychat/parley/internal/netlimit"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/participantapi"
	"github.com/parleychat/parley/internal/quota"
	"github.com/parleychat/parley/internal/sigv4"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/cache"
	"github.com/parleychat/parley/internal/store/postgres"
	"github.com/parleychat/parley/internal/store/sqlite"
	"github.com/parleychat/parley/internal/streaming"
	"github.com/parleychat/parley/internal/views"
	"github.com/parleychat/parley/internal/webapi"
	"github.com/parleychat/parley/internal/webui"
)

// clamdPingTimeout bounds the start-up check of clamd.
const clamdPingTimeout = 2 * time.Second

// Server is a running Parley.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	ln        net.Listener
	baseURL   string
	store     store.Store
	publisher *broker.Publisher
	nats      *broker.NATS // nil on a single node
	draining  atomic.Bool
	blobs     blob.Store
	chat      *chat.Service
	gateway   *gateway.Gateway
	// queueSignal pushes queue changes to the consoles' event streams.
	queueSignal *webapi.QueueSignal
	metrics     *obs.Metrics
	// metricsHTTP serves /metrics on PARLEY_METRICS_ADDR, when set.
	metricsHTTP *http.Server
	metricsLn   net.Listener
	metricsDone chan struct{}
	http        *http.Server

	stopWatch context.CancelFunc // ends the abandoned-chat watch
	watchDone chan struct{}
}

// New opens the data dir, listens on cfg.Addr and wires everything together;
// Serve then answers requests.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.LoadIdentity(); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	catalog, err := views.Load(cfg.ViewsDir)
	if err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = netlimit.DefaultMaxConns()
	}
	perAddr := cfg.MaxConnsPerAddr
	if perAddr == 0 {
		perAddr = netlimit.DefaultMaxConnsPerAddr(maxConns)
	}
	ln := netlimit.Listen(raw, maxConns, perAddr, log)
	s := &Server{cfg: cfg, log: log, ln: ln, baseURL: cfg.BaseURL(ln.Addr())}
	s.metrics = obs.NewMetrics()
	var fanout broker.Broker = broker.NewMemory()
	if cfg.NATSURL != "" {
		s.nats, err = broker.DialNATS(broker.NATSConfig{URL: cfg.NATSURL, Name: "parley " + cfg.NodeID, Log: log})
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("PARLEY_NATS_URL: %w", err)
		}
		fanout = s.nats
	}
	s.publisher = broker.NewPublisher(fanout, log)
	// The commit hook also wakes the stream deliverer, which exists only
	// once the domain does, and the consoles' queue events.
	var wakeStreams atomic.Pointer[func()]
	s.queueSignal = webapi.NewQueueSignal()
	if s.nats != nil {
		// Other nodes' consoles hear of this node's queue changes at once.
		if err := s.nats.OnSignal(func(kind string) { s.queueSignal.Wake(parseConsoleSignal(kind)) }); err != nil {
			log.Warn("NATS: consoles on other nodes will see queue changes at their periodic re-read", "err", err)
		}
	}
	hook := func(items []store.Item) {
		s.publisher.Committed(items)
		if queue, agents := s.queueSignal.Notify(items); (queue || agents) && s.nats != nil {
			s.nats.Signal(consoleSignal(queue, agents))
		}
		if w := wakeStreams.Load(); w != nil {
			(*w)()
		}
	}
	s.store, err = openStore(ctx, cfg, hook)
	if err != nil {
		s.publisher.Close()
		s.closeNATS()
		ln.Close()
		return nil, err
	}
	if err := shareIdentity(ctx, cfg, s.store); err != nil {
		s.store.Close()
		s.publisher.Close()
		s.closeNATS()
		ln.Close()
		return nil, err
	}
	if o, ok := s.store.(interface{ Observe(store.CommitObserver) }); ok {
		o.Observe(s.metrics.Commit)
	}
	s.blobs, err = openBlobs(ctx, cfg)
	if err != nil {
		s.store.Close()
		s.publisher.Close()
		s.closeNATS()
		ln.Close()
		return nil, err
	}
	var direct chat.DirectBlobs
	if cfg.S3Direct {
		s3 := s.blobs.(*blob.S3)
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := s3.CheckDirect(cctx, http.DefaultClient)
		cancel()
		if err != nil {
			s.blobs.Close()
			s.store.Close()
			s.publisher.Close()
			s.closeNATS()
			ln.Close()
			return nil, fmt.Errorf("PARLEY_S3_DIRECT: the bucket fails a check: %w", err)
		}
		direct = s3
	}
	var scanner attach.Scanner
	if cfg.ClamdAddr != "" {
		clamd := &attach.Clamd{Addr: cfg.ClamdAddr}
		// Only a hint for the operator: start-up must not wait a scan's
		// timeout for a clamd that accepts and never answers.
		pctx, cancel := context.WithTimeout(ctx, clamdPingTimeout)
		err := clamd.Ping(pctx)
		cancel()
		if err != nil {
			log.Warn("clamd does not answer; attachments will be rejected until it does", "addr", cfg.ClamdAddr, "err", err)
		}
		scanner = clamd
	}
	var streams chat.StreamSender
	signer, err := streaming.LoadSigner(filepath.Join(cfg.DataDir, "streaming-key.pem"), s.baseURL)
	if err != nil {
		s.blobs.Close()
		s.store.Close()
		s.publisher.Close()
		s.closeNATS()
		ln.Close()
		return nil, fmt.Errorf("message streaming: %w", err)
	}
	if len(cfg.StreamingEndpoints) > 0 {
		streams = &streaming.Sender{Endpoints: cfg.StreamingEndpoints, Signer: signer, Client: &http.Client{Timeout: 15 * time.Second}}
	}
	wsBase := config.WebsocketBase(s.baseURL)
	cached := cache.New(s.store) // one server per SQLite database
	if cfg.DatabaseURL != "" {
		cached = cache.Shared(s.store) // other servers may write it
	}
	s.chat = chat.New(chat.Config{
		InstanceID:    cfg.InstanceID,
		QueueID:       cfg.QueueID,
		WebsocketURL:  func(token string) string { return wsBase + "/ws/v1/connect?token=" + url.QueryEscape(token) },
		ConnectionTTL: cfg.ConnectionTTL,
		ConnectWithin: cfg.ConnectWithin,
		Blobs:         s.blobs,
		Scanner:       scanner,
		Limits:        attach.Limits{MaxBytes: cfg.AttachmentMaxBytes, Extensions: attach.DefaultExtensions},
		FileURL: func(id, token string) string {
			return s.baseURL + fileapi.Path + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
		},
		Retention:     cfg.AttachmentRetention,
		ChatRetention: cfg.ChatRetention,
		Metrics:       s.metrics,
		FreeSpace:     freeSpace(s.blobs),
		MinFreeBytes:  cfg.AttachmentMinFree,
		Direct:        direct,
		Streams:       streams,
		AccountID:     cfg.AccountID,
		SharedStore:   cfg.DatabaseURL != "",
		UploadLease:   cfg.UploadLease,
	}, cached, cfg.Key, log)
	wake := s.chat.WakeStreams
	wakeStreams.Store(&wake)
	if err := s.chat.Start(ctx); err != nil {
		s.store.Close()
		s.publisher.Close()
		s.closeNATS()
		ln.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+streaming.CertPath, signer.ServeCert)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	var connectRates, participantRates *quota.Limiter
	if cfg.ThrottleConnect {
		connectRates, participantRates = quota.New(quota.Connect, &quota.ConnectDefault), quota.New(quota.Participant, nil)
	}
	participantapi.New(s.chat, catalog, log, participantapi.Limits{
		Participant:    netlimit.NewLimiter(netlimit.Rate{PerSecond: cfg.ParticipantRate, Burst: cfg.ParticipantBurst}),
		Client:         netlimit.NewLimiter(netlimit.Rate{PerSecond: cfg.ClientRate, Burst: cfg.ClientBurst}),
		TrustedProxies: cfg.TrustedProxies,
	}).Throttled(participantRates).Register(mux)
	fileapi.New(s.chat, log, fileapi.Config{MinRate: cfg.UploadMinRate, Window: cfg.BodyTimeout}).Register(mux)
	webapi.New(webapi.Config{Enabled: cfg.WidgetEnabled, PublicURL: s.baseURL, Origins: cfg.WidgetOrigins,
		PerMinute: cfg.WidgetPerMinute, MaxQueued: cfg.WidgetMaxQueued, TrustedProxies: cfg.TrustedProxies, Signal: s.queueSignal,
		Branding: cfg.WidgetBranding}, s.chat, log).Register(mux)
	webui.Register(mux)
	s.gateway = gateway.New(s.chat, fanout, log)
	if db, ok := s.store.(*postgres.DB); ok {
		s.gateway.UseLeases(db, cfg.NodeID) // other nodes may hold the participant's sockets
		s.gateway.UseHealth(s.databaseUp, 5*time.Second)
	}
	watch := &chat.AbandonWatch{FlowID: webapi.FlowID, After: cfg.WidgetAbandon,
		Sweep: max(cfg.WidgetAbandon/4, 250*time.Millisecond), Present: s.gateway.Connected}
	var watchCtx context.Context
	watchCtx, s.stopWatch = context.WithCancel(context.Background())
	s.watchDone = make(chan struct{})
	go func() {
		defer close(s.watchDone)
		watch.Run(watchCtx, s.chat)
	}()
	mux.Handle("GET /ws/v1/connect", s.gateway)
	verifier := &sigv4.Verifier{Service: "connect", Secret: func(id string) (string, bool) {
		return cfg.SecretAccessKey, id == cfg.AccessKeyID
	}}
	connectapi.New(connectapi.Config{Region: cfg.Region, AccountID: cfg.AccountID, Verifier: verifier, Throttle: connectRates}, s.chat, log).Register(mux)
	adminapi.New(s.chat, verifier, log).Register(mux)
	s.metrics.Gauge("parley_websocket_connections", "Open participant websockets on this node.", func() float64 { return float64(s.gateway.Stats().Sockets) })
	s.metrics.Gauge("parley_websocket_subscriptions", "Chats this node follows: one broker subscription each, shared by their sockets.",
		func() float64 { return float64(s.gateway.Stats().Subscriptions) })
	s.metrics.Gauge("parley_websocket_queued_frames", "Frames waiting to be written to sockets on this node.", func() float64 { return float64(s.gateway.Stats().Queued) })
	s.metrics.Counter("parley_websocket_slow_drops_total", "Websockets closed because they fell too far behind.", func() float64 { return float64(s.gateway.Stats().SlowDrops) })
	s.clusterMetrics()
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.metrics.Handler())
	} else {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			// Everything has started: stop it all, and wait for it, as
			// Shutdown would.
			s.stopWatch()
			<-s.watchDone
			s.chat.Close()
			s.close(context.Background())
			ln.Close()
			return nil, fmt.Errorf("PARLEY_METRICS_ADDR: %w", err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", s.metrics.Handler())
		s.metricsLn, s.metricsHTTP = mln, &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second}
	}
	s.http = &http.Server{
		// Every body must arrive in time (uploads: at a minimum rate), so a
		// slow client cannot hold its connection; netlimit caps how many
		// connections it can open meanwhile. The request id and the access
		// line come inside, on the request the mux sees, whose matched
		// pattern names the operation.
		Handler:           netlimit.BodyDeadline(obs.Middleware(mux, log, s.metrics), cfg.BodyTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// closeNATS closes the NATS connection, if any.
func (s *Server) closeNATS() {
	if s.nats != nil {
		s.nats.Close()
	}
}

// readyz answers 200 while the node can serve: not draining, its database
// answering and, in a cluster, NATS connected. A balancer sends it traffic
// only then; /healthz (liveness) stays 200 regardless.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if problem := s.unready(r.Context()); problem != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, problem+"\n")
		return
	}
	io.WriteString(w, "ready\n")
}

// unready says why the node is not ready, or "".
func (s *Server) unready(ctx context.Context) string {
	if s.draining.Load() {
		return "draining"
	}
	if !s.databaseUp(ctx) {
		return "database unreachable"
	}
	if s.nats != nil && !s.nats.Connected() {
		return "NATS unreachable"
	}
	return ""
}

func (s *Server) databaseUp(ctx context.Context) bool {
	p, ok := s.store.(interface{ Ping(context.Context) error })
	if !ok {
		return true // SQLite: a file of this process
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.Ping(ctx) == nil
}

// clusterMetrics registers the health of the engines a node depends on
// and the repairs of live delivery.
func (s *Server) clusterMetrics() {
	up := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	s.metrics.Gauge("parley_ready", "1 while /readyz answers 200.", func() float64 { return up(s.unready(context.Background()) == "") })
	s.metrics.Gauge("parley_database_up", "1 while the database answers.", func() float64 { return up(s.databaseUp(context.Background())) })
	s.metrics.Counter("parley_gap_repairs_total", "Chat items read from the database because the bus lost them or brought them late.",
		func() float64 { return float64(s.gateway.Repairs()) })
	if s.nats != nil {
		n := s.nats
		s.metrics.Gauge("parley_nats_connected", "1 while this node is connected to NATS.", func() float64 { return up(n.Connected()) })
		s.metrics.Counter("parley_nats_published_total", "Messages this node published to NATS.", func() float64 { return float64(n.Published.Load()) })
		s.metrics.Counter("parley_nats_publish_failures_total", "Messages NATS refused (disconnected): followers repair from the database.",
			func() float64 { return float64(n.PublishFailed.Load()) })
		s.metrics.Counter("parley_nats_received_items_total", "Items this node received from other nodes over NATS.", func() float64 { return float64(n.Received.Load()) })
	}
	if b, ok := s.blobs.(*blob.S3); ok {
		s.metrics.Gauge("parley_s3_up", "1 while the attachment bucket answers.", func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := b.Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.Bucket())})
			return up(err == nil)
		})
	}
}

// openBlobs opens the attachment store: the S3 bucket when one is set,
// otherwise a folder in the data dir.
func openBlobs(ctx context.Context, cfg *config.Config) (blob.Store, error) {
	if cfg.S3Bucket == "" {
		return blob.OpenLocal(filepath.Join(cfg.DataDir, "attachments"))
	}
	aws, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return blob.OpenS3(cctx, blob.S3Config{Bucket: cfg.S3Bucket, Prefix: blob.ParseS3Prefix(cfg.S3Prefix), PathStyle: cfg.S3PathStyle, AWS: aws})
}

// freeSpace is the free-space probe of a local attachment folder; a bucket
// has none (nil skips the floor).
func freeSpace(b blob.Store) func() (int64, error) {
	if l, ok := b.(*blob.Local); ok {
		return l.Free
	}
	return nil
}

// URL is the public base URL.
func (s *Server) URL() string { return s.baseURL }

// Addr is the URL of this node's own listener, which differs from URL
// behind a balancer (PARLEY_PUBLIC_URL).
func (s *Server) Addr() string { return "http://" + s.ln.Addr().String() }

// Config is the configuration in force, with its generated identity.
func (s *Server) Config() *config.Config { return s.cfg }

// Serve answers requests until Shutdown.
func (s *Server) Serve() error {
	if s.metricsHTTP != nil && s.metricsDone == nil {
		s.metricsDone = make(chan struct{})
		go func() {
			defer close(s.metricsDone)
			s.metricsHTTP.Serve(s.metricsLn)
		}()
	}
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops taking requests, waits for those in flight and for the
// background work (attachment checks), closes the websockets, then closes
// the store so that everything acknowledged is on disk. ctx bounds the
// waiting.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.StopAccepting(ctx), s.close(ctx))
}

// StopAccepting is the first half of Shutdown: the listener closes, HTTP
// requests in flight finish, and then the chat domain stops (its timers,
// and the attachment checks in flight, waited for until ctx ends), while
// websockets stay open. A successor can then take over the address before
// Close drops the sockets, so that clients reconnect to it without a gap (a
// handover restart); it schedules the timers again and resumes any check
// cut short.
func (s *Server) StopAccepting(ctx context.Context) error {
	s.stopWatch()
	<-s.watchDone
	s.queueSignal.Close() // the consoles' streams end; they reconnect to the successor
	err := s.http.Shutdown(ctx)
	return errors.Join(err, s.chat.Shutdown(ctx))
}

// Close is the second half of Shutdown: websockets close with 1001 (going
// away), within 10 s, and the store closes.
func (s *Server) Close() error {
	if s.metricsHTTP != nil {
		s.metricsHTTP.Close()
		if s.metricsDone != nil {
			<-s.metricsDone
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.close(ctx)
}

func (s *Server) close(ctx context.Context) error {
	err := s.gateway.Shutdown(ctx) // hijacked connections are not http.Server's to close
	err = errors.Join(err, s.store.Close(), s.blobs.Close())
	s.publisher.Close() // after the store's last commits
	s.closeNATS()       // after the publisher's last publish
	return err
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	s.printBanner(out)
	// The collector's floor is process-wide, so the process's entry point
	// owns it (tests run many servers in one process).
	defer gcfloor.Start()()
	if cfg.PprofAddr != "" {
		// The profiler has its own listener, never the public one.
		prof := &http.Server{Addr: cfg.PprofAddr, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := prof.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				log.Warn("pprof", "err", err)
			}
		}()
		defer func() { prof.Close(); <-done }()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	grace := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 15*time.Second)
	}
	select {
	case err := <-errc:
		sctx, cancel := grace()
		defer cancel()
		s.Shutdown(sctx)
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "over", cfg.Drain)
	s.Drain(cfg.Drain)
	log.Info("shutting down")
	sctx, cancel := grace()
	defer cancel()
	err = s.Shutdown(sctx)
	<-errc // Serve has returned
	return err
}

// Drain prepares a stop without losing anything: /readyz answers 503 at
// once, so the balancer sends new requests elsewhere; then the websockets
// close with 1012 (service restart), paced over d, since ChatJS reconnects
// the moment its socket closes and would otherwise land on the other nodes
// all at once. Requests keep being answered meanwhile; Shutdown then
// finishes those in flight.
func (s *Server) Drain(d time.Duration) {
	s.draining.Store(true)
	s.gateway.Drain(d)
}

func (s *Server) printBanner(out io.Writer) {
	c := s.cfg
	if s.baseURL != s.Addr() {
		fmt.Fprintf(out, "Parley is listening on %s (public URL %s; node %s; data in %s)\n\n", s.Addr(), s.baseURL, c.NodeID, c.DataDir)
	} else {
		fmt.Fprintf(out, "Parley is listening on %s (data in %s)\n\n", s.baseURL, c.DataDir)
	}
	fmt.Fprintf(out, "Customer chat widget:         %s/\n", s.baseURL)
	fmt.Fprintf(out, "Agent console:                %s/agent (add an agent: parley agent add NAME)\n", s.baseURL)
	fmt.Fprintf(out, "Participant Service endpoint: %s\n", s.baseURL)
	fmt.Fprintf(out, "Connect API endpoint:         %s (SigV4, service \"connect\", any region)\n", s.baseURL)
	fmt.Fprintf(out, "Instance id:                  %s\n", c.InstanceID)
	generated := slices.Contains(c.Generated, "credentials")
	kept := filepath.Join(c.DataDir, "identity.json")
	if c.IdentityShared {
		kept = "the database, shared by every node on it"
	}
	switch {
	case generated:
		fmt.Fprintf(out, "\nGenerated Connect API credentials (kept in %s):\n", kept)
		fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n", c.AccessKeyID, c.SecretAccessKey)
		fmt.Fprintf(out, "  aws connect start-chat-contact --endpoint-url %s --region %s --instance-id %s \\\n"+
			"    --contact-flow-id default --participant-details DisplayName=Ada\n", s.baseURL, c.Region, c.InstanceID)
	case c.CredentialsFromEnv:
		fmt.Fprintf(out, "Connect API access key id:    %s (from PARLEY_ACCESS_KEY_ID; the secret from PARLEY_SECRET_ACCESS_KEY)\n", c.AccessKeyID)
	default:
		fmt.Fprintf(out, "Connect API access key id:    %s (the key pair is kept in %s)\n", c.AccessKeyID, kept)
	}
	fmt.Fprintln(out)
}

// AddAgent creates a console agent in the data dir's database and returns
// its sign-in key. It works while a server runs on the same data dir, as do
// the other agent functions: a running server looks keys up on every
// request, so a removed or rotated key stops working at once.
func AddAgent(ctx context.Context, cfg *config.Config, name string) (key string, err error) {
	err = withAgents(cfg, func(svc *chat.Service) error {
		key, err = svc.AddAgent(ctx, name)
		return err
	})
	return key, err
}

// ListAgents returns the console agents, by name (their keys are only
// hashes and are not shown).
func ListAgents(ctx context.Context, cfg *config.Config) (agents []store.Agent, err error) {
	err = withAgents(cfg, func(svc *chat.Service) error {
		agents, err = svc.Agents(ctx)
		return err
	})
	return agents, err
}

// RemoveAgent deletes a console agent; its key stops working.
func RemoveAgent(ctx context.Context, cfg *config.Config, name string) error {
	return withAgents(cfg, func(svc *chat.Service) error { return svc.RemoveAgent(ctx, name) })
}

// RotateAgentKey gives a console agent a new key and returns it; the old
// key stops working.
func RotateAgentKey(ctx context.Context, cfg *config.Config, name string) (key string, err error) {
	err = withAgents(cfg, func(svc *chat.Service) error {
		key, err = svc.RotateAgentKey(ctx, name)
		return err
	})
	return key, err
}

// withAgents opens the data dir's database for f.
func withAgents(cfg *config.Config, f func(*chat.Service) error) error {
	return offline(context.Background(), cfg, false, f)
}

// shareIdentity adopts the identity stored in a PostgreSQL database, or
// stores this node's there if it is the first: nodes on one database share
// the instance id, the Connect keys and the master key, so that whatever
// one node signs or seals another verifies or opens.
func shareIdentity(ctx context.Context, cfg *config.Config, st store.Store) error {
	db, ok := st.(*postgres.DB)
	if !ok {
		return nil
	}
	if err := cfg.ShareIdentity(func(candidate []byte) ([]byte, error) { return db.ShareIdentity(ctx, candidate) }); err != nil {
		return fmt.Errorf("the identity shared through the database: %w", err)
	}
	return nil
}

// openStore opens PostgreSQL at cfg.DatabaseURL if set, else SQLite in
// the data dir.
func openStore(ctx context.Context, cfg *config.Config, hook store.CommitHook) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL, hook)
	}
	return sqlite.Open(filepath.Join(cfg.DataDir, "parley.db"), hook)
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// A collection that also returns the freed memory to the system, so
	// that RSS readings compare what is live (the bench's idle figure).
	mux.HandleFunc("POST /debug/free-os-memory", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// consoleSignal and parseConsoleSignal carry a QueueSignal's wake-up
// between nodes: "q" the queue, "a" an agent's chats.
func consoleSignal(queue, agents bool) string {
	var b []byte
	if queue {
		b = append(b, 'q')
	}
	if agents {
		b = append(b, 'a')
	}
	return string(b)
}

func parseConsoleSignal(kind string) (queue, agents bool) {
	return strings.Contains(kind, "q"), strings.Contains(kind, "a")
}
