// Package config reads Parley's configuration from flags and the environment
// and keeps the instance's generated identity (credentials, instance id,
// master key) in the data directory, so that a plain `parley serve` needs no
// setup and keeps the same identity across restarts.
package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/atomicfile"
	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/realip"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/streaming"
)

// Config is the server's configuration.
type Config struct {
	Addr    string // listen address
	DataDir string
	// DatabaseURL, a postgres:// URL, stores chats in PostgreSQL instead
	// of SQLite in DataDir.
	DatabaseURL string
	// NATSURL, comma-separated nats:// URLs, fans committed items out to
	// the other nodes on the same database.
	NATSURL string
	// NodeID names this node in logs and metrics; default the host name
	// and the listen address.
	NodeID string
	// Drain is how long a stopping node takes to close its websockets, so
	// that their clients do not all reconnect at once.
	Drain     time.Duration
	PublicURL string // base of the URLs Parley hands out; "" means from the listen address
	Region    string
	AccountID string
	ViewsDir  string

	// Attachments.
	ClamdAddr           string        // "" means no virus scanning
	AttachmentMaxBytes  int64         // default limit until set over the Connect API
	AttachmentRetention time.Duration // 0 keeps attachments forever
	ChatRetention       time.Duration // 0 keeps ended chats forever
	AttachmentMinFree   int64         // uploads are refused when they would leave less free space

	// ConnectionTTL is how long connection tokens and websocket URLs live.
	ConnectionTTL time.Duration
	// ConnectWithin ends a chat whose customer has created no participant
	// connection this long after it started; zero never does.
	ConnectWithin time.Duration

	// S3: attachment bytes in a bucket instead of DataDir. The endpoint,
	// region and credentials come from the AWS SDK's own environment.
	S3Bucket    string
	S3Prefix    string
	S3PathStyle bool
	S3Direct    bool // hand out presigned S3 URLs, as Connect does

	// PprofAddr, if set, serves net/http/pprof there; only a loopback
	// address is accepted.
	PprofAddr string
	// MetricsAddr, if set, serves /metrics there instead of on Addr.
	MetricsAddr string
	// LogFormat is text or json; LogLevel debug, info, warn or error.
	LogFormat, LogLevel string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see package realip).
	TrustedProxies []netip.Prefix

	// Limits on clients (see package netlimit).
	BodyTimeout      time.Duration // a request body must arrive within it; an upload must keep up UploadMinRate over it
	UploadMinRate    int64         // bytes a second
	UploadLease      time.Duration // a cluster node's claim on an upload it receives holds this long unless renewed
	MaxConns         int           // open connections in total
	MaxConnsPerAddr  int           // open connections from one client address
	ParticipantRate  float64       // participant API calls a second, per participant and operation
	ParticipantBurst int
	ClientRate       float64 // participant API calls a second, per client address
	ClientBurst      int

	// The web widget's start-chat endpoint.
	WidgetEnabled   bool
	WidgetOrigins   []string
	WidgetPerMinute int // at least 1
	// WidgetMaxQueued is how many widget chats may wait for an agent at once.
	WidgetMaxQueued int
	// WidgetAbandon ends a queued widget chat whose customer has had no
	// websocket open for this long.
	WidgetAbandon time.Duration
	// WidgetBranding is how the widget looks: its title, colour, logo,
	// welcome text and corner (PARLEY_WIDGET_TITLE and so on).
	WidgetBranding Branding

	// ThrottleConnect applies Amazon Connect's documented API request rates
	// (PARLEY_THROTTLE=connect), for testing clients' retries.
	ThrottleConnect bool
	// StreamingEndpoints maps SNS topic ARNs to the HTTPS endpoints message
	// streams deliver to (PARLEY_STREAMING_ENDPOINTS).
	StreamingEndpoints map[string]string

	// Identity, from the environment or generated into DataDir.
	AccessKeyID     string
	SecretAccessKey string
	InstanceID      string
	QueueID         string
	Key             secret.Key

	// CredentialsFromEnv says the Connect key pair came from the
	// environment, not from DataDir/identity.json.
	CredentialsFromEnv bool

	// Generated lists what was generated on this start, to tell the user.
	Generated []string
	// IdentityShared says the identity came from the database, shared by
	// every node on it (see ShareIdentity).
	IdentityShared bool

	ident           identity // the data dir's identity, or a generated one
	instanceFromEnv bool
	credentialsSet  bool
}

// Env is how the environment is read (os.Getenv outside tests).
type Env func(string) string

// Parse reads the serve flags, whose defaults come from the environment.
func Parse(args []string, env Env) (*Config, error) {
	return ParseFor("serve", args, env)
}

// ParseFor is Parse for the command named cmd, which takes the server's
// flags to find its deployment: -h then names that command.
func ParseFor(cmd string, args []string, env Env) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", or(env("PARLEY_ADDR"), "127.0.0.1:8080"), "listen address (PARLEY_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", or(env("PARLEY_DATA_DIR"), "./parley-data"), "data directory (PARLEY_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("PARLEY_DATABASE_URL"), "PostgreSQL database, postgres://user:pass@host/db (PARLEY_DATABASE_URL; default SQLite in the data dir)")
	fs.StringVar(&c.NATSURL, "nats-url", env("PARLEY_NATS_URL"), "NATS servers, comma-separated nats:// URLs, to share live chats with the other nodes on the database (PARLEY_NATS_URL; needs PARLEY_DATABASE_URL)")
	fs.StringVar(&c.NodeID, "node-id", env("PARLEY_NODE_ID"), "this node's name in logs and metrics (PARLEY_NODE_ID; default host name and address)")
	fs.StringVar(&c.PublicURL, "public-url", env("PARLEY_PUBLIC_URL"), "base URL for links and websocket URLs (PARLEY_PUBLIC_URL; default from -addr)")
	fs.StringVar(&c.Region, "region", or(env("PARLEY_REGION"), "us-east-1"), "region the Connect API reports in ARNs (PARLEY_REGION)")
	fs.StringVar(&c.AccountID, "account-id", or(env("PARLEY_ACCOUNT_ID"), "000000000000"), "account id the Connect API reports in ARNs (PARLEY_ACCOUNT_ID)")
	fs.StringVar(&c.ViewsDir, "views-dir", env("PARLEY_VIEWS_DIR"), "folder of DescribeView views, one JSON file each (PARLEY_VIEWS_DIR; default DATA_DIR/views)")
	fs.StringVar(&c.InstanceID, "instance-id", env("PARLEY_INSTANCE_ID"), "instance id the Connect API accepts (PARLEY_INSTANCE_ID; generated if empty)")
	ev := &envReader{env: env}
	fs.StringVar(&c.ClamdAddr, "clamd", env("PARLEY_CLAMD"), "clamd address, host:port or unix:/path, to scan attachments (PARLEY_CLAMD)")
	fs.Int64Var(&c.AttachmentMaxBytes, "attachment-max-bytes", ev.int("PARLEY_ATTACHMENT_MAX_BYTES", attach.DefaultMaxBytes),
		"largest attachment until UpdateAttachedFilesConfiguration sets one (PARLEY_ATTACHMENT_MAX_BYTES)")
	fs.DurationVar(&c.ChatRetention, "retention", ev.duration("PARLEY_RETENTION", 0),
		"erase whole chats (items, files, records) this long after they ended, e.g. 2160h; 0 keeps them (PARLEY_RETENTION)")
	fs.DurationVar(&c.AttachmentRetention, "attachment-retention", ev.duration("PARLEY_ATTACHMENT_RETENTION", 0),
		"delete attachments this long after their chat ended, e.g. 720h; 0 keeps them (PARLEY_ATTACHMENT_RETENTION)")
	fs.Int64Var(&c.AttachmentMinFree, "attachment-min-free", ev.int("PARLEY_ATTACHMENT_MIN_FREE", 1<<30),
		"free bytes uploads must leave on the attachments' disk; 0 turns the check off (PARLEY_ATTACHMENT_MIN_FREE)")
	fs.DurationVar(&c.ConnectionTTL, "connection-ttl", ev.duration("PARLEY_CONNECTION_TTL", 24*time.Hour),
		"how long a ConnectionToken lives, as on Connect a day (PARLEY_CONNECTION_TTL)")
	fs.DurationVar(&c.ConnectWithin, "connect-within", ev.duration("PARLEY_CONNECT_WITHIN", 5*time.Minute),
		"end a chat whose customer has not called CreateParticipantConnection this long after it started, as Connect does after 5 minutes; 0 never does (PARLEY_CONNECT_WITHIN)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("PARLEY_METRICS_ADDR"), "serve Prometheus metrics on this address instead of at /metrics on the main one (PARLEY_METRICS_ADDR)")
	fs.DurationVar(&c.Drain, "drain", ev.seconds("PARLEY_DRAIN_SECONDS", 20),
		"on SIGTERM, close the websockets paced over this long (PARLEY_DRAIN_SECONDS, in seconds)")
	fs.StringVar(&c.LogFormat, "log-format", or(env("PARLEY_LOG_FORMAT"), "text"), "log lines as text or json (PARLEY_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", or(env("PARLEY_LOG_LEVEL"), "info"), "least severe lines logged: debug, info, warn or error (PARLEY_LOG_LEVEL)")
	fs.StringVar(&c.PprofAddr, "pprof", env("PARLEY_PPROF"), "serve Go's profiler on this address, e.g. 127.0.0.1:6060 (PARLEY_PPROF)")
	fs.StringVar(&c.S3Bucket, "s3-bucket", env("PARLEY_S3_BUCKET"), "keep attachment bytes in this S3 bucket; endpoint and credentials from AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID... (PARLEY_S3_BUCKET)")
	fs.StringVar(&c.S3Prefix, "s3-prefix", env("PARLEY_S3_PREFIX"), "key prefix in the S3 bucket (PARLEY_S3_PREFIX)")
	fs.BoolVar(&c.S3PathStyle, "s3-path-style", ev.bool("PARLEY_S3_PATH_STYLE", false), "address the bucket in the URL path, as most self-hosted S3 servers want (PARLEY_S3_PATH_STYLE)")
	direct := fs.String("s3-direct", or(env("PARLEY_S3_DIRECT"), "off"), "hand clients presigned S3 URLs so that attachment bytes bypass Parley: on or off (PARLEY_S3_DIRECT)")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", ev.duration("PARLEY_BODY_TIMEOUT", 30*time.Second),
		"time a request body may take to arrive; uploads must instead keep up -upload-min-rate over each such window (PARLEY_BODY_TIMEOUT)")
	fs.Int64Var(&c.UploadMinRate, "upload-min-rate", ev.int("PARLEY_UPLOAD_MIN_RATE", 1024),
		"bytes a second an upload must average over each -body-timeout window, or it is cut (PARLEY_UPLOAD_MIN_RATE)")
	fs.DurationVar(&c.UploadLease, "upload-lease", ev.duration("PARLEY_UPLOAD_LEASE", 30*time.Second),
		"on a cluster, how long a node's claim on an upload it receives holds unless renewed: the retry through another node of one whose node died waits this long (PARLEY_UPLOAD_LEASE)")
	fs.IntVar(&c.MaxConns, "max-conns", int(ev.int("PARLEY_MAX_CONNS", 0)),
		"open connections in total; 0 means the open-file limit less a reserve (PARLEY_MAX_CONNS)")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-addr", int(ev.int("PARLEY_MAX_CONNS_PER_ADDR", 0)),
		"open connections from one client address, loopback excepted; 0 means a quarter of -max-conns, at most 1000 (PARLEY_MAX_CONNS_PER_ADDR)")
	fs.Float64Var(&c.ParticipantRate, "participant-rate", ev.float("PARLEY_PARTICIPANT_RATE", 10),
		"participant API calls a second one participant may make to each operation; 0 turns the limit off (PARLEY_PARTICIPANT_RATE)")
	fs.IntVar(&c.ParticipantBurst, "participant-burst", int(ev.int("PARLEY_PARTICIPANT_BURST", 300)),
		"calls a participant may make to one operation in a burst, above -participant-rate (PARLEY_PARTICIPANT_BURST)")
	fs.Float64Var(&c.ClientRate, "client-rate", ev.float("PARLEY_CLIENT_RATE", 500),
		"participant API calls a second from one client address, loopback excepted; 0 turns the limit off (PARLEY_CLIENT_RATE)")
	fs.IntVar(&c.ClientBurst, "client-burst", int(ev.int("PARLEY_CLIENT_BURST", 1000)),
		"participant API calls from one client address in a burst, above -client-rate (PARLEY_CLIENT_BURST)")
	widget := fs.String("widget", or(env("PARLEY_WIDGET"), "on"), "the web widget's start-chat endpoint: on or off (PARLEY_WIDGET)")
	origins := fs.String("widget-origins", or(env("PARLEY_WIDGET_ORIGINS"), "*"), "origins whose pages may start chats, comma-separated, or * (PARLEY_WIDGET_ORIGINS)")
	fs.IntVar(&c.WidgetPerMinute, "widget-rate", int(ev.int("PARLEY_WIDGET_RATE", 30)),
		"chats one address (an IPv6 /64) may start per minute, at least 1 (PARLEY_WIDGET_RATE)")
	fs.IntVar(&c.WidgetMaxQueued, "widget-max-queued", int(ev.int("PARLEY_WIDGET_MAX_QUEUED", 200)),
		"widget chats that may wait for an agent at once (PARLEY_WIDGET_MAX_QUEUED)")
	fs.DurationVar(&c.WidgetAbandon, "widget-abandon", ev.duration("PARLEY_WIDGET_ABANDON", 2*time.Minute),
		"end a queued widget chat whose customer has had no websocket this long (PARLEY_WIDGET_ABANDON)")
	fs.StringVar(&c.WidgetBranding.Title, "widget-title", or(env("PARLEY_WIDGET_TITLE"), "Chat with us"), "the widget's title (PARLEY_WIDGET_TITLE)")
	fs.StringVar(&c.WidgetBranding.Color, "widget-color", or(env("PARLEY_WIDGET_COLOR"), "#1f5fbf"), "the widget's colour, #rgb or #rrggbb (PARLEY_WIDGET_COLOR)")
	fs.StringVar(&c.WidgetBranding.Logo, "widget-logo", env("PARLEY_WIDGET_LOGO"), "the widget's logo: an https URL or a path on this server (PARLEY_WIDGET_LOGO)")
	fs.StringVar(&c.WidgetBranding.Welcome, "widget-welcome", or(env("PARLEY_WIDGET_WELCOME"), "Tell us your name and we will connect you with an agent."),
		"the text above the widget's start form (PARLEY_WIDGET_WELCOME)")
	fs.StringVar(&c.WidgetBranding.Position, "widget-position", or(env("PARLEY_WIDGET_POSITION"), "right"), "the corner the embedded widget sits in: right or left (PARLEY_WIDGET_POSITION)")
	proxies := fs.String("trusted-proxies", env("PARLEY_TRUSTED_PROXIES"),
		"reverse proxies whose X-Forwarded-For is believed, comma-separated CIDRs (PARLEY_TRUSTED_PROXIES)")
	streams := fs.String("streaming-endpoints", env("PARLEY_STREAMING_ENDPOINTS"), "message streaming: comma-separated arn:aws:sns:…=https://… pairs (PARLEY_STREAMING_ENDPOINTS)")
	throttle := fs.String("throttle", or(env("PARLEY_THROTTLE"), "off"), "connect applies Amazon Connect's API request rates; off does not (PARLEY_THROTTLE)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch *throttle {
	case "connect":
		c.ThrottleConnect = true
	case "off", "":
	default:
		return nil, fmt.Errorf("PARLEY_THROTTLE must be connect or off, not %q", *throttle)
	}
	if ev.err != nil {
		return nil, ev.err
	}
	endpoints, err := streaming.ParseEndpoints(*streams)
	if err != nil {
		return nil, fmt.Errorf("PARLEY_STREAMING_ENDPOINTS: %w", err)
	}
	c.StreamingEndpoints = endpoints
	if c.AttachmentRetention < 0 || c.ChatRetention < 0 || c.AttachmentMinFree < 0 {
		return nil, errors.New("the retentions and the free-space floor cannot be negative")
	}
	// A rate of 0 once meant "no limit"; now every widget chat is limited,
	// and PARLEY_WIDGET=off is how to have none.
	if c.WidgetPerMinute < 1 {
		return nil, fmt.Errorf("PARLEY_WIDGET_RATE must be at least 1 chat a minute, not %d (PARLEY_WIDGET=off turns the endpoint off)", c.WidgetPerMinute)
	}
	if c.WidgetMaxQueued < 1 {
		return nil, fmt.Errorf("PARLEY_WIDGET_MAX_QUEUED must be at least 1, not %d", c.WidgetMaxQueued)
	}
	if c.ConnectWithin < 0 {
		return nil, fmt.Errorf("PARLEY_CONNECT_WITHIN must not be negative, not %s (0 turns the rule off)", c.ConnectWithin)
	}
	if c.UploadLease < time.Second {
		return nil, fmt.Errorf("PARLEY_UPLOAD_LEASE must be at least 1s, not %s: a node renews it every third of it", c.UploadLease)
	}
	if c.WidgetAbandon < time.Second {
		return nil, fmt.Errorf("PARLEY_WIDGET_ABANDON must be at least 1s, not %s: a customer's page needs time to reconnect", c.WidgetAbandon)
	}
	if c.TrustedProxies, err = realip.ParsePrefixes(*proxies); err != nil {
		return nil, fmt.Errorf("PARLEY_TRUSTED_PROXIES: %w", err)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("PARLEY_LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("PARLEY_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.PprofAddr != "" {
		if err := checkLoopback(c.PprofAddr); err != nil {
			return nil, fmt.Errorf("PARLEY_PPROF %q: %w", c.PprofAddr, err)
		}
	}
	switch *direct {
	case "on", "true", "1":
		if c.S3Bucket == "" {
			return nil, errors.New("PARLEY_S3_DIRECT=on needs PARLEY_S3_BUCKET")
		}
		c.S3Direct = true
	case "off", "false", "0":
	default:
		return nil, fmt.Errorf("PARLEY_S3_DIRECT must be on or off, not %q", *direct)
	}
	if c.BodyTimeout <= 0 || c.UploadMinRate < 0 || c.MaxConns < 0 || c.MaxConnsPerAddr < 0 ||
		c.ParticipantRate < 0 || c.ClientRate < 0 || c.ParticipantBurst < 1 || c.ClientBurst < 1 {
		return nil, errors.New("the body timeout and bursts must be positive; the upload rate, connection caps and rates cannot be negative")
	}
	// ParseFloat takes NaN and Inf, which no limiter can count with: a NaN
	// rate quietly allowed every call.
	for _, r := range []float64{c.ParticipantRate, c.ClientRate} {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("PARLEY_PARTICIPANT_RATE and PARLEY_CLIENT_RATE must be numbers of calls a second, not %v (0 turns a limit off)", r)
		}
	}
	switch *widget {
	case "on", "true", "1":
		c.WidgetEnabled = true
	case "off", "false", "0":
	default:
		return nil, fmt.Errorf("PARLEY_WIDGET must be on or off, not %q", *widget)
	}
	if err := c.WidgetBranding.Check(); err != nil {
		return nil, err
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.WidgetOrigins = append(c.WidgetOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	if c.ConnectionTTL < time.Minute+5*time.Second {
		return nil, errors.New("the connection lifetime must be at least 65s: clients refresh a minute before expiry")
	}
	if c.AttachmentMaxBytes < 1 || c.AttachmentMaxBytes > attach.MaxBytesCeiling {
		return nil, fmt.Errorf("the attachment size limit must be 1 to %d bytes", attach.MaxBytesCeiling)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	c.AccessKeyID, c.SecretAccessKey = env("PARLEY_ACCESS_KEY_ID"), env("PARLEY_SECRET_ACCESS_KEY")
	c.CredentialsFromEnv = c.AccessKeyID != ""
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("set both PARLEY_ACCESS_KEY_ID and PARLEY_SECRET_ACCESS_KEY, or neither")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("PARLEY_PUBLIC_URL %q must be an http:// or https:// URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return nil, errors.New("PARLEY_DATABASE_URL must be a postgres:// or postgresql:// URL")
	}
	if c.NATSURL != "" && c.DatabaseURL == "" {
		return nil, errors.New("PARLEY_NATS_URL needs PARLEY_DATABASE_URL: nodes share chats through one PostgreSQL database, and NATS only tells them when to read it (a node on SQLite is alone)")
	}
	if c.Drain < 0 {
		return nil, errors.New("PARLEY_DRAIN_SECONDS cannot be negative")
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = host + "/" + c.Addr
	}
	if c.ViewsDir == "" {
		c.ViewsDir = filepath.Join(c.DataDir, "views")
	}
	return c, nil
}

// checkLoopback accepts host:port addresses that only this machine can
// reach: the profiler shows memory and must never be public.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port, e.g. 127.0.0.1:6060")
	}
	if host == "localhost" {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return nil
	}
	return errors.New("the profiler listens only on a loopback address, e.g. 127.0.0.1:6060 or [::1]:6060")
}

// envReader reads typed defaults from the environment, remembering the
// first malformed value so that Parse can refuse it.
type envReader struct {
	env Env
	err error
}

func (r *envReader) int(name string, def int64) int64 {
	v := r.env(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s=%q is not a whole number", name, v)
	}
	return n
}

// seconds reads a whole number of seconds. A number of seconds beyond
// time.Duration's range (292 years) is refused: multiplied out it would
// wrap around to some other, arbitrary duration.
func (r *envReader) seconds(name string, def int64) time.Duration {
	n := r.int(name, def)
	if (n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second)) && r.err == nil {
		r.err = fmt.Errorf("%s=%d is more seconds than a duration holds", name, n)
	}
	return time.Duration(n) * time.Second
}

func (r *envReader) float(name string, def float64) float64 {
	v := r.env(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s=%q is not a number", name, v)
	}
	return f
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := r.env(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s=%q is not a duration such as 720h", name, v)
	}
	return d
}

func (r *envReader) bool(name string, def bool) bool {
	v := r.env(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s=%q is not true or false", name, v)
	}
	return b
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// identity is what the data dir keeps of a generated identity.
type identity struct {
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	InstanceID      string `json:"instance_id"`
	QueueID         string `json:"queue_id"`
	Key             string `json:"key"`
}

// LoadIdentity creates the data dir if needed and fills in whatever the
// configuration leaves unset from DataDir/identity.json, generating and
// saving it on first start.
func (c *Config) LoadIdentity() error {
	c.instanceFromEnv, c.credentialsSet = c.InstanceID != "", c.AccessKeyID != ""
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(c.DataDir, "identity.json")
	var id identity
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &id); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	changed := false
	if id.Key == "" {
		k := secret.NewKey()
		id.Key, changed = hex.EncodeToString(k[:]), true
	}
	if id.QueueID == "" {
		id.QueueID, changed = secret.NewUUID(), true
	}
	if id.InstanceID == "" {
		id.InstanceID, changed = secret.NewUUID(), true
		if c.InstanceID == "" {
			c.Generated = append(c.Generated, "instance id")
		}
	}
	// With a database, a pair is generated even when the environment sets
	// one: it is offered to nodes whose environment does not.
	if id.AccessKeyID == "" && (!c.credentialsSet || c.DatabaseURL != "") {
		akid := secret.NewKey()
		id.AccessKeyID = "PARLEY" + strings.ToUpper(hex.EncodeToString(akid[:7]))
		id.SecretAccessKey, changed = secret.NewToken()[:40], true
		if !c.credentialsSet {
			c.Generated = append(c.Generated, "credentials")
		}
	}
	// With a database the identity lives there (ShareIdentity): the data
	// dir holds only scratch files. An identity.json left from a single
	// node is still read, so that the first node offers it to the others.
	if changed && c.DatabaseURL == "" {
		b, _ := json.MarshalIndent(id, "", "  ")
		if err := atomicfile.Write(path, b, 0o600); err != nil {
			return err
		}
	}
	c.ident = id
	return c.adopt(id, path)
}

// adopt fills in the key, the queue id and whatever the environment left
// unset from id.
func (c *Config) adopt(id identity, from string) error {
	key, err := hex.DecodeString(id.Key)
	if err != nil || len(key) != len(c.Key) {
		return fmt.Errorf("%s: key must be %d hex bytes", from, len(c.Key))
	}
	copy(c.Key[:], key)
	c.QueueID = id.QueueID
	if !c.instanceFromEnv {
		c.InstanceID = id.InstanceID
	}
	if !c.credentialsSet {
		c.AccessKeyID, c.SecretAccessKey = id.AccessKeyID, id.SecretAccessKey
	}
	return nil
}

// ShareIdentity makes the identity the one every node on the database
// shares. share stores its argument unless the database holds an identity
// already, and returns the stored one: the first node to start offers its
// own (from its data dir, or generated) and every later node adopts it.
// Values set in the environment still win on the node that sets them.
func (c *Config) ShareIdentity(share func(candidate []byte) ([]byte, error)) error {
	if c.ident.Key == "" {
		return errors.New("config: ShareIdentity before LoadIdentity")
	}
	mine, _ := json.Marshal(c.ident)
	doc, err := share(mine)
	if err != nil {
		return err
	}
	var id identity
	if err := json.Unmarshal(doc, &id); err != nil || id.Key == "" || id.QueueID == "" || id.InstanceID == "" {
		return fmt.Errorf("the identity stored in the database is malformed")
	}
	if id != c.ident {
		// Another node generated it: nothing here was generated.
		c.Generated = slices.DeleteFunc(c.Generated, func(g string) bool { return g == "credentials" || g == "instance id" })
	}
	c.ident, c.IdentityShared = id, true
	return c.adopt(id, "the database's identity")
}

// BaseURL returns the public base URL: PublicURL, or one built from the
// address the server listens on. A wildcard host becomes 127.0.0.1, the only
// plain-ws host ChatJS accepts.
func (c *Config) BaseURL(listen net.Addr) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	host, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return "http://" + listen.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// WebsocketBase turns an http(s) base URL into the ws(s) one.
func WebsocketBase(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}
