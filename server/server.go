package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/agentbar/agentbar/proxy/auth"
	"github.com/agentbar/agentbar/proxy/control"
	"github.com/agentbar/agentbar/proxy/control/wire"
	"github.com/agentbar/agentbar/proxy/eventlog"
	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/proxy/sipedge"
	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/huaweiemu"
	"github.com/agentbar/agentbar/server/metrics"
)

// option adjusts a Server before it starts (tests only).
type option func(*Server)

// Server is the agentbar process: the proxy's HTTP surface over the event
// log, the gateway (the built-in call center's local adapter by default),
// the control channel hub and the SIP edge.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics.Registry
	events  *eventlog.Log
	cc      *callcenter.CallCenter // nil when the built-in call center is off
	gw      gateway.Gateway
	hwDemo  *huaweiDemo // the emulated CC-Gateway of the Huawei demo, or nil
	hub     *control.Hub
	edge    *sipedge.Edge
	verify  *auth.Verifier
	issuer  *auth.Issuer
	sipKey  []byte
	handler http.Handler
	// huaweiEmulatorHook, if set (tests), edits the demo emulator's configuration.
	huaweiEmulatorHook func(*huaweiemu.Config)
}

// New builds a Server from cfg: it opens the event log and starts the
// built-in call center (its SIP listeners) but serves no HTTP until Run.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...option) (*Server, error) {
	s := &Server{cfg: cfg, log: log, metrics: metrics.New()}
	for _, o := range opts {
		o(s)
	}
	hmacKey, err := secret(cfg.Auth.HMACKey, "auth.hmac_key", log)
	if err != nil {
		return nil, err
	}
	if s.sipKey, err = secret(cfg.SIP.Secret, "sip.secret", log); err != nil {
		return nil, err
	}
	acfg := auth.Config{Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, MaxLifetime: cfg.Auth.MaxLifetime, HMACKey: hmacKey}
	if cfg.Auth.PublicKeyFile != "" {
		if acfg.PublicKey, err = readPublicKey(cfg.Auth.PublicKeyFile); err != nil {
			return nil, err
		}
	}
	if s.verify, err = auth.NewVerifier(acfg); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if s.issuer, err = auth.NewIssuer(hmacKey, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.Auth.TokenTTL, time.Now); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if s.events, err = eventlog.Open(ctx, eventlog.Config{URL: cfg.Bus.URL, StoreDir: cfg.Bus.StoreDir, Logger: log}); err != nil {
		return nil, fmt.Errorf("event log: %w", err)
	}
	if *cfg.CallCenter.Enabled {
		if s.cc, err = callcenter.New(s.callCenterConfig()); err != nil {
			s.events.Close()
			return nil, fmt.Errorf("call center: %w", err)
		}
	}
	switch {
	case huaweiConfigured(cfg):
		if err = s.startHuawei(); err != nil {
			s.Close(ctx)
			return nil, fmt.Errorf("huawei gateway: %w", err)
		}
	case s.cc != nil:
		s.gw = s.cc.Gateway()
	default:
		s.events.Close()
		return nil, errors.New("no gateway configured: enable the built-in call center or gateway.kind huawei")
	}
	upstream := cfg.SIP.Upstream
	if upstream == "" && s.cc == nil {
		s.Close(ctx)
		return nil, errors.New("sip.upstream: no registrar for the soft phones without the built-in call center")
	}
	if upstream == "" {
		// TCP, not UDP: an INVITE carrying a WebRTC offer (ICE candidates,
		// DTLS fingerprint) is larger than the 1300 bytes sipgo sends
		// over UDP, so the call center could not ring a browser.
		upstream = "sip:" + s.cc.Addrs().SIP + ";transport=tcp"
	}
	if s.edge, err = sipedge.New(sipedge.Config{Upstream: upstream, Authorize: s.authorizeBearer, AllowedOrigins: cfg.AllowedOrigins, Logger: log.With("component", "sipedge")}); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("sip edge: %w", err)
	}
	if s.hub, err = control.NewHub(control.Config{
		Gateway: s.gw, Log: s.events, AllowedOrigins: cfg.AllowedOrigins,
		Verify: s.verifyToken, Renew: s.renewToken, SIPCredentials: s.sipCredentials,
		TokenWarning: cfg.Auth.TokenWarning,
		Logger:       log.With("component", "control"), Metrics: hubMetrics{s.metrics},
	}); err != nil {
		s.Close(ctx)
		return nil, err
	}
	s.registerGauges()
	s.handler = s.routes()
	return s, nil
}

// secret returns the configured secret or, when none is set, a random one
// for this process (logged by name only, never by value).
func secret(v, name string, log *slog.Logger) ([]byte, error) {
	if v != "" {
		return []byte(v), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	log.Warn("no "+name+" configured: using a random one for this run (tokens and credentials do not survive a restart)", "setting", name)
	return b, nil
}

// readPublicKey reads a PEM Ed25519 or RSA public key for CRM-minted JWTs.
func readPublicKey(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth.public_key_file: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("auth.public_key_file: %s holds no PEM block", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth.public_key_file: %w", err)
	}
	if ek, ok := k.(ed25519.PublicKey); ok {
		return ek, nil
	}
	return k, nil
}

// callCenterConfig maps the server configuration to the call center's.
func (s *Server) callCenterConfig() callcenter.Config {
	c := s.cfg.CallCenter
	cc := callcenter.Config{
		SIPListen: c.AgentListen, TrunkListen: c.TrunkListen, Domain: c.Domain,
		WrapUp: c.WrapUp, RingTimeout: c.RingTimeout,
		SIPPassword: s.sipPassword,
		Media:       &mediaFactory{ip: c.MediaIP, loopback: isLoopback(c.MediaIP)},
		Logger:      s.log.With("component", "callcenter"),
	}
	for _, q := range c.Queues {
		cc.Queues = append(cc.Queues, callcenter.QueueConfig{ID: q.ID, Name: q.Name})
	}
	for _, a := range c.Agents {
		cc.Agents = append(cc.Agents, callcenter.AgentConfig{ID: a.ID, Name: a.Name, Queues: a.Queues})
	}
	for _, r := range c.Reasons {
		cc.Reasons = append(cc.Reasons, gateway.Reason{Code: r.Code, Label: r.Label, Rest: r.Rest})
	}
	return cc
}

func isLoopback(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.IsLoopback()
}

// sipPassword is the registrar's digest password for an ephemeral username.
func (s *Server) sipPassword(username string) (string, bool) {
	if _, err := auth.CheckSIPUsername(username, time.Now()); err != nil {
		return "", false
	}
	return auth.SIPPassword(s.sipKey, username), true
}

// sipCredentials hands the page short-lived SIP credentials.
func (s *Server) sipCredentials(agent string) (wire.SIPCredentials, error) {
	cr := auth.NewSIPCredentials(s.sipKey, agent, s.cfg.SIP.CredentialsTTL, time.Now())
	return wire.SIPCredentials{SIPAddress: s.sipAddress(agent), User: cr.Username, Password: cr.Password, Expires: cr.Expires}, nil
}

// sipAddress is the SIP edge and the agent's address of record.
func (s *Server) sipAddress(agent string) wire.SIPAddress {
	edge := "ws" + strings.TrimPrefix(s.cfg.PublicURL, "http") + "/v1/sip"
	return wire.SIPAddress{URI: edge, AOR: "sip:" + agent + "@" + s.cfg.CallCenter.Domain}
}

// verifyToken checks a JWT for the control channel.
func (s *Server) verifyToken(tok string) (string, time.Time, error) {
	c, err := s.verify.Verify(tok)
	if err != nil {
		return "", time.Time{}, err
	}
	return c.Agent(), c.ExpiresAt.Time, nil
}

// renewToken mints a fresh token for the session of a valid one (see
// auth.Issuer.Renew); CRM-minted tokens renew too, counted from their
// auth_time or iat.
func (s *Server) renewToken(tok string) (string, time.Time, error) {
	c, err := s.verify.Verify(tok)
	if err != nil {
		return "", time.Time{}, err
	}
	fresh, exp, err := s.issuer.Renew(c, s.cfg.Auth.MaxSession)
	if errors.Is(err, auth.CodeSessionOver) {
		return "", time.Time{}, &gateway.Error{Code: gateway.Code(auth.CodeSessionOver), Message: "the session has reached its maximum length: sign in again"}
	}
	return fresh, exp, err
}

// authorizeBearer checks the JWT the SIP edge found (Authorization: Bearer).
func (s *Server) authorizeBearer(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", errors.New("no bearer token")
	}
	agent, _, err := s.verifyToken(tok)
	return agent, err
}

// Handler is the server's HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// CallCenter is the built-in call center, or nil.
func (s *Server) CallCenter() *callcenter.CallCenter { return s.cc }

// Run serves HTTP on ln until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// Close signs agents out and stops everything.
func (s *Server) Close(ctx context.Context) {
	if s.hub != nil {
		s.hub.Close(ctx)
	}
	if s.edge != nil {
		s.edge.Close()
	}
	if s.hwDemo != nil {
		s.hwDemo.close(ctx)
	}
	if s.cc != nil {
		s.cc.Close(ctx)
	}
	if s.events != nil {
		s.events.Close()
	}
}

// hubMetrics counts the control channel's work.
type hubMetrics struct{ r *metrics.Registry }

func (m hubMetrics) Command(op, result string) {
	m.r.Add("agentbar_commands_total", 1, "op", op, "result", result)
}
func (m hubMetrics) EventRelayed(d time.Duration) {
	m.r.Add("agentbar_events_relayed_total", 1)
	m.r.Observe("agentbar_event_relay_seconds", d)
}
func (m hubMetrics) Sessions(int) {}
