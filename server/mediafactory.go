package server

import (
	"context"
	"math"
	"sync/atomic"

	"github.com/agentbar/agentbar/server/callcenter"
	"github.com/agentbar/agentbar/server/media"
)

// mediaFactory gives the call center real media: WebRTC legs to agents'
// phones, plain RTP legs on the trunk, simulated customers and mixing
// bridges, all from server/media.
type mediaFactory struct {
	ip       string // address RTP legs bind
	loopback bool   // gather loopback ICE candidates (a single-host demo)
	seed     atomic.Int64
}

func (m *mediaFactory) NewAgentLeg(onDTMF func(rune)) (callcenter.AgentLeg, error) {
	l, err := media.NewWebRTCLeg(media.WebRTCConfig{LoopbackCandidates: m.loopback, Lite: true, OnDTMF: onDTMF})
	if err != nil {
		return nil, err
	}
	return &agentLeg{port: port{l}, leg: l}, nil
}

func (m *mediaFactory) NewTrunkLeg() (callcenter.TrunkLeg, error) {
	l, err := media.NewRTPLeg(m.ip)
	if err != nil {
		return nil, err
	}
	return &trunkLeg{port: port{l}, leg: l}, nil
}

func (m *mediaFactory) NewCustomer() (callcenter.Port, error) {
	return port{media.NewSimParty(m.seed.Add(1))}, nil
}

func (m *mediaFactory) NewBridge() callcenter.Bridge { return bridge{media.NewBridge()} }

// port adapts a media.Port to the call center's Port.
type port struct{ p media.Port }

func (p port) ReadFrame(ctx context.Context) (callcenter.Frame, error) {
	f, err := p.p.ReadFrame(ctx)
	return callcenter.Frame(f), err
}
func (p port) WriteFrame(f callcenter.Frame) error { return p.p.WriteFrame(media.Frame(f)) }
func (p port) Close() error                        { return p.p.Close() }
func (p port) Stats() callcenter.PortStats {
	s := p.p.Stats()
	return callcenter.PortStats{PacketsIn: s.PacketsIn, PacketsOut: s.PacketsOut, LevelIn: linear(s.LevelIn), LevelOut: linear(s.LevelOut)}
}
func (p port) SendDTMF(d rune) error {
	if s, ok := p.p.(interface{ SendDTMF(string) error }); ok {
		return s.SendDTMF(string(d))
	}
	return nil
}

// linear turns dBFS into the call center's 0..1 scale.
func linear(dbfs float64) float64 {
	if dbfs <= media.SilenceLevel {
		return 0
	}
	return math.Pow(10, dbfs/20)
}

type agentLeg struct {
	port
	leg *media.WebRTCLeg
}

func (a *agentLeg) Offer(ctx context.Context, dir string) ([]byte, error) {
	return a.leg.Offer(ctx, dir)
}
func (a *agentLeg) Answer(ctx context.Context, offer []byte) ([]byte, error) {
	return a.leg.Answer(ctx, offer)
}
func (a *agentLeg) SetAnswer(b []byte) error { return a.leg.SetAnswer(b) }

type trunkLeg struct {
	port
	leg *media.RTPLeg
}

func (t *trunkLeg) Offer(dir string) []byte             { return t.leg.Offer(dir) }
func (t *trunkLeg) Answer(offer []byte) ([]byte, error) { return t.leg.Answer(offer) }
func (t *trunkLeg) SetAnswer(b []byte) error            { return t.leg.SetAnswer(b) }

// bridge adapts media.Bridge; ports from this factory are unwrapped, any
// other call-center port is adapted the other way.
type bridge struct{ b *media.Bridge }

func (b bridge) Add(p callcenter.Port)           { b.b.Add(unwrap(p)) }
func (b bridge) Remove(p callcenter.Port)        { b.b.Remove(unwrap(p)) }
func (b bridge) Hold(p callcenter.Port, on bool) { b.b.Hold(unwrap(p), on) }
func (b bridge) Close()                          { b.b.Close() }

func unwrap(p callcenter.Port) media.Port {
	switch v := p.(type) {
	case port:
		return v.p
	case *agentLeg:
		return v.leg
	case *trunkLeg:
		return v.leg
	}
	return foreign{p}
}

// foreign adapts a call-center port the factory did not make.
type foreign struct{ p callcenter.Port }

func (f foreign) ReadFrame(ctx context.Context) (media.Frame, error) {
	fr, err := f.p.ReadFrame(ctx)
	return media.Frame(fr), err
}
func (f foreign) WriteFrame(fr media.Frame) error { return f.p.WriteFrame(callcenter.Frame(fr)) }
func (f foreign) Stats() media.Stats {
	s := f.p.Stats()
	return media.Stats{PacketsIn: s.PacketsIn, PacketsOut: s.PacketsOut}
}
func (f foreign) Close() error { return f.p.Close() }
