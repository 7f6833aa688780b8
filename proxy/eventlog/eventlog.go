package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults applied by Open to a zero Config field.
const (
	DefaultStream = "AGENTBAR_EVENTS"
	DefaultMaxAge = 24 * time.Hour
)

// Subject prefixes of the two streams. The agent id is the last token.
const (
	eventSubjectPrefix = "agentbar.events."
	headSubjectPrefix  = "agentbar.heads."
)

// SeqHeader is the message header that carries an event's per-agent
// sequence number in decimal.
const SeqHeader = "Agentbar-Seq"

// maxAgentLen is the longest agent id accepted.
const maxAgentLen = 64

// startTimeout bounds the wait for the embedded server when ctx has no
// deadline.
const startTimeout = 10 * time.Second

// Error is the type of this package's sentinel errors; being a string
// constant, a sentinel cannot be reassigned.
type Error string

// Error implements the error interface.
func (e Error) Error() string { return string(e) }

// Sentinel errors; match them with errors.Is.
const (
	// ErrInvalidAgent reports an agent id outside [A-Za-z0-9_-]{1,64}.
	ErrInvalidAgent Error = "eventlog: invalid agent id"
	// ErrClosed reports a call on a Log after Close.
	ErrClosed Error = "eventlog: log closed"
	// ErrConfig reports an unusable Config.
	ErrConfig Error = "eventlog: invalid config"
	// ErrCorrupt reports a stored message without a valid sequence header.
	ErrCorrupt Error = "eventlog: stored message has no valid " + SeqHeader + " header"
)

// Config says where the log lives and how long it keeps events.
type Config struct {
	// URL of an external NATS server or cluster, e.g.
	// nats://127.0.0.1:4222 (several may be given, comma separated).
	// Empty starts an embedded server in this process.
	URL string
	// StoreDir is where the embedded server keeps JetStream files. It is
	// required when URL is empty and ignored otherwise.
	StoreDir string
	// Stream is the JetStream stream name, DefaultStream if empty. Events
	// go to subjects "agentbar.events.<agent>".
	Stream string
	// MaxAge is how long events are retained, DefaultMaxAge if zero.
	MaxAge time.Duration
	// Replicas is the stream replication factor on an external cluster;
	// 1 if zero. The embedded server always uses 1.
	Replicas int
	// Logger receives the log's and the embedded server's messages;
	// slog.Default() if nil.
	Logger *slog.Logger
}

// Log is an open per-agent event log. Its methods are safe for concurrent
// use.
type Log struct {
	cfg    Config
	log    *slog.Logger
	srv    *server.Server // nil when external
	nc     *nats.Conn
	js     jetstream.JetStream
	events jetstream.Stream
	heads  jetstream.Stream

	mu     sync.Mutex
	closed bool
	agents map[string]*agentState
	live   map[string][]*subscription // by agent
	sub    *nats.Subscription         // the live events of every agent
}

// Open connects to the configured NATS (starting the embedded server when
// cfg.URL is empty) and creates or updates the streams.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Log{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "eventlog", "stream", cfg.Stream),
		agents: make(map[string]*agentState),
		live:   make(map[string][]*subscription),
	}
	if err := l.connect(ctx); err != nil {
		l.shutdown()
		return nil, err
	}
	if err := l.createStreams(ctx); err != nil {
		l.shutdown()
		return nil, err
	}
	if err := l.listen(); err != nil {
		l.shutdown()
		return nil, err
	}
	mode := "embedded"
	if cfg.URL != "" {
		mode = "external"
	}
	l.log.Info("event log open", "mode", mode, "max_age", cfg.MaxAge)
	return l, nil
}

func (c *Config) validate() error {
	if c.URL == "" && c.StoreDir == "" {
		return fmt.Errorf("%w: StoreDir is required for the embedded server", ErrConfig)
	}
	if !validName(c.Stream, 200) {
		return fmt.Errorf("%w: stream name %q must match [A-Za-z0-9_-]{1,200}", ErrConfig, c.Stream)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("%w: negative MaxAge", ErrConfig)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("%w: Replicas must be 1 to 5", ErrConfig)
	}
	if c.URL == "" && c.Replicas != 1 {
		return fmt.Errorf("%w: the embedded server has one replica", ErrConfig)
	}
	return nil
}

// connect starts the embedded server if needed and opens the client
// connection.
func (l *Log) connect(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("agentbar-eventlog"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				l.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			l.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			l.resyncAll() // live events sent meanwhile were lost
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			l.log.Warn("nats async error", "err", err)
			if errors.Is(err, nats.ErrSlowConsumer) {
				l.resyncAll() // the live subscription dropped events
			}
		}),
	}
	url := l.cfg.URL
	if url == "" {
		srv, err := server.NewServer(&server.Options{
			ServerName: "agentbar-eventlog",
			JetStream:  true,
			StoreDir:   l.cfg.StoreDir,
			DontListen: true,
			NoSigs:     true,
		})
		if err != nil {
			return fmt.Errorf("eventlog: embedded nats server: %w", err)
		}
		srv.SetLoggerV2(serverLogger{l.log.With("nats", "embedded")}, false, false, false)
		l.srv = srv
		srv.Start()
		wait := startTimeout
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl)
		}
		if !srv.ReadyForConnections(wait) {
			return errors.New("eventlog: embedded nats server did not start")
		}
		if !srv.JetStreamEnabled() {
			return errors.New("eventlog: embedded nats server has no JetStream (see its log)")
		}
		opts = append(opts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("eventlog: connect to nats: %w", err)
	}
	l.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(
		func(_ jetstream.JetStream, m *nats.Msg, err error) {
			l.log.Warn("head record not stored", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		return fmt.Errorf("eventlog: jetstream: %w", err)
	}
	l.js = js
	return nil
}

// createStreams creates the events and heads streams, or updates them to
// the configured limits.
func (l *Log) createStreams(ctx context.Context) error {
	var err error
	l.events, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        l.cfg.Stream,
		Description: "agentbar per-agent events",
		Subjects:    []string{eventSubjectPrefix + "*"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      l.cfg.MaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    l.cfg.Replicas,
		// Every stored event is published again for the live fan-out
		// (subscribe.go): the copy exists only once the event is stored,
		// and carries its stream sequence.
		RePublish: &jetstream.RePublish{
			Source:      eventSubjectPrefix + "*",
			Destination: liveSubjectPrefix + "{{wildcard(1)}}",
		},
	})
	if err != nil {
		return fmt.Errorf("eventlog: stream %s: %w", l.cfg.Stream, err)
	}
	l.heads, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              l.cfg.Stream + "_HEADS",
		Description:       "agentbar newest per-agent sequence numbers",
		Subjects:          []string{headSubjectPrefix + "*"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
		Replicas:          l.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("eventlog: stream %s_HEADS: %w", l.cfg.Stream, err)
	}
	return nil
}

// Ready reports whether the log can take appends and subscriptions now; it
// is meant for a readiness probe and does not block.
func (l *Log) Ready() error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if l.srv != nil && !l.srv.Running() {
		return errors.New("eventlog: embedded nats server is not running")
	}
	if st := l.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("eventlog: nats connection is %s", st)
	}
	return nil
}

// Close stops all subscriptions (waiting for their goroutines), waits
// briefly for pending head records, closes the connection and shuts the
// embedded server down. Calls after the first return nil.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	var subs []*subscription
	for _, agentSubs := range l.live {
		subs = append(subs, agentSubs...)
	}
	l.mu.Unlock()

	for _, s := range subs {
		s.stop()
	}
	select {
	case <-l.js.PublishAsyncComplete():
	case <-time.After(5 * time.Second):
		l.log.Warn("head records still pending at close", "pending", l.js.PublishAsyncPending())
	}
	l.shutdown()
	l.log.Info("event log closed")
	return nil
}

// shutdown closes the connection and the embedded server, whichever exist.
func (l *Log) shutdown() {
	if l.nc != nil {
		l.nc.Close()
	}
	if l.srv != nil {
		l.srv.Shutdown()
		l.srv.WaitForShutdown()
	}
}

// checkOpen returns ErrClosed after Close.
func (l *Log) checkOpen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

// validName reports whether s is 1 to max characters of [A-Za-z0-9_-].
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkAgent validates an agent id; every subject is built only after it.
func checkAgent(agent string) error {
	if validName(agent, maxAgentLen) {
		return nil
	}
	shown := agent
	if len(shown) > maxAgentLen {
		shown = shown[:maxAgentLen] + "..."
	}
	return fmt.Errorf("%w %q: want 1 to %d of [A-Za-z0-9_-]", ErrInvalidAgent, shown, maxAgentLen)
}

// parseSeq reads the per-agent sequence number from a message header.
func parseSeq(h nats.Header) (uint64, error) {
	v := h.Get(SeqHeader)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, ErrCorrupt
	}
	return n, nil
}

// serverLogger forwards the embedded server's log to slog. Notices (the
// start-up banner among them) go to Debug so they do not flood the proxy's
// log; warnings and errors keep their level.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
