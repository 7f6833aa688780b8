package media

import (
	"strings"
	"testing"
)

const webrtcSDP = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n"

func TestSDPDirection(t *testing.T) {
	for _, tc := range []struct{ sdp, want string }{
		{webrtcSDP, SendRecv},
		{strings.Replace(webrtcSDP, "a=sendrecv", "a=sendonly", 1), SendOnly},
		{strings.Replace(webrtcSDP, "a=sendrecv\r\n", "", 1), SendRecv},
		{strings.Replace(strings.Replace(webrtcSDP, "a=sendrecv\r\n", "", 1), "t=0 0\r\n", "t=0 0\r\na=inactive\r\n", 1), Inactive},
		{"v=0\r\nm=video 9 RTP/AVP 96\r\na=recvonly\r\nm=audio 9 RTP/AVP 0\r\na=sendonly\r\n", SendOnly},
	} {
		if got := sdpDirection([]byte(tc.sdp)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.sdp, got, tc.want)
		}
	}
}

func TestWithDirection(t *testing.T) {
	got := string(withDirection([]byte(webrtcSDP), SendOnly))
	if strings.Count(got, "a=sendonly\r\n") != 1 || strings.Contains(got, "a=sendrecv") {
		t.Errorf("replace:\n%s", got)
	}
	if got != strings.Replace(webrtcSDP, "a=sendrecv", "a=sendonly", 1) {
		t.Errorf("other lines changed:\n%s", got)
	}
	bare := strings.Replace(webrtcSDP, "a=sendrecv\r\n", "", 1)
	if got := string(withDirection([]byte(bare), Inactive)); !strings.HasSuffix(got, "a=rtcp-mux\r\na=inactive\r\n") {
		t.Errorf("insert:\n%s", got)
	}
	two := webrtcSDP + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"
	if got := string(withDirection([]byte(two), RecvOnly)); !strings.HasSuffix(got, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n") || !strings.Contains(got, "a=recvonly") {
		t.Errorf("video touched:\n%s", got)
	}
}

func TestAnswerDirection(t *testing.T) {
	for offer, want := range map[string]string{SendRecv: SendRecv, SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive} {
		if got := answerDirection(offer); got != want {
			t.Errorf("%s -> %s, want %s", offer, got, want)
		}
	}
	if canSend(RecvOnly, SendOnly) || canSend(SendOnly, SendOnly) || !canSend(SendOnly, RecvOnly) || !canSend(SendRecv, SendRecv) {
		t.Error("canSend")
	}
}

func TestParseAudio(t *testing.T) {
	sip := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	d, err := parseAudio([]byte(sip))
	if err != nil {
		t.Fatal(err)
	}
	if d.addr.String() != "192.0.2.1:30000" || d.audioPT != 0 || !d.haveEvent || d.eventPT != 101 || d.direction != SendRecv {
		t.Errorf("%+v", d)
	}
	hold := strings.Replace(sip, "c=IN IP4 192.0.2.1", "c=IN IP4 0.0.0.0", 1)
	if d, err := parseAudio([]byte(hold)); err != nil || !d.addr.IP.IsUnspecified() {
		t.Errorf("hold: %+v %v", d, err)
	}
	media := strings.Replace(sip, "a=rtpmap", "c=IN IP4 198.51.100.7\r\na=rtpmap", 1)
	if d, _ := parseAudio([]byte(media)); d.addr.IP.String() != "198.51.100.7" {
		t.Errorf("media-level c=: %v", d.addr)
	}
	for name, bad := range map[string]string{
		"no audio": "v=0\r\nc=IN IP4 1.2.3.4\r\n",
		"rejected": strings.Replace(sip, "30000", "0", 1),
		"srtp":     strings.Replace(sip, "RTP/AVP", "RTP/SAVP", 1),
		"no pcmu":  strings.Replace(sip, "RTP/AVP 0 101", "RTP/AVP 8 101", 1),
		"no c=":    strings.Replace(sip, "c=IN IP4 192.0.2.1\r\n", "", 1),
	} {
		if _, err := parseAudio([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
