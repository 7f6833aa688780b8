package sipedge

import (
	"testing"
)

// FuzzRelay feeds arbitrary bytes to both sides of the edge: nothing may
// panic, and the edge keeps relaying afterwards. The seeds run with every
// go test; go test -fuzz=FuzzRelay explores further.
func FuzzRelay(f *testing.F) {
	for _, seed := range []string{
		register("1001", "z9hG4bKf1"),
		register("1002", "z9hG4bKf2"),
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=" + ownBranchPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaa-00\r\nCSeq: 1 OPTIONS\r\n\r\n",
		"INVITE sip:x SIP/2.0\r\nRoute: <sip:aaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:1;lr>\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 0\r\n\r\n",
		"OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/WS h\r\nf: <sip:a@b>\r\nt: <sip:c@d>\r\ni: x\r\nCSeq: 4294967295 OPTIONS\r\nl: 3\r\n\r\nabc",
		"ACK sip:x SIP/2.0\r\nVia: SIP/2.0/WS h;branch=z9hG4bK1\r\nCSeq: 1 ACK\r\n\r\n",
		"\r\n\r\n", "\r\n", "", "\x00", "SIP/2.0 ", "REGISTER sip:x SIP/2.0\r\nTo: <tel:1>\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	up := newFakeUpstream(f)
	te := startEdge(f, up.uri(), func(c *Config) { c.Logger = nil })
	page := newFlow(nil, "1001", "127.0.0.1", "WS", te.log) // never written: its queue just fills
	te.addFlow(page)
	f.Cleanup(func() { // before the edge closes: this flow has no WebSocket to close
		te.mu.Lock()
		delete(te.flows, page.token)
		te.mu.Unlock()
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		te.fromPage(page, data)
		te.fromUpstream(data)
	})
}
