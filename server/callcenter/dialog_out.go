package callcenter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// byeTimeout bounds a BYE we send.
const byeTimeout = 5 * time.Second

// outDialog is a dialog we started with INVITE: a leg to an agent's phone,
// or a call to a number over the trunk.
type outDialog struct {
	ep        *endpoint
	s         *sipgo.DialogClientSession
	callID    string
	transport string
}

// inviteSpec says where and what to INVITE.
type inviteSpec struct {
	ruri      sip.Uri   // Request-URI: the binding's contact, or the number
	fromName  string    // display name shown to the callee
	from, to  sip.Uri   // From and To addresses
	routes    []sip.Uri // preloaded Route (a binding's Path)
	dest      string    // host:port the request goes to
	transport string    // UDP, TCP or WS
	headers   []sip.Header
	sdp       []byte
}

// invite sends an INVITE with the given Call-ID and returns the dialog
// once the request is on its way; waitAnswer reads the outcome.
func (ep *endpoint) invite(ctx context.Context, callID string, sp inviteSpec) (*outDialog, error) {
	req := sip.NewRequest(sip.INVITE, sp.ruri)
	from := &sip.FromHeader{DisplayName: sp.fromName, Address: sp.from, Params: sip.NewParams()}
	from.Params.Add("tag", randomID(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sp.to, Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range sp.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	req.AppendHeader(ep.contact(sp.transport))
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	req.AppendHeader(sip.NewHeader("User-Agent", "agentbar"))
	for _, h := range sp.headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sp.sdp)
	req.SetTransport(sp.transport)
	req.SetDestination(sp.dest)
	if sp.transport == "UDP" {
		req.Laddr = ep.udpAddr() // send from the listener, where replies come back
	}
	s, err := ep.dialog.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("callcenter: INVITE %s: %w", sp.ruri.String(), err)
	}
	return &outDialog{ep: ep, s: s, callID: callID, transport: sp.transport}, nil
}

// errCanceled says an INVITE was canceled before an answer.
var errCanceled = errors.New("callcenter: call canceled")

// waitAnswer waits for the final response: the SDP answer of a 2xx (which
// it acknowledges), or the failure status. Ending ctx cancels the INVITE;
// a 2xx that crosses the CANCEL is acknowledged and hung up.
func (d *outDialog) waitAnswer(ctx context.Context) (answer []byte, code int, err error) {
	return d.waitAnswerWith(ctx, nil)
}

// waitAnswerWith is waitAnswer where provisional, if not nil, sees each
// provisional response as it arrives: its status and its SDP, if any (an
// early answer).
func (d *outDialog) waitAnswerWith(ctx context.Context, provisional func(code int, sdp []byte)) (answer []byte, code int, err error) {
	opts := sipgo.AnswerOptions{}
	if provisional != nil {
		opts.OnResponse = func(res *sip.Response) error {
			if res.IsProvisional() {
				provisional(res.StatusCode, sdpBody(res))
			}
			return nil
		}
	}
	err = d.s.WaitAnswer(ctx, opts)
	if err == nil {
		if err := d.s.Ack(context.Background()); err != nil {
			d.ep.log.Warn("callcenter: ACK failed", "call", d.callID, "err", err)
		}
		return sdpBody(d.s.InviteResponse), d.s.InviteResponse.StatusCode, nil
	}
	var re *sipgo.ErrDialogResponse
	if errors.As(err, &re) {
		return nil, re.Res.StatusCode, err
	}
	if r := d.s.InviteResponse; r != nil && r.IsSuccess() {
		d.s.Ack(context.Background())
		d.bye()
	}
	if ctx.Err() != nil {
		return nil, 487, errCanceled
	}
	return nil, 0, err
}

// remoteTarget is where in-dialog requests go: the Contact of the 2xx.
func (d *outDialog) remoteTarget() sip.Uri {
	if r := d.s.InviteResponse; r != nil {
		if c := r.Contact(); c != nil {
			return *c.Address.Clone()
		}
	}
	return *d.s.InviteRequest.Recipient.Clone()
}

// reinvite sends a re-INVITE with a new offer and returns the answer.
func (d *outDialog) reinvite(ctx context.Context, offer []byte) ([]byte, error) {
	target := d.remoteTarget()
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(d.ep.contact(d.transport))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	res, err := d.s.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("callcenter: re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return nil, fmt.Errorf("callcenter: re-INVITE refused: %d %s", res.StatusCode, res.Reason)
	}
	ack := sip.NewRequest(sip.ACK, target)
	if err := d.s.WriteRequest(ack); err != nil {
		return nil, fmt.Errorf("callcenter: ACK of re-INVITE: %w", err)
	}
	return sdpBody(res), nil
}

// bye ends the dialog from our side.
func (d *outDialog) bye() {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := d.s.Bye(ctx); err != nil {
		d.ep.log.Debug("callcenter: BYE failed", "call", d.callID, "err", err)
	}
}

// readBye answers the far end's BYE.
func (d *outDialog) readBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := d.s.ReadBye(req, tx); err != nil {
		reply(tx, req, 500, "Server Internal Error")
	}
}
