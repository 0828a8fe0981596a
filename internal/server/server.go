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
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/connectapi"
	"github.com/parleychat/parley/internal/fileapi"
	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/netlimit"
	"github.com/parleychat/parley/internal/participantapi"
	"github.com/parleychat/parley/internal/sigv4"
	"github.com/parleychat/parley/internal/store/cache"
	"github.com/parleychat/parley/internal/store/sqlite"
	"github.com/parleychat/parley/internal/views"
	"github.com/parleychat/parley/internal/webapi"
	"github.com/parleychat/parley/internal/webui"
)

// Server is a running Parley.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	ln      net.Listener
	baseURL string
	store   *sqlite.DB
	blobs   *blob.Local
	chat    *chat.Service
	gateway *gateway.Gateway
	http    *http.Server
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
	fanout := broker.NewMemory()
	s.store, err = sqlite.Open(filepath.Join(cfg.DataDir, "parley.db"), fanout.Publish)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.blobs, err = blob.OpenLocal(filepath.Join(cfg.DataDir, "attachments"))
	if err != nil {
		s.store.Close()
		ln.Close()
		return nil, err
	}
	var scanner attach.Scanner
	if cfg.ClamdAddr != "" {
		clamd := &attach.Clamd{Addr: cfg.ClamdAddr}
		if err := clamd.Ping(ctx); err != nil {
			log.Warn("clamd does not answer; attachments will be rejected until it does", "addr", cfg.ClamdAddr, "err", err)
		}
		scanner = clamd
	}
	wsBase := config.WebsocketBase(s.baseURL)
	cached := cache.New(s.store) // one server per database: see package cache
	s.chat = chat.New(chat.Config{
		InstanceID:    cfg.InstanceID,
		QueueID:       cfg.QueueID,
		WebsocketURL:  func(token string) string { return wsBase + "/ws/v1/connect?token=" + url.QueryEscape(token) },
		ConnectionTTL: cfg.ConnectionTTL,
		Blobs:         s.blobs,
		Scanner:       scanner,
		Limits:        attach.Limits{MaxBytes: cfg.AttachmentMaxBytes, Extensions: attach.DefaultExtensions},
		FileURL: func(id, token string) string {
			return s.baseURL + fileapi.Path + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
		},
		Retention: cfg.AttachmentRetention,
	}, cached, cfg.Key, log)
	if err := s.chat.Start(ctx); err != nil {
		s.store.Close()
		ln.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	participantapi.New(s.chat, catalog, log, participantapi.Limits{
		Participant: netlimit.NewLimiter(netlimit.Rate{PerSecond: cfg.ParticipantRate, Burst: cfg.ParticipantBurst}),
		Client:      netlimit.NewLimiter(netlimit.Rate{PerSecond: cfg.ClientRate, Burst: cfg.ClientBurst}),
	}).Register(mux)
	fileapi.New(s.chat, log, fileapi.Config{MinRate: cfg.UploadMinRate, Window: cfg.BodyTimeout}).Register(mux)
	webapi.New(webapi.Config{Enabled: cfg.WidgetEnabled, Origins: cfg.WidgetOrigins, PerMinute: cfg.WidgetPerMinute}, s.chat, log).Register(mux)
	webui.Register(mux)
	s.gateway = gateway.New(s.chat, fanout, log)
	mux.Handle("GET /ws/v1/connect", s.gateway)
	verifier := &sigv4.Verifier{Service: "connect", Secret: func(id string) (string, bool) {
		return cfg.SecretAccessKey, id == cfg.AccessKeyID
	}}
	connectapi.New(connectapi.Config{Region: cfg.Region, AccountID: cfg.AccountID, Verifier: verifier}, s.chat, log).Register(mux)
	s.http = &http.Server{
		// Every body must arrive in time (uploads: at a minimum rate), so a
		// slow client cannot hold its connection; netlimit caps how many
		// connections it can open meanwhile.
		Handler:           netlimit.BodyDeadline(mux, cfg.BodyTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// URL is the public base URL.
func (s *Server) URL() string { return s.baseURL }

// Config is the configuration in force, with its generated identity.
func (s *Server) Config() *config.Config { return s.cfg }

// Serve answers requests until Shutdown.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops taking requests, waits for those in flight, closes the
// websockets, then closes the store so that everything acknowledged is on
// disk.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.StopAccepting(ctx), s.Close())
}

// StopAccepting is the first half of Shutdown: the listener closes and HTTP
// requests in flight finish, while websockets stay open. A successor can
// then take over the address before Close drops the sockets, so that clients
// reconnect to it without a gap (a handover restart).
func (s *Server) StopAccepting(ctx context.Context) error {
	s.chat.Close() // no more duration timers: the successor schedules them
	return s.http.Shutdown(ctx)
}

// Close is the second half of Shutdown: websockets close with 1001 (going
// away) and the store closes.
func (s *Server) Close() error {
	s.gateway.Shutdown() // hijacked connections are not http.Server's to close
	return errors.Join(s.store.Close(), s.blobs.Close())
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	s.printBanner(out)
	if cfg.PprofAddr != "" {
		// The profiler has its own listener, never the public one.
		go func() { log.Warn("pprof", "err", http.ListenAndServe(cfg.PprofAddr, pprofMux())) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	select {
	case err := <-errc:
		s.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

func (s *Server) printBanner(out io.Writer) {
	c := s.cfg
	fmt.Fprintf(out, "Parley is listening on %s (data in %s)\n\n", s.baseURL, c.DataDir)
	fmt.Fprintf(out, "Customer chat widget:         %s/\n", s.baseURL)
	fmt.Fprintf(out, "Agent console:                %s/agent (add an agent: parley agent add NAME)\n", s.baseURL)
	fmt.Fprintf(out, "Participant Service endpoint: %s\n", s.baseURL)
	fmt.Fprintf(out, "Connect API endpoint:         %s (SigV4, service \"connect\", any region)\n", s.baseURL)
	fmt.Fprintf(out, "Instance id:                  %s\n", c.InstanceID)
	for _, g := range c.Generated {
		if g == "credentials" {
			fmt.Fprintf(out, "\nGenerated Connect API credentials (kept in %s):\n",
				filepath.Join(c.DataDir, "identity.json"))
			fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=%s\n  export AWS_SECRET_ACCESS_KEY=%s\n", c.AccessKeyID, c.SecretAccessKey)
			fmt.Fprintf(out, "  aws connect start-chat-contact --endpoint-url %s --region %s --instance-id %s \\\n"+
				"    --contact-flow-id default --participant-details DisplayName=Ada\n", s.baseURL, c.Region, c.InstanceID)
		}
	}
	fmt.Fprintln(out)
}

// AddAgent creates a console agent in the data dir's database and returns
// its sign-in key. It works while a server runs on the same data dir.
func AddAgent(ctx context.Context, cfg *config.Config, name string) (string, error) {
	if err := cfg.LoadIdentity(); err != nil {
		return "", err
	}
	st, err := sqlite.Open(filepath.Join(cfg.DataDir, "parley.db"), nil)
	if err != nil {
		return "", err
	}
	defer st.Close()
	svc := chat.New(chat.Config{InstanceID: cfg.InstanceID}, st, cfg.Key, slog.New(slog.DiscardHandler))
	defer svc.Close()
	return svc.AddAgent(ctx, name)
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
