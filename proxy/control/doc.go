// Package control is the agent's control channel: the hub that serves the
// versioned JSON protocol of proxy/control/wire over WebSocket between the
// bar and the proxy. Commands go up with an id and get one reply;
// normalized events come down with a per-agent sequence number from the
// event log, so a bar that reconnects resumes from the last number it saw
// and gets every later event once, in order. The vendor session
// (gateway.Session) belongs to the proxy, not to the connection: a dropped
// connection does not sign the agent out.
//
// The protocol is documented in docs/control-channel.md.
package control
