package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxConflicts bounds how often one Append retries after another writer
// took the number it wanted.
const maxConflicts = 32

// maxBackoff caps the random pause before retrying after a conflict. The
// pause keeps an instance that must reload from being starved by one that
// appends in a tight loop.
const maxBackoff = 20 * time.Millisecond

// agentState is this instance's view of one agent's newest event. lock is
// a one-slot semaphore (so waiting for it can honour a context) that
// serializes appends for the agent; the other fields are guarded by it.
type agentState struct {
	lock    chan struct{}
	loaded  bool   // seq and subjSeq reflect the stream as last seen
	seq     uint64 // newest per-agent number
	subjSeq uint64 // stream sequence of the newest event, 0 if none stored
}

// state returns the agent's state, creating it on first use.
func (l *Log) state(agent string) (*agentState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	st := l.agents[agent]
	if st == nil {
		st = &agentState{lock: make(chan struct{}, 1)}
		l.agents[agent] = st
	}
	return st, nil
}

// Append stores event (opaque bytes, typically JSON) for agent and returns
// its per-agent sequence number: 1 for the agent's first event, then 2, 3,
// ... with no gaps, also across restarts and across proxy instances sharing
// an external NATS. Appends for one agent are serialized.
//
// If Append fails after the event reached the server (a timeout, say), the
// event may still be stored; numbering stays dense either way.
func (l *Log) Append(ctx context.Context, agent string, event []byte) (uint64, error) {
	if err := checkAgent(agent); err != nil {
		return 0, err
	}
	st, err := l.state(agent)
	if err != nil {
		return 0, err
	}
	select {
	case st.lock <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-st.lock }()

	subj := eventSubjectPrefix + agent
	for attempt := range maxConflicts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return 0, err
			}
		}
		if !st.loaded {
			st.seq, st.subjSeq, err = l.newest(ctx, agent)
			if err != nil {
				return 0, err
			}
			st.loaded = true
		}
		next := st.seq + 1
		msg := &nats.Msg{
			Subject: subj,
			Header:  nats.Header{SeqHeader: []string{strconv.FormatUint(next, 10)}},
			Data:    event,
		}
		ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(st.subjSeq))
		if err == nil {
			st.seq, st.subjSeq = next, ack.Sequence
			l.storeHead(agent, next)
			return next, nil
		}
		// Whatever happened, this instance's view may now be stale.
		st.loaded = false
		if !isWrongLastSeq(err) {
			return 0, fmt.Errorf("eventlog: append for agent %s: %w", agent, err)
		}
		l.log.Debug("append conflict, reloading", "agent", agent, "want", next)
	}
	return 0, fmt.Errorf("eventlog: append for agent %s: gave up after %d conflicting writers", agent, maxConflicts)
}

// backoff waits a random time, growing with attempt, up to maxBackoff.
func backoff(ctx context.Context, attempt int) error {
	ceil := min(time.Duration(1)<<min(attempt, 20)*50*time.Microsecond, maxBackoff)
	t := time.NewTimer(rand.N(ceil) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storeHead records the agent's newest number in the heads stream. It does
// not wait for the acknowledgement: the event itself is the authoritative
// record until it ages out, long after the head is stored.
func (l *Log) storeHead(agent string, seq uint64) {
	msg := &nats.Msg{
		Subject: headSubjectPrefix + agent,
		Header:  nats.Header{SeqHeader: []string{strconv.FormatUint(seq, 10)}},
	}
	if _, err := l.js.PublishMsgAsync(msg); err != nil {
		l.log.Warn("head record not sent", "agent", agent, "err", err)
	}
}

// LastSeq returns the agent's newest per-agent sequence number as stored in
// JetStream (0 if the agent never had an event).
func (l *Log) LastSeq(ctx context.Context, agent string) (uint64, error) {
	if err := checkAgent(agent); err != nil {
		return 0, err
	}
	if err := l.checkOpen(); err != nil {
		return 0, err
	}
	seq, _, err := l.newest(ctx, agent)
	return seq, err
}

// newest reads the agent's newest event from the server: its per-agent
// number and its stream sequence (0 when no event of the agent is stored).
// When every event has aged out, the number comes from the heads stream.
func (l *Log) newest(ctx context.Context, agent string) (seq, subjSeq uint64, err error) {
	m, err := l.events.GetLastMsgForSubject(ctx, eventSubjectPrefix+agent)
	switch {
	case err == nil:
		seq, err = parseSeq(m.Header)
		if err != nil {
			return 0, 0, fmt.Errorf("%w (agent %s, stream seq %d)", err, agent, m.Sequence)
		}
		return seq, m.Sequence, nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, 0, fmt.Errorf("eventlog: newest event of agent %s: %w", agent, err)
	}
	h, err := l.heads.GetLastMsgForSubject(ctx, headSubjectPrefix+agent)
	switch {
	case err == nil:
		seq, err = parseSeq(h.Header)
		if err != nil {
			return 0, 0, fmt.Errorf("%w (head of agent %s)", err, agent)
		}
		return seq, 0, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, 0, nil
	default:
		return 0, 0, fmt.Errorf("eventlog: head of agent %s: %w", agent, err)
	}
}

// isWrongLastSeq reports JetStream's refusal of an expected-last-sequence
// publish (another writer got there first).
func isWrongLastSeq(err error) bool {
	var jsErr jetstream.JetStreamError
	if !errors.As(err, &jsErr) || jsErr.APIError() == nil {
		return false
	}
	switch jsErr.APIError().ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		return true
	}
	return false
}
