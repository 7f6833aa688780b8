package media

import (
	"context"
	"strings"
	"testing"
	"time"
)

// negotiate runs one offer/answer from a to b with direction dir.
func negotiate(t *testing.T, a, b *RTPLeg, dir string) {
	t.Helper()
	offer := a.Offer(dir)
	answer, err := b.Answer(offer)
	if err != nil {
		t.Fatalf("answer: %v\noffer:\n%s", err, offer)
	}
	if err := a.SetAnswer(answer); err != nil {
		t.Fatalf("set answer: %v\nanswer:\n%s", err, answer)
	}
}

func TestRTPLegs(t *testing.T) {
	a, err := NewRTPLeg("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewRTPLeg("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	negotiate(t, a, b, SendRecv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pump(ctx, NewSimParty(11), a)
	go pump(ctx, NewSimParty(12), b)

	hears := func(l *RTPLeg) func() bool {
		return func() bool { st := l.Stats(); return st.PacketsIn > 10 && st.LevelIn > -35 }
	}
	waitFor(t, 5*time.Second, "a to hear b", hears(a))
	waitFor(t, 5*time.Second, "b to hear a", hears(b))
	t.Logf("a: %+v", a.Stats())
	t.Logf("b: %+v", b.Stats())

	// Frames come out of ReadFrame (a bridge would take them from here).
	f, err := b.ReadFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = f

	// DTMF both ways over telephone-event.
	if err := a.SendDTMF("123#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "digits at b", func() bool { return b.Stats().Digits == "123#" })
	if err := b.SendDTMF("*0D"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "digits at a", func() bool { return a.Stats().Digits == "*0D" })

	// Hold: a offers sendonly, b answers recvonly and stops sending.
	negotiate(t, a, b, SendOnly)
	if got := b.Direction(); got != SendOnly {
		t.Errorf("b sees %q", got)
	}
	waitFor(t, 5*time.Second, "silence at a", func() bool { return a.Stats().LevelIn == SilenceLevel })
	held := a.Stats().PacketsIn
	if !hears(b)() {
		t.Errorf("b should still hear a: %+v", b.Stats())
	}
	// Resume.
	negotiate(t, a, b, SendRecv)
	waitFor(t, 5*time.Second, "a to hear b again", func() bool { return a.Stats().PacketsIn > held+10 && a.Stats().LevelIn > -35 })

	if err := a.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := a.ReadFrame(ctx); err != ErrClosed {
		t.Errorf("read after close: %v", err)
	}
	if err := a.WriteFrame(Frame{}); err != ErrClosed {
		t.Errorf("write after close: %v", err)
	}
}

func TestRTPLegAnswersSIPOffer(t *testing.T) {
	l, err := NewRTPLeg("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	offer := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=sendonly\r\n"
	answer, err := l.Answer([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	s := string(answer)
	for _, want := range []string{"m=audio ", " RTP/AVP 0 96\r\n", "a=rtpmap:96 telephone-event/8000", "a=recvonly", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer lacks %q:\n%s", want, s)
		}
	}
	if _, err := l.Answer([]byte(strings.Replace(offer, "RTP/AVP 8 0 96", "RTP/AVP 8", 1))); err == nil {
		t.Error("an offer without PCMU was accepted")
	}
	if err := l.SetAnswer(answer); err == nil {
		t.Error("an answer without an offer was accepted")
	}
	if _, err := NewRTPLeg("0.0.0.0"); err == nil {
		t.Error("an unspecified address was accepted")
	}
}
