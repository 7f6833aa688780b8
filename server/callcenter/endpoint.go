package callcenter

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// allowMethods is what our endpoints take, for Allow headers.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER"

// maxUDPPayload is the largest UDP payload over IPv4.
const maxUDPPayload = 65507

// init lets sipgo send a UDP message of any size. sipgo refuses one over
// sip.UDPMTUSize-200 (1300) bytes: RFC 3261 §18.1.1 sends a request that
// large over TCP instead (sipgo does not, it fails), but a response goes
// back the way its request came, fragmented if need be (§18.2.2), and a
// long request from a trunk peer (RFC 4475 §3.1.1.3) otherwise gets no
// answer at all. sipgo offers no per-transport setting, only this package
// variable, so it is set once here, before any goroutine can read it. The
// trade-off: it holds for every sipgo user in the process, and a large
// request over UDP now leaves fragmented where it failed before.
func init() { sip.UDPMTUSize = maxUDPPayload + 200 }

// endpoint is one sipgo user agent with its listeners: one for agents'
// phones (the registrar and the agent side of the B2BUA), one for the trunk.
type endpoint struct {
	name string
	log  *slog.Logger
	// guard, if set, stands in front of sipgo on the UDP socket and the
	// TCP listener (the trunk).
	guard  *guard
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dialog *sipgo.DialogUA
	udp    net.PacketConn
	tcp    net.Listener
	ws     net.Listener // nil unless configured
}

// newEndpoint listens on addr (UDP and TCP, same port) and, if wsAddr is
// set, on wsAddr for SIP over WebSocket. It does not serve yet.
func newEndpoint(name, addr, wsAddr string, log *slog.Logger) (*endpoint, error) {
	log = log.With("sip", name)
	ep := &endpoint{name: name, log: log}
	quiet := sipgoLogger(log)
	var err error
	ep.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("agentbar"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				log.Debug("callcenter: response matches no transaction", "status", r.StatusCode)
			}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("callcenter: %s user agent: %w", name, err)
	}
	if ep.srv, err = sipgo.NewServer(ep.ua, sipgo.WithServerLogger(quiet)); err != nil {
		ep.ua.Close()
		return nil, err
	}
	if ep.cli, err = sipgo.NewClient(ep.ua, sipgo.WithClientLogger(quiet)); err != nil {
		ep.ua.Close()
		return nil, err
	}
	if ep.udp, ep.tcp, err = listenPair(addr); err != nil {
		ep.ua.Close()
		return nil, fmt.Errorf("callcenter: %s listen %s: %w", name, addr, err)
	}
	if wsAddr != "" {
		if ep.ws, err = net.Listen("tcp", wsAddr); err != nil {
			ep.close()
			return nil, fmt.Errorf("callcenter: %s listen ws %s: %w", name, wsAddr, err)
		}
	}
	ep.dialog = &sipgo.DialogUA{Client: ep.cli, ContactHDR: *ep.contact("UDP"), RewriteContact: true}
	return ep, nil
}

// listenPair opens UDP and TCP listeners on the same port; with port 0 it
// picks a port free for both.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || attempt >= 10 {
			return nil, nil, err
		}
	}
}

// serve starts serving every listener on goroutines counted by tr.
func (ep *endpoint) serve(tr *tracker) {
	udp, tcp := ep.udp, ep.tcp
	if ep.guard != nil {
		udp, tcp = &guardConn{PacketConn: udp, g: ep.guard}, guardListener{Listener: tcp, g: ep.guard}
	}
	tr.Go(func() { ep.srv.ServeUDP(udp) })
	tr.Go(func() { ep.srv.ServeTCP(tcp) })
	if ep.ws != nil {
		tr.Go(func() { ep.srv.ServeWS(ep.ws) })
	}
}

// close stops the listeners and the user agent (which ends its transactions).
func (ep *endpoint) close() {
	if ep.ua != nil {
		ep.ua.Close()
	}
	if ep.udp != nil {
		ep.udp.Close()
	}
	if ep.tcp != nil {
		ep.tcp.Close()
	}
	if ep.ws != nil {
		ep.ws.Close()
	}
}

// udpAddr is the UDP listener's address, as sipgo binds requests to it.
func (ep *endpoint) udpAddr() sip.Addr {
	a := ep.udp.LocalAddr().(*net.UDPAddr)
	return sip.Addr{IP: a.IP, Port: a.Port, Hostname: a.IP.String()}
}

// addr is the listener address for a transport (UDP, TCP or WS).
func (ep *endpoint) addr(transport string) string {
	switch strings.ToUpper(transport) {
	case "TCP":
		return ep.tcp.Addr().String()
	case "WS":
		if ep.ws != nil {
			return ep.ws.Addr().String()
		}
	}
	return ep.udp.LocalAddr().String()
}

// contact is our Contact for a dialog over the given transport.
func (ep *endpoint) contact(transport string) *sip.ContactHeader {
	host, port, _ := net.SplitHostPort(ep.addr(transport))
	p, _ := strconv.Atoi(port)
	u := sip.Uri{Scheme: "sip", User: "agentbar", Host: host, Port: p, UriParams: sip.NewParams(), Headers: sip.NewParams()}
	switch t := strings.ToUpper(transport); t {
	case "TCP", "WS":
		u.UriParams.Add("transport", strings.ToLower(t))
	}
	return &sip.ContactHeader{Address: u, Params: sip.NewParams()}
}

// handle registers h for method, refusing malformed requests and turning a
// panic into a 500 so that no input can bring the process down.
func (ep *endpoint) handle(method sip.RequestMethod, h sipgo.RequestHandler) {
	ep.srv.OnRequest(method, func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				ep.log.Error("callcenter: SIP handler panic", "method", method, "panic", fmt.Sprint(r))
				if method != sip.ACK {
					reply(tx, req, 500, "Server Internal Error")
				}
			}
		}()
		if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
			if method != sip.ACK {
				reply(tx, req, 400, "Bad Request")
			}
			return
		}
		h(req, tx)
	})
}

// reply answers req on tx with a bodiless response.
func reply(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Server", "agentbar"))
	tx.Respond(res)
}

// toTag is the To tag of a request: set inside a dialog.
func toTag(req *sip.Request) string {
	t, _ := req.To().Params.Get("tag")
	return t
}

// sdpBody is the SDP of a message, or nil.
func sdpBody(m interface {
	Body() []byte
	GetHeader(string) sip.Header
}) []byte {
	if len(m.Body()) == 0 {
		return nil
	}
	if h := m.GetHeader("Content-Type"); h != nil && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(h.Value())), "application/sdp") {
		return nil
	}
	return m.Body()
}

// randomID returns n random bytes as hex.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.Join(errors.New("callcenter: crypto/rand failed"), err))
	}
	return hex.EncodeToString(b)
}
