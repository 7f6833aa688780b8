package server

import (
	"context"

	"encoding/json"
	"github.com/agentbar/agentbar/server/callcenter"
	"net/http"
	"time"
)

// routes wires the HTTP surface (documented in docs/http-api.md).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.Handle("/v1/session", handleSession(newDirectory(s.cfg.CallCenter.Agents), s.issuer, s.sipAddress, time.Now))
	mux.Handle("GET /v1/agent/ws", s.hub)
	mux.Handle("GET /v1/sip", s.edge)
	s.mountHuawei(mux) // the CC-Gateway's event pushes, in push mode
	if s.cc != nil {
		mux.HandleFunc("POST /v1/demo/calls", s.handleDemoCall)
	}
	mux.Handle("/", webHandler())
	return mux
}

// handleReady reports whether the event bus, the gateway and the call
// center can serve: 200 with "ready", or 503 with what is not.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	if err := s.events.Ready(); err != nil {
		checks["event_bus"] = err.Error()
	}
	if err := s.gw.Ready(ctx); err != nil {
		checks["gateway"] = err.Error()
	}
	if len(checks) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "failing": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// handleMetrics writes the Prometheus exposition.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.WriteTo(w)
}

// registerGauges exposes what is read at scrape time.
func (s *Server) registerGauges() {
	s.metrics.Gauge("agentbar_sessions", func() float64 { return float64(s.hub.Sessions()) })
	s.metrics.Gauge("agentbar_sip_flows", func() float64 { return float64(s.edge.Flows()) })
	if s.cc == nil {
		return
	}
	stat := func(f func(st callcenter.Stats) float64) func() float64 {
		return func() float64 { return f(s.cc.Stats()) }
	}
	s.metrics.Gauge("agentbar_sip_registrations", stat(func(st callcenter.Stats) float64 { return float64(st.Bindings) }))
	s.metrics.Gauge("agentbar_calls_waiting", stat(func(st callcenter.Stats) float64 { return float64(st.Waiting) }))
	for outcome, f := range map[string]func(callcenter.Stats) uint64{
		"received":    func(st callcenter.Stats) uint64 { return st.CallsReceived },
		"answered":    func(st callcenter.Stats) uint64 { return st.CallsAnswered },
		"abandoned":   func(st callcenter.Stats) uint64 { return st.CallsAbandoned },
		"rejected":    func(st callcenter.Stats) uint64 { return st.CallsRejected },
		"missed":      func(st callcenter.Stats) uint64 { return st.CallsMissed },
		"transferred": func(st callcenter.Stats) uint64 { return st.CallsTransfered },
		"ended":       func(st callcenter.Stats) uint64 { return st.CallsEnded },
	} {
		s.metrics.CounterFunc("agentbar_calls_"+outcome+"_total", stat(func(st callcenter.Stats) float64 { return float64(f(st)) }))
	}
}

// demoCall is the body of POST /v1/demo/calls.
type demoCall struct {
	Queue  string            `json:"queue"`
	Caller string            `json:"caller"`
	Data   map[string]string `json:"data"`
}

// handleDemoCall starts a simulated customer call into a queue.
func (s *Server) handleDemoCall(w http.ResponseWriter, r *http.Request) {
	var req demoCall
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Queue == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `send {"queue":"support","caller":"+15550100","data":{...}}`)
		return
	}
	id, err := s.cc.PlaceCall(req.Queue, req.Caller, req.Data)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}
