package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
	"github.com/agentbar/agentbar/proxy/huawei"
	"github.com/agentbar/agentbar/server/config"
	"github.com/agentbar/agentbar/server/huaweiemu"
)

// huaweiDemo is the demo mode's emulated CC-Gateway: the emulator in
// front of the built-in call center, served on its own loopback listener
// (with the adapter's push callback in push mode).
type huaweiDemo struct {
	emu *huaweiemu.Emulator
	srv *http.Server
	ln  net.Listener
	url string
	err chan error // Serve's end, once serve ran
}

// serve starts serving the emulator and, if not nil, the push callback.
func (d *huaweiDemo) serve(push http.Handler) {
	d.srv.Handler = d.emu
	if push != nil {
		mux := http.NewServeMux()
		mux.Handle("/", d.emu)
		mux.Handle(huawei.PushPath, push)
		d.srv.Handler = mux
	}
	d.err = make(chan error, 1)
	go func() { d.err <- d.srv.Serve(d.ln) }()
}

// close stops serving and the emulator (after the hub signed agents out).
func (d *huaweiDemo) close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if d.err == nil {
		d.ln.Close()
	} else {
		_ = d.srv.Shutdown(sctx)
		<-d.err
	}
	d.emu.Close()
}

// startHuawei builds the Huawei adapter (and, without a base URL, the demo
// emulator it talks to) and makes it the server's gateway.
func (s *Server) startHuawei() error {
	hc := s.cfg.Gateway.Huawei
	acfg := huawei.Config{
		BaseURL:          hc.BaseURL,
		Agents:           map[string]huawei.Agent{},
		PollMinGap:       hc.Poll.MinGap,
		PollMaxGap:       hc.Poll.MaxGap,
		ErrorBackoff:     hc.Poll.ErrorBackoff,
		PollTimeout:      hc.Poll.Timeout,
		CallTimeout:      hc.Poll.CallTimeout,
		ResignInAttempts: hc.Poll.ResignInAttempts,
		ResignInBackoff:  hc.Poll.ResignInBackoff,
		ManualAnswer:     *hc.ManualAnswer,
		WrapUp:           *hc.WrapUp,
		CallDataTimeout:  hc.CallDataTimeout,
		StatsTTL:         hc.CMS.StatsTTL,
		Logger:           s.log.With("component", "huawei"),
	}
	for _, r := range hc.Reasons {
		acfg.Reasons = append(acfg.Reasons, gateway.Reason{Code: r.Code, Label: r.Label, Rest: r.Rest})
	}
	for id, a := range hc.Agents {
		acfg.Agents[id] = huawei.Agent{WorkNo: a.WorkNo, Password: a.Password, PhoneNumber: a.Phone}
	}
	if hc.BaseURL == "" {
		if s.cc == nil {
			return errors.New("huawei demo: needs the built-in call center")
		}
		demo, err := s.startHuaweiDemo(&acfg)
		if err != nil {
			return err
		}
		s.hwDemo = demo
		acfg.BaseURL = demo.url
		acfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: hc.InsecureSkipVerify}
		if hc.CAFile != "" {
			pem, err := os.ReadFile(hc.CAFile)
			if err != nil {
				return fmt.Errorf("gateway.huawei.ca_file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("gateway.huawei.ca_file: %s holds no PEM certificate", hc.CAFile)
			}
			tc.RootCAs = pool
		}
		if hc.InsecureSkipVerify {
			s.log.Warn("gateway.huawei.insecure_skip_verify is on: the CC-Gateway's certificate is not checked")
		}
		tr.TLSClientConfig = tc
		acfg.HTTPClient = &http.Client{Transport: tr}
	}
	if hc.CMS.AK != "" {
		acfg.CMS = &huawei.CMSConfig{BaseURL: hc.CMS.BaseURL, AK: hc.CMS.AK, SK: hc.CMS.SK, CCID: hc.CMS.CCID, VDN: hc.CMS.VDN}
	}
	if hc.Events == config.HuaweiPushEvents {
		cb := hc.Push.CallbackURL
		switch {
		case s.hwDemo != nil:
			cb = s.hwDemo.url + huawei.PushPath
		case cb == "":
			cb = strings.TrimRight(s.cfg.PublicURL, "/") + huawei.PushPath
		}
		acfg.Push = &huawei.PushConfig{CallbackURL: cb, Heartbeat: hc.Push.Heartbeat}
	}
	a, err := huawei.New(acfg)
	if err != nil {
		if s.hwDemo != nil {
			s.hwDemo.close(context.Background())
			s.hwDemo = nil
		}
		return err
	}
	if s.hwDemo != nil {
		s.hwDemo.serve(a.PushHandler())
	}
	s.gw = a
	mode := "demo (built-in emulator)"
	if hc.BaseURL != "" {
		mode = "CC-Gateway"
	}
	s.log.Info("gateway: huawei", "mode", mode, "events", hc.Events, "agents", len(acfg.Agents), "cms", acfg.CMS != nil)
	return nil
}

// mountHuawei mounts the Huawei adapter's push callback at
// huawei.PushPath on mux when the adapter runs in push mode, for a real
// CC-Gateway to reach through public_url (routes calls it).
func (s *Server) mountHuawei(mux *http.ServeMux) {
	if a, ok := s.gw.(*huawei.Adapter); ok {
		if h := a.PushHandler(); h != nil {
			mux.Handle("POST "+huawei.PushPath, h)
		}
	}
}

// startHuaweiDemo completes acfg's agent directory from the call center's
// agents (work number and phone = the agent id, a random CTI password per
// run unless configured), makes the emulator with the same accounts and
// queues on a loopback listener and returns it, not serving yet. Without
// a CMS account, acfg gets a random one on the emulator's CMS.
func (s *Server) startHuaweiDemo(acfg *huawei.Config) (*huaweiDemo, error) {
	hc := s.cfg.Gateway.Huawei
	ecfg := huaweiemu.Config{
		Gateway:      s.cc.Gateway(),
		Agents:       map[string]huaweiemu.Agent{},
		GuidInterval: hc.Demo.GuidInterval,
		GuidTimeout:  hc.Demo.GuidTimeout,
		PollHold:     hc.Demo.PollHold,
		Logger:       s.log.With("component", "huaweiemu"),
	}
	for _, q := range s.cfg.CallCenter.Queues {
		ecfg.Queues = append(ecfg.Queues, huaweiemu.Queue{ID: q.ID, Name: q.Name})
	}
	queues := map[string][]string{}
	for _, ag := range s.cfg.CallCenter.Agents {
		queues[ag.ID] = ag.Queues
		a := acfg.Agents[ag.ID]
		if a.WorkNo == "" {
			a.WorkNo = ag.ID
		}
		if a.PhoneNumber == "" {
			a.PhoneNumber = ag.ID
		}
		if a.Password == "" {
			a.Password = randomHex(12)
		}
		acfg.Agents[ag.ID] = a
	}
	for id, a := range acfg.Agents {
		if a.WorkNo != id {
			// The emulator signs the work number in at the call center.
			return nil, fmt.Errorf("gateway.huawei.agents: %s: in demo mode work_no must be the agent id", id)
		}
		ecfg.Agents[a.WorkNo] = huaweiemu.Agent{Password: a.Password, PhoneNumber: a.PhoneNumber, Queues: queues[id]}
	}
	ln, err := net.Listen("tcp", hc.Demo.Listen)
	if err != nil {
		return nil, fmt.Errorf("huawei demo: %w", err)
	}
	url := "http://" + ln.Addr().String()
	if hc.CMS.AK != "" {
		ecfg.AKSK = map[string]string{hc.CMS.AK: hc.CMS.SK}
	} else {
		cms := &huawei.CMSConfig{BaseURL: url, AK: randomHex(8), SK: randomHex(16), CCID: hc.CMS.CCID, VDN: hc.CMS.VDN}
		ecfg.AKSK, acfg.CMS = map[string]string{cms.AK: cms.SK}, cms
	}
	if s.huaweiEmulatorHook != nil {
		s.huaweiEmulatorHook(&ecfg)
	}
	emu, err := huaweiemu.New(ecfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("huawei demo: %w", err)
	}
	if len(hc.Reasons) == 0 {
		acfg.Reasons = emu.Reasons()
	}
	d := &huaweiDemo{
		emu: emu,
		srv: &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)},
		ln:  ln,
		url: url,
	}
	s.log.Info("huawei demo: emulated CC-Gateway listening", "addr", ln.Addr().String(), "agents", len(ecfg.Agents))
	return d, nil
}

// randomHex is n random bytes in hex (crypto/rand does not fail).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// huaweiConfigured reports whether cfg selects the Huawei adapter.
func huaweiConfigured(cfg *config.Config) bool { return cfg.Gateway.Kind == config.GatewayHuawei }
