package agentphone

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentbar/agentbar/server/media"
)

// heard is the level above which a party counts as hearing speech (the
// simulated voice runs at about -18 dBFS; silence is -100).
const heard = -35

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(media.FramePeriod)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// hearing reports whether a party's stats show speech coming in.
func hearing(stats func() media.Stats) func() bool {
	return func() bool { st := stats(); return st.PacketsIn > 25 && st.LevelIn > heard }
}

// silent reports whether a party's incoming level is digital silence.
func silent(stats func() media.Stats) func() bool {
	return func() bool { return stats().LevelIn == media.SilenceLevel }
}

// reoffer has the leg offer dir to the phone, as the call center's
// re-INVITE would, and returns the phone's answer.
func reoffer(t *testing.T, ctx context.Context, leg *media.WebRTCLeg, phone *Phone, dir string) string {
	t.Helper()
	offer, err := leg.Offer(ctx, dir)
	if err != nil {
		t.Fatalf("offer %s: %v", dir, err)
	}
	if !strings.Contains(string(offer), "a="+dir+"\r\n") {
		t.Fatalf("offer does not say %s:\n%s", dir, offer)
	}
	answer, err := phone.Answer(ctx, offer)
	if err != nil {
		t.Fatalf("phone answer to %s: %v", dir, err)
	}
	if err := leg.SetAnswer(answer); err != nil {
		t.Fatalf("set answer: %v", err)
	}
	return string(answer)
}

// TestLegCallsPhone is the call center calling an agent: the WebRTC leg
// offers, the phone answers, and a simulated customer is bridged to the
// leg. Then hold and resume by re-offer, mute, and DTMF from the phone.
func TestLegCallsPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	digits := make(chan rune, 16)
	leg, err := media.NewWebRTCLeg(media.WebRTCConfig{LoopbackCandidates: true, OnDTMF: func(d rune) { digits <- d }})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	phone, err := New(Config{LoopbackCandidates: true})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()

	answer := reoffer(t, ctx, leg, phone, media.SendRecv)
	for _, want := range []string{"UDP/TLS/RTP/SAVPF 0 101", "a=rtpmap:101 telephone-event/8000", "a=fingerprint:", "a=candidate:", "a=sendrecv"} {
		if !strings.Contains(answer, want) {
			t.Errorf("answer lacks %q:\n%s", want, answer)
		}
	}
	if got := phone.Direction(); got != media.SendRecv {
		t.Errorf("phone direction %q", got)
	}

	customer := media.NewSimParty(42)
	defer customer.Close()
	bridge := media.NewBridge()
	defer bridge.Close()
	bridge.Add(leg)
	bridge.Add(customer)

	start := time.Now()
	waitFor(t, 10*time.Second, "the leg to hear the agent", hearing(leg.Stats))
	waitFor(t, 10*time.Second, "the agent to hear the customer", hearing(phone.Stats))
	waitFor(t, 10*time.Second, "the customer to hear the agent", hearing(customer.Stats))
	t.Logf("connected, audio both ways after %v (state %s)", time.Since(start).Round(time.Millisecond), leg.ConnectionState())
	t.Logf("leg:      %+v", leg.Stats())
	t.Logf("phone:    %+v", phone.Stats())
	t.Logf("customer: %+v", customer.Stats())

	// Hold: the agent hears the hold tone, the customer stops hearing the
	// agent, and the phone, answering recvonly, stops sending.
	bridge.Hold(leg, true)
	answer = reoffer(t, ctx, leg, phone, media.SendOnly)
	if !strings.Contains(answer, "a=recvonly\r\n") {
		t.Errorf("answer to sendonly:\n%s", answer)
	}
	if got := phone.Direction(); got != media.SendOnly {
		t.Errorf("phone direction on hold %q", got)
	}
	waitFor(t, 10*time.Second, "the leg to hear nothing", silent(leg.Stats))
	waitFor(t, 10*time.Second, "the customer to hear nothing", silent(customer.Stats))
	waitFor(t, 10*time.Second, "the agent to hear the hold tone", hearing(phone.Stats))
	sent, got := phone.Stats().PacketsOut, phone.Stats().PacketsIn
	waitFor(t, 10*time.Second, "a second of hold tone", func() bool { return phone.Stats().PacketsIn > got+50 })
	if now := phone.Stats().PacketsOut; now != sent {
		t.Errorf("the phone sent %d packets on hold", now-sent)
	}
	t.Logf("on hold: leg %+v", leg.Stats())
	t.Logf("on hold: phone %+v", phone.Stats())

	// Resume.
	bridge.Hold(leg, false)
	answer = reoffer(t, ctx, leg, phone, media.SendRecv)
	if !strings.Contains(answer, "a=sendrecv\r\n") {
		t.Errorf("answer to sendrecv:\n%s", answer)
	}
	if got := phone.Direction(); got != media.SendRecv {
		t.Errorf("phone direction after resume %q", got)
	}
	waitFor(t, 10*time.Second, "the leg to hear the agent again", hearing(leg.Stats))
	waitFor(t, 10*time.Second, "the customer to hear the agent again", hearing(customer.Stats))

	// Mute: packets keep coming, but silent.
	phone.Mute(true)
	in := leg.Stats().PacketsIn
	waitFor(t, 10*time.Second, "silence from the muted phone", func() bool {
		st := leg.Stats()
		return st.LevelIn == media.SilenceLevel && st.PacketsIn > in+25
	})
	t.Logf("muted: leg %+v", leg.Stats())
	phone.Mute(false)
	waitFor(t, 10*time.Second, "the leg to hear the unmuted agent", hearing(leg.Stats))

	// DTMF from the phone, as RFC 4733 events.
	if err := phone.SendDTMF("123#"); err != nil {
		t.Fatal(err)
	}
	var got4 []rune
	timeout := time.After(10 * time.Second)
	for len(got4) < 4 {
		select {
		case d := <-digits:
			got4 = append(got4, d)
		case <-timeout:
			t.Fatalf("digits so far %q", string(got4))
		}
	}
	if string(got4) != "123#" {
		t.Errorf("OnDTMF got %q", string(got4))
	}
	if st := leg.Stats(); st.Digits != "123#" {
		t.Errorf("Stats().Digits = %q", st.Digits)
	}
	if err := phone.SendDTMF("12x"); err == nil {
		t.Error("a bad digit was accepted")
	}
	t.Logf("final: leg %+v", leg.Stats())
	t.Logf("final: phone %+v", phone.Stats())
}

// TestPhoneCallsLeg is an agent dialling out: the phone offers, the leg
// answers; the answer comes first in a 183 (provisional) and again in the
// 200. The leg then holds the phone with an inactive re-offer (which pion
// on its own would turn into a stopped transceiver) and resumes.
func TestPhoneCallsLeg(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leg, err := media.NewWebRTCLeg(media.WebRTCConfig{LoopbackCandidates: true})
	if err != nil {
		t.Fatal(err)
	}
	defer leg.Close()
	phone, err := New(Config{LoopbackCandidates: true})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()

	offer, err := phone.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.SetAnswer(ctx, answer, true); err != nil {
		t.Fatalf("provisional answer: %v", err)
	}
	if err := phone.SetAnswer(ctx, answer, false); err != nil {
		t.Fatalf("final answer: %v", err)
	}

	pumpCtx, stop := context.WithCancel(ctx)
	defer stop()
	customer := media.NewSimParty(7)
	go func() {
		for {
			f, err := customer.ReadFrame(pumpCtx)
			if err != nil || leg.WriteFrame(f) != nil {
				return
			}
		}
	}()
	start := time.Now()
	waitFor(t, 10*time.Second, "the leg to hear the agent", hearing(leg.Stats))
	waitFor(t, 10*time.Second, "the agent to hear the leg", hearing(phone.Stats))
	t.Logf("audio both ways after %v", time.Since(start).Round(time.Millisecond))
	t.Logf("leg:   %+v", leg.Stats())
	t.Logf("phone: %+v", phone.Stats())

	answer2 := reoffer(t, ctx, leg, phone, media.Inactive)
	if !strings.Contains(answer2, "a=inactive\r\n") {
		t.Errorf("answer to inactive:\n%s", answer2)
	}
	start = time.Now()
	waitFor(t, 10*time.Second, "silence both ways", func() bool { return silent(leg.Stats)() && silent(phone.Stats)() })
	t.Logf("inactive: silence both ways after %v", time.Since(start).Round(time.Millisecond))
	reoffer(t, ctx, leg, phone, media.SendRecv)
	waitFor(t, 10*time.Second, "the leg to hear the agent again", hearing(leg.Stats))
	waitFor(t, 10*time.Second, "the agent to hear the leg again", hearing(phone.Stats))

	if err := phone.SendDTMF("9*"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	waitFor(t, 10*time.Second, "digits at the leg", func() bool { return leg.Stats().Digits == "9*" })
	t.Logf("digits after %v", time.Since(start).Round(time.Millisecond))
}
