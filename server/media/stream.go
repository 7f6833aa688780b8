package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// RFC 4733 sending: each digit is an event of eventPackets packets one
// frame apart, the last of them marked as the end, then the end packet
// eventRepeats more times, then a pause of eventGap frames before the
// next digit.
const (
	eventPackets = 5 // 100 ms of tone
	eventRepeats = 2
	eventGap     = 3
	eventVolume  = 10 // -10 dBm0
)

// rxFrames is how many received frames a leg buffers for ReadFrame.
const rxFrames = 8

// payloadKind tells what a received RTP payload type carries.
type payloadKind int

const (
	payloadOther payloadKind = iota
	payloadPCMU
	payloadEvent
)

// writeFunc sends one RTP packet. It reports 0 bytes for a packet the
// transport dropped (pion before DTLS-SRTP is up).
type writeFunc func(h *rtp.Header, payload []byte) (int, error)

// stream is the RTP audio machinery that WebRTCLeg and RTPLeg share:
// depacketising PCMU into frames, RFC 4733 digit reception and sending,
// packetising frames with sequence numbers and timestamps, direction
// gating, counters and meters.
type stream struct {
	frames    chan Frame    // received audio, oldest first
	done      chan struct{} // closed by close
	closeOnce sync.Once
	onDTMF    func(rune)
	dtmf      chan byte // event codes to send
	wg        sync.WaitGroup

	rxMu      sync.Mutex
	pending   Frame // decoded samples not yet a whole frame
	npending  int
	lastSSRC  uint32
	lastSeq   uint16
	haveSeq   bool
	lastEvent uint32 // RTP timestamp of the last event received
	inEvent   bool   // lastEvent is valid
	digits    []byte

	txMu      sync.Mutex
	write     writeFunc // nil: nowhere to send yet
	ssrc      uint32
	audioPT   uint8
	eventPT   uint8
	haveEvent bool // the far end takes telephone-events
	send      bool // the negotiated directions let us send
	seq       uint16
	ts        uint32
	last      time.Time // when the last packet was stamped
	sending   bool      // an event is being sent: audio is held back
	payload   []byte

	packetsIn  atomic.Uint64
	packetsOut atomic.Uint64
	in, out    meter
}

// newStream returns a stream and starts its DTMF sender.
func newStream(onDTMF func(rune)) *stream {
	s := &stream{
		frames:  make(chan Frame, rxFrames),
		done:    make(chan struct{}),
		onDTMF:  onDTMF,
		dtmf:    make(chan byte, 64),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		payload: make([]byte, 0, FrameSamples),
	}
	s.wg.Add(1)
	go s.dtmfLoop()
	return s
}

// close stops the stream and waits for its DTMF sender.
func (s *stream) close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.wg.Wait()
}

// closed tells whether close was called.
func (s *stream) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// readFrame returns the oldest received frame, waiting up to one frame
// period for one before returning silence.
func (s *stream) readFrame(ctx context.Context) (Frame, error) {
	if s.closed() {
		return Frame{}, ErrClosed
	}
	select {
	case f := <-s.frames:
		return f, nil
	default:
	}
	t := time.NewTimer(FramePeriod)
	defer t.Stop()
	select {
	case f := <-s.frames:
		return f, nil
	case <-t.C:
		return Frame{}, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-s.done:
		return Frame{}, ErrClosed
	}
}

// receive handles one received RTP packet.
func (s *stream) receive(h *rtp.Header, payload []byte, kind payloadKind) {
	s.packetsIn.Add(1)
	s.rxMu.Lock()
	// Drop duplicates and late packets (the frame they belonged to has
	// gone); a new SSRC or a big jump back is a restarted sender.
	if d := int16(h.SequenceNumber - s.lastSeq); s.haveSeq && h.SSRC == s.lastSSRC && d <= 0 && d > -100 {
		s.rxMu.Unlock()
		return
	}
	s.lastSSRC, s.lastSeq, s.haveSeq = h.SSRC, h.SequenceNumber, true
	var digit rune
	switch kind {
	case payloadPCMU:
		now := time.Now()
		for _, b := range payload {
			s.pending[s.npending] = ulawDecode(b)
			s.npending++
			if s.npending == FrameSamples {
				s.in.add(now, &s.pending)
				push(s.frames, s.pending)
				s.npending = 0
			}
		}
	case payloadEvent:
		// A new event has a new timestamp; its later packets and the
		// repeated end packets share it.
		if len(payload) >= 4 && (!s.inEvent || h.Timestamp != s.lastEvent) {
			s.lastEvent, s.inEvent = h.Timestamp, true
			if d, ok := eventDigit(payload[0]); ok {
				s.digits = append(s.digits, byte(d))
				digit = d
			}
		}
	}
	s.rxMu.Unlock()
	if digit != 0 && s.onDTMF != nil {
		s.onDTMF(digit)
	}
}

// bind sets where and how packets go. A nil write unbinds.
func (s *stream) bind(write writeFunc, ssrc uint32, audioPT, eventPT uint8, haveEvent bool) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	s.write, s.ssrc, s.audioPT, s.eventPT, s.haveEvent = write, ssrc, audioPT, eventPT, haveEvent
}

// ssrcOrNew returns the SSRC in use, choosing one if there is none yet.
func (s *stream) ssrcOrNew() uint32 {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	for s.ssrc == 0 {
		s.ssrc = rand.Uint32()
	}
	return s.ssrc
}

// setSend opens or closes the send direction.
func (s *stream) setSend(on bool) {
	s.txMu.Lock()
	s.send = on
	s.txMu.Unlock()
}

// stamp returns the RTP timestamp and marker for a packet sent at now:
// one frame on from the last packet while packets flow, and the elapsed
// time after a gap (which starts a new talkspurt). s.txMu must be held.
func (s *stream) stamp(now time.Time) (uint32, bool) {
	if s.last.IsZero() {
		s.last = now
		return s.ts, true
	}
	gap := now.Sub(s.last)
	s.last = now
	if gap > 3*FramePeriod {
		s.ts += uint32(gap/FramePeriod) * FrameSamples
		return s.ts, true
	}
	s.ts += FrameSamples
	return s.ts, false
}

// writePacket sends one packet and tells whether the transport took it.
// s.txMu must be held.
func (s *stream) writePacket(pt uint8, marker bool, ts uint32, payload []byte) (bool, error) {
	h := rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: s.seq,
		Timestamp:      ts,
		SSRC:           s.ssrc,
	}
	s.seq++
	n, err := s.write(&h, payload)
	if err != nil || n == 0 {
		return false, err
	}
	s.packetsOut.Add(1)
	return true, nil
}

// writeFrame sends one frame of audio if the directions allow it and no
// event is being sent. Frames that cannot go out are dropped silently.
func (s *stream) writeFrame(f *Frame) error {
	if s.closed() {
		return ErrClosed
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if s.write == nil || !s.send || s.sending {
		return nil
	}
	now := time.Now()
	ts, marker := s.stamp(now)
	s.payload = appendPCMU(s.payload[:0], f)
	sent, err := s.writePacket(s.audioPT, marker, ts, s.payload)
	if sent {
		s.out.add(now, f)
	}
	return err
}

// sendDTMF queues RFC 4733 events for digits (0-9, *, #, A-D).
func (s *stream) sendDTMF(digits string) error {
	if s.closed() {
		return ErrClosed
	}
	codes := make([]byte, 0, len(digits))
	for _, r := range digits {
		c, ok := digitEvent(r)
		if !ok {
			return fmt.Errorf("media: %q is not a DTMF digit", r)
		}
		codes = append(codes, c)
	}
	s.txMu.Lock()
	ok := s.write != nil && s.haveEvent
	s.txMu.Unlock()
	if !ok {
		return errors.New("media: telephone-event not negotiated")
	}
	for _, c := range codes {
		select {
		case s.dtmf <- c:
		default:
			return errors.New("media: too many DTMF digits queued")
		}
	}
	return nil
}

// dtmfLoop sends queued events until the stream closes.
func (s *stream) dtmfLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case c := <-s.dtmf:
			s.sendEvent(c)
		}
	}
}

// sendEvent sends one event, paced one packet per frame period, then
// waits out the inter-digit gap. The event stands in for the audio of
// the frames it covers.
func (s *stream) sendEvent(code byte) {
	tick := time.NewTicker(FramePeriod)
	defer tick.Stop()
	var eventTS uint32
	for i := range eventPackets + eventRepeats + eventGap {
		if i > 0 {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
		if i >= eventPackets+eventRepeats {
			continue // the gap
		}
		s.txMu.Lock()
		if s.write == nil || !s.send || !s.haveEvent {
			s.sending = false
			s.txMu.Unlock()
			return
		}
		if i == 0 {
			eventTS, _ = s.stamp(time.Now())
			s.sending = true
		} else {
			s.ts += FrameSamples
			s.last = time.Now()
		}
		duration := min(i+1, eventPackets) * FrameSamples
		flags := byte(eventVolume)
		if i >= eventPackets-1 {
			flags |= 0x80 // end of event, and its repeats
		}
		payload := []byte{code, flags, byte(duration >> 8), byte(duration)}
		_, _ = s.writePacket(s.eventPT, i == 0, eventTS, payload)
		if i == eventPackets+eventRepeats-1 {
			s.sending = false
		}
		s.txMu.Unlock()
	}
}

// stats reports the stream's counters and levels.
func (s *stream) stats() Stats {
	now := time.Now()
	s.rxMu.Lock()
	digits := string(s.digits)
	s.rxMu.Unlock()
	return Stats{
		PacketsIn:  s.packetsIn.Load(),
		PacketsOut: s.packetsOut.Load(),
		LevelIn:    s.in.level(now),
		LevelOut:   s.out.level(now),
		Digits:     digits,
	}
}

// digitEvent maps a DTMF digit to its RFC 4733 event code.
func digitEvent(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r - '0'), true
	case r == '*':
		return 10, true
	case r == '#':
		return 11, true
	case r >= 'A' && r <= 'D':
		return byte(r-'A') + 12, true
	case r >= 'a' && r <= 'd':
		return byte(r-'a') + 12, true
	}
	return 0, false
}

// eventDigit maps an RFC 4733 event code to its DTMF digit; other events
// (flash and the rest) are not digits.
func eventDigit(code byte) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}
