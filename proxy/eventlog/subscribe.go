package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consumerIdle is how long the server keeps a subscriber's consumer after
// its client vanished without deleting it (a crash, a lost connection).
const consumerIdle = time.Minute

// subscription is one running Subscribe.
type subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the subscription and waits until its goroutine has returned.
func (s *subscription) stop() {
	s.cancel()
	<-s.done
}

// Subscribe calls fn with every event of agent whose per-agent sequence
// number is above after, in order and each once: first the stored ones,
// then live ones as they are appended, including those appended while the
// stored ones are still being delivered. fn is called from a single
// goroutine, one call at a time.
//
// Delivery continues until ctx ends, stop is called or the Log is closed.
// stop is idempotent and returns once fn will not be called again; it must
// not be called from inside fn (cancel ctx there instead).
//
// Events that aged out of the log (see Config.MaxAge) cannot be delivered;
// the numbers passed to fn then start above after+1.
func (l *Log) Subscribe(ctx context.Context, agent string, after uint64, fn func(seq uint64, event []byte)) (stop func(), err error) {
	if err := checkAgent(agent); err != nil {
		return nil, err
	}
	if err := l.checkOpen(); err != nil {
		return nil, err
	}
	subj := eventSubjectPrefix + agent
	start, err := l.startSeq(ctx, subj, after)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Events aged out during the search: read all that remain; deliver
		// skips those numbered up to after.
		start, err = 0, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: subscribe to agent %s: %w", agent, err)
	}
	ccfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subj},
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: consumerIdle,
	}
	if start > 0 {
		ccfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		ccfg.OptStartSeq = start
	}
	cons, err := l.events.OrderedConsumer(ctx, ccfg)
	if err != nil {
		return nil, fmt.Errorf("eventlog: subscribe to agent %s: %w", agent, err)
	}
	it, err := cons.Messages()
	if err != nil {
		l.deleteConsumer(cons)
		return nil, fmt.Errorf("eventlog: subscribe to agent %s: %w", agent, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s := &subscription{cancel: cancel, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		cancel()
		it.Stop()
		l.deleteConsumer(cons)
		return nil, ErrClosed
	}
	l.subs[s] = struct{}{}
	l.mu.Unlock()

	go func() {
		defer close(s.done)
		defer func() {
			l.mu.Lock()
			delete(l.subs, s)
			l.mu.Unlock()
		}()
		defer l.deleteConsumer(cons)
		defer it.Stop()
		unhook := context.AfterFunc(runCtx, it.Stop)
		defer unhook()
		l.deliver(runCtx, agent, after, it, fn)
	}()
	return s.stop, nil
}

// deliver runs the subscription's loop until the iterator stops.
func (l *Log) deliver(ctx context.Context, agent string, after uint64, it jetstream.MessagesContext, fn func(uint64, []byte)) {
	last := after
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				l.log.Warn("subscription ended", "agent", agent, "err", err)
			}
			return
		}
		seq, err := parseSeq(msg.Headers())
		if err != nil {
			l.log.Warn("skipping event", "agent", agent, "err", err)
			continue
		}
		if seq <= last {
			continue // before the resume point, or a repeat
		}
		if ctx.Err() != nil {
			return
		}
		last = seq
		fn(seq, msg.Data())
	}
}

// deleteConsumer removes a stopped subscriber's consumer from the server;
// left alone it would linger for consumerIdle.
func (l *Log) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || l.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.events.DeleteConsumer(ctx, info.Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		l.log.Debug("consumer not deleted", "consumer", info.Name, "err", err)
	}
}

// startSeq returns the stream sequence to start reading subj from so that
// the first event delivered is the one numbered after+1 (or the first one
// stored after it, if that one aged out). 0 means from the beginning.
//
// Per-agent numbers grow with stream sequences, so the start is found by a
// binary search over stream sequences with "first message on subj at or
// after sequence s" lookups: about log2(stream length) requests, one or two
// in the common case of a caller that is up to date or new.
func (l *Log) startSeq(ctx context.Context, subj string, after uint64) (uint64, error) {
	if after == 0 {
		return 0, nil
	}
	lastMsg, err := l.events.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil // nothing stored: deliver whatever comes
	}
	if err != nil {
		return 0, err
	}
	lastN, err := parseSeq(lastMsg.Header)
	if err != nil {
		return 0, err
	}
	if lastN <= after {
		return lastMsg.Sequence + 1, nil // up to date: live events only
	}
	// firstAt returns the first event on subj at or after stream seq s.
	firstAt := func(s uint64) (streamSeq, n uint64, err error) {
		m, err := l.events.GetMsg(ctx, s, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return 0, 0, err
		}
		n, err = parseSeq(m.Header)
		return m.Sequence, n, err
	}
	lo, loN, err := firstAt(1)
	if err != nil {
		return 0, err
	}
	if loN > after {
		return lo, nil
	}
	// Invariant: the event at or after lo is numbered <= after, the one at
	// or after hi is numbered > after; the answer is the event at or after
	// the smallest such hi.
	hi := lastMsg.Sequence
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		s, n, err := firstAt(mid)
		if err != nil {
			return 0, err
		}
		if n > after {
			hi = mid
		} else {
			lo = s // s >= mid, and everything up to s is <= after
			if lo >= hi {
				break
			}
		}
	}
	s, _, err := firstAt(hi)
	return s, err
}
