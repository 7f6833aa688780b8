package callcenter

import (
	"context"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// inDialog is a dialog a customer started with INVITE on the trunk.
type inDialog struct {
	ep        *endpoint
	s         *sipgo.DialogServerSession
	callID    string
	transport string
}

// respond sends a response to the INVITE. A 2xx waits for the ACK.
func (d *inDialog) respond(code int, reason string, sdp []byte) error {
	res := sip.NewResponseFromRequest(d.s.InviteRequest, code, reason, sdp)
	if code > 100 && code < 300 {
		res.AppendHeader(d.ep.contact(d.transport))
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	}
	if len(sdp) > 0 {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.AppendHeader(sip.NewHeader("Server", "agentbar"))
	return d.s.WriteResponse(res)
}

// bye ends the answered dialog from our side. Its To is the customer's
// From; for an RFC 2543 peer, which sent no tag, it carries none (the
// remote tag is null, RFC 3261 §12.2.1.1) rather than the guard's
// stand-in, whatever socket sipgo sends it from.
func (d *inDialog) bye() {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	inv := d.s.InviteRequest
	bye := sip.NewRequest(sip.BYE, inv.Contact().Address)
	bye.SetTransport(inv.Transport())
	to := inv.From().AsTo()
	if tag, _ := to.Params.Get("tag"); d.ep.guard != nil && tag == d.ep.guard.nullTag {
		to.Params.Remove("tag")
	}
	bye.AppendHeader(&to)
	if err := d.s.WriteBye(ctx, bye); err != nil {
		d.ep.log.Debug("callcenter: BYE to customer failed", "call", d.callID, "err", err)
	}
}

// done is closed when the dialog ends before an answer (CANCEL, or the
// INVITE transaction died).
func (d *inDialog) done() <-chan struct{} { return d.s.Context().Done() }
