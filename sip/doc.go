// Package sip is the agent bar's soft-phone signalling: a SIP user agent
// (RFC 3261) over one WebSocket flow at a time (RFC 7118), for the browser
// (GOOS=js GOARCH=wasm, where the WebSocket is the browser's) and natively.
//
// It registers with digest authentication (MD5 or SHA-256, qop=auth) as an
// RFC 5626 outbound client (+sip.instance, reg-id, CRLF keep-alives),
// refreshes before expiry, redials with backoff and registers again when the
// flow breaks, and unregisters on Close. It takes calls (100, 180, 200 with
// the SDP answer until ACK; reject; CANCEL; re-INVITE for hold and resume,
// offerless re-INVITE; BYE; INFO DTMF; OPTIONS; UPDATE refused with 405)
// and places them (digest retry, 18x and early media, CANCEL, ACK, typed
// failures). Messages and transactions come from sipgo's sip package; the
// flow is github.com/coder/websocket. Media is not its business: a Media
// value produces and consumes SDP for each call.
//
// Every inbound message goes through one receive path that never panics:
// it answers what RFC 4475 (the SIP torture tests) asks a UA to answer,
// with a 400 and a reason for what does not parse.
package sip
