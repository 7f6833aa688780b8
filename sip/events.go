package sip

import (
	"sync"
	"time"
)

// EventKind says what happened.
type EventKind int

// The events a UA reports through Config.OnEvent.
const (
	EventConnected          EventKind = iota + 1 // the WebSocket flow is up
	EventDisconnected                            // the flow failed or could not be opened (Err); the UA redials
	EventRegistered                              // registration accepted or refreshed (Expires)
	EventRegistrationFailed                      // registration refused or timed out (Err); the UA retries
	EventUnregistered                            // the binding was removed on Close
	EventCallProgress                            // provisional response to an outgoing call (Code, Reason)
	EventCallEarlyMedia                          // early media answer applied from a 18x (Code)
	EventCallAnswered                            // the call is confirmed: answered by either side
	EventCallHeld                                // the far end put the call on hold (re-INVITE sendonly/inactive)
	EventCallResumed                             // the far end took the call off hold
	EventCallDTMF                                // a DTMF digit arrived in SIP INFO (Digit)
	EventCallEnded                               // the call ended (Cause, Code)
)

var eventNames = map[EventKind]string{
	EventConnected: "connected", EventDisconnected: "disconnected", EventRegistered: "registered",
	EventRegistrationFailed: "registration-failed", EventUnregistered: "unregistered",
	EventCallProgress: "call-progress", EventCallEarlyMedia: "call-early-media",
	EventCallAnswered: "call-answered", EventCallHeld: "call-held", EventCallResumed: "call-resumed",
	EventCallDTMF: "call-dtmf", EventCallEnded: "call-ended",
}

func (k EventKind) String() string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return "unknown"
}

// EndCause says why a call ended.
type EndCause string

// End causes.
const (
	CauseLocalHangup  EndCause = "local-hangup"  // we sent BYE
	CauseRemoteHangup EndCause = "remote-hangup" // the far end sent BYE
	CauseCanceled     EndCause = "canceled"      // the caller canceled before answer (either side)
	CauseRejected     EndCause = "rejected"      // we rejected an incoming call
	CauseFailed       EndCause = "failed"        // the far end refused (Code), or the call failed (Err)
	CauseNoAck        EndCause = "no-ack"        // our 200 OK was never acknowledged
	CauseTransport    EndCause = "transport"     // the flow was lost while setting up
)

// Event is one thing that happened to the UA or to one of its calls.
type Event struct {
	Kind    EventKind
	Call    *Call         // the call, for call events
	Code    int           // status code, where one applies
	Reason  string        // reason phrase, where one applies
	Digit   string        // for EventCallDTMF
	Cause   EndCause      // for EventCallEnded
	Expires time.Duration // for EventRegistered
	Err     error         // for failures
}

// dispatcher runs the application's callbacks in order, from its own
// goroutine, so that a slow callback never blocks SIP processing and no event
// is dropped. Callbacks must not call UA.Close.
type dispatcher struct {
	mu     sync.Mutex
	queue  []func()
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newDispatcher() *dispatcher {
	d := &dispatcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) post(fn func()) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, fn)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		closed := d.closed
		d.mu.Unlock()
		for _, fn := range batch {
			fn()
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-d.wake
		}
	}
}

// close delivers what is queued and stops.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
}
