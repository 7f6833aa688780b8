// Package sipedge is the proxy's SIP edge: an http.Handler for GET /v1/sip
// that takes SIP over WebSocket from the page (RFC 7118, subprotocol "sip")
// and relays it to one upstream registrar or proxy over UDP, TCP, WS or WSS,
// so that the page never talks to the SIP platform directly.
//
// # Opening a flow
//
// Every upgrade is checked, in this order: the Origin header (403), the
// offer of the "sip" subprotocol (400), then the caller's identity (401).
// Origins must match Config.AllowedOrigins exactly, and a request without
// Origin is then refused; with an empty list only the page's own host is
// allowed, and a request without Origin (not a browser) is let through.
//
// A browser cannot set headers on a WebSocket, so the bearer token travels
// as a second subprotocol beside "sip":
//
//	new WebSocket(url, ["sip", "access_token." + jwt])
//
// The edge copies the token after the "access_token." prefix into an
// "Authorization: Bearer <jwt>" header of a copy of the request and calls
// Config.Authorize with that copy, so one bearer-token check serves every
// endpoint of the proxy. Native clients may send the Authorization header
// themselves instead. The handshake answers with the single subprotocol
// "sip"; the token is never echoed and never logged.
//
// Each accepted WebSocket is a flow, named by a flow token: 16 random bytes
// in lower-case base32 (26 characters), unguessable and never reused. The
// flow belongs to the agent the Authorizer returned, and a REGISTER whose
// From or To user is not that agent is refused with 403.
//
// # Relaying
//
// The edge is a stateless proxy in the manner of RFC 3261 §16.11 that keeps
// in-dialog requests flowing back through it. Toward the upstream it adds
// its own Via whose branch is
//
//	z9hG4bK-se-<flow token>-<hash of the incoming branch and sent-by>
//
// so that a response is matched back to its flow without any state, a
// retransmission or a CANCEL gets the branch of the request it belongs to,
// and a new transaction gets a new one. A REGISTER gets a Path header
// (RFC 3327) and a dialog-creating request a Record-Route, both naming the
// edge with the flow token in the user part (as RFC 5626 does):
//
//	<sip:<flow token>@<edge host>:<port>;transport=udp;lr>
//
// The registrar then sends calls for the agent to that URI, and the far end
// sends in-dialog requests to it. A request from the upstream is routed by
// the token in its top Route (which the edge removes): to the flow's
// WebSocket with the edge's Via on top, or, when the flow is gone, answered
// 430 Flow Failed (RFC 5626 §5.3); a token that is not of the edge's form
// gets 403 and a request with no Route to the edge 404. A Route naming the
// edge on top of a request from the page is removed as well, and any Path
// the page put in a REGISTER is dropped. Responses lose the edge's Via and
// go back where the request came from. Max-Forwards is decremented both
// ways (483 at zero).
//
// Over UDP nobody else retransmits what the page sent over its reliable
// WebSocket, so for that hop the edge keeps a small table of requests in
// flight and retransmits them on the RFC 3261 timers (A/E, T1 = 500 ms,
// T2 = 4 s) until a response arrives or 64*T1 has passed.
//
// Bad input from the page never stops the edge: an unparseable message is
// dropped, a request that parses but is not acceptable is answered (400,
// 403, 483, 505), and a stray response is dropped. RFC 5626 keep-alives
// (CRLF CRLF) are answered with a CRLF pong.
//
// # Upstream
//
// Config.Upstream is a SIP URI such as "sip:10.0.0.5:5060;transport=udp"
// (transport udp, tcp, ws or wss; default udp, port 5060) or a WebSocket URL
// such as "ws://10.0.0.5:8080/". UDP uses one connected socket, so only the
// upstream address can send to the edge. TCP, WS and WSS keep one
// connection, redialed with backoff when it breaks; the edge names the
// connection's local address in Via, Path and Record-Route, so a registrar
// reaches flows over that same connection, and flows registered over a
// connection that broke must register again.
package sipedge
