package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// liveSubjectPrefix is where the events stream republishes every event
// once it is stored; the agent id is the last token.
const liveSubjectPrefix = "agentbar.live."

// retryPause bounds the pause before a failed read of the store is tried
// again.
const retryPause = time.Second

// queued is one entry of a subscription's queue: a live event, or (resync)
// a request to read the store from where the subscription stands.
type queued struct {
	seq       uint64 // per-agent number
	streamSeq uint64 // stream sequence, 0 if unknown
	data      []byte
	resync    bool
}

// subscription is one running Subscribe. It owns no goroutine while idle:
// the Log's live subscription queues events on it, and a goroutine runs
// only while the queue has something to deliver.
type subscription struct {
	l     *Log
	agent string
	fn    func(uint64, []byte)
	ctx   context.Context // the caller's

	// Touched only by the delivering goroutine (one at a time).
	last       uint64 // newest number handed to fn
	lastStream uint64 // stream sequence of that event, 0 if unknown

	mu      sync.Mutex
	queue   []queued
	running bool // a goroutine is delivering
	stopped bool
	reading context.CancelFunc // ends a read of the store in progress
	unhook  func() bool        // undoes the stop on ctx's end
	wg      sync.WaitGroup     // the delivering goroutine
}

// Subscribe calls fn with every event of agent whose per-agent sequence
// number is above after, in order and each once: first the stored ones,
// then live ones as they are appended, including those appended while the
// stored ones are still being delivered. fn is called from one goroutine
// at a time, never concurrently.
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
	start, err := l.startSeq(ctx, eventSubjectPrefix+agent, after)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// Events aged out during the search: read all that remain; those
		// numbered up to after are skipped.
		start, err = 0, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: subscribe to agent %s: %w", agent, err)
	}
	s := &subscription{l: l, agent: agent, fn: fn, ctx: ctx, last: after}
	if start > 0 {
		s.lastStream = start - 1
	}
	// The first run reads the store from start. The subscription is
	// registered before that run, so whatever is stored after the read
	// has passed it arrives on the queue.
	s.running = true
	s.queue = append(s.queue, queued{resync: true})
	s.wg.Add(1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	l.live[agent] = append(l.live[agent], s)
	l.mu.Unlock()
	unhook := context.AfterFunc(ctx, s.stop)
	s.mu.Lock()
	s.unhook = unhook
	s.mu.Unlock()
	go s.run()
	return s.stop, nil
}

// stop ends the subscription and waits until fn will not be called again.
func (s *subscription) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.stopped = true
	s.queue = nil
	reading, unhook := s.reading, s.unhook
	s.mu.Unlock()
	if reading != nil {
		reading()
	}
	if unhook != nil {
		unhook()
	}
	s.l.unregister(s)
	s.wg.Wait()
}

// unregister removes s from the live fan-out.
func (l *Log) unregister(s *subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	subs := l.live[s.agent]
	for i, x := range subs {
		if x == s {
			subs = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	if len(subs) == 0 {
		delete(l.live, s.agent)
	} else {
		l.live[s.agent] = subs
	}
}

// push queues it and starts a delivering goroutine if none runs.
func (s *subscription) push(it queued) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.queue = append(s.queue, it)
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.run()
	}
}

// run delivers the queue until it is empty.
func (s *subscription) run() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if s.stopped || len(s.queue) == 0 {
			s.running = false
			s.queue = nil // let a burst's backing array go
			s.mu.Unlock()
			return
		}
		it := s.queue[0]
		s.queue[0] = queued{}
		s.queue = s.queue[1:]
		s.mu.Unlock()

		switch {
		case it.resync:
			s.readStore()
		case it.seq <= s.last:
			// A repeat, or before the resume point.
		case it.seq == s.last+1:
			s.deliver(it.seq, it.streamSeq, it.data)
		default:
			// Events between were lost on the way (a slow consumer, a
			// reconnect): they are stored, because the stream republishes
			// only what it stored.
			s.readStore()
			if it.seq > s.last {
				s.deliver(it.seq, it.streamSeq, it.data)
			}
		}
	}
}

// deliver hands one event to fn unless the subscription stopped.
func (s *subscription) deliver(seq, streamSeq uint64, data []byte) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped || s.ctx.Err() != nil {
		return
	}
	s.last = seq
	if streamSeq > 0 {
		s.lastStream = streamSeq
	}
	s.fn(seq, data)
}

// readStore delivers the stored events after the subscription's position,
// up to the newest, retrying a failed read until it succeeds or the
// subscription stops. When the position is unknown (nothing was stored at
// the start) it reads the agent's events from the beginning of the stream
// and skips those already delivered.
func (s *subscription) readStore() {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.reading = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.reading = nil
		s.mu.Unlock()
	}()
	subj := eventSubjectPrefix + s.agent
	next := s.lastStream + 1
	for ctx.Err() == nil {
		m, err := s.l.events.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return
		}
		if err != nil {
			if !s.pause(ctx, err) {
				return
			}
			continue
		}
		next = m.Sequence + 1
		seq, err := parseSeq(m.Header)
		if err != nil {
			s.l.log.Warn("skipping event", "agent", s.agent, "err", err)
			continue
		}
		if seq > s.last {
			s.deliver(seq, m.Sequence, m.Data)
		} else {
			s.lastStream = m.Sequence
		}
	}
}

// pause waits before a read of the store is retried; false when the
// subscription stopped meanwhile.
func (s *subscription) pause(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	s.l.log.Warn("reading stored events failed, retrying", "agent", s.agent, "err", err)
	t := time.NewTimer(retryPause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// listen starts the Log's one live subscription: every stored event,
// republished by the stream, is queued on the subscriptions of its agent.
func (l *Log) listen() error {
	sub, err := l.nc.Subscribe(liveSubjectPrefix+"*", l.dispatch)
	if err != nil {
		return fmt.Errorf("eventlog: live subscription: %w", err)
	}
	if err := sub.SetPendingLimits(-1, 256<<20); err != nil {
		return fmt.Errorf("eventlog: live subscription: %w", err)
	}
	if err := l.nc.Flush(); err != nil {
		return fmt.Errorf("eventlog: live subscription: %w", err)
	}
	l.sub = sub
	return nil
}

// dispatch queues one republished event on its agent's subscriptions.
func (l *Log) dispatch(m *nats.Msg) {
	agent := strings.TrimPrefix(m.Subject, liveSubjectPrefix)
	seq, err := parseSeq(m.Header)
	if err != nil {
		l.log.Warn("skipping live event", "agent", agent, "err", err)
		return
	}
	streamSeq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	it := queued{seq: seq, streamSeq: streamSeq, data: m.Data}
	l.mu.Lock()
	subs := l.live[agent]
	l.mu.Unlock()
	for _, s := range subs {
		s.push(it)
	}
}

// resyncAll makes every subscription read the store from where it stands,
// after live events may have been lost (a reconnect, a slow consumer).
func (l *Log) resyncAll() {
	l.mu.Lock()
	var all []*subscription
	for _, subs := range l.live {
		all = append(all, subs...)
	}
	l.mu.Unlock()
	for _, s := range all {
		s.push(queued{resync: true})
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
