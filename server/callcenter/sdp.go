package callcenter

import (
	"fmt"
	"strings"
)

// SDP directions (RFC 3264 §5.1).
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// sdpDirection reads the direction of the first audio stream of an SDP
// body: a media-level attribute wins over a session-level one; none means
// sendrecv.
func sdpDirection(sdp []byte) string {
	session, media := "", ""
	seenMedia, inAudio := false, false
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "m=") {
			if seenMedia && inAudio {
				break
			}
			seenMedia, inAudio = true, strings.HasPrefix(line, "m=audio")
			continue
		}
		v, ok := strings.CutPrefix(line, "a=")
		if !ok || !isDirection(v) {
			continue
		}
		switch {
		case !seenMedia:
			session = v
		case inAudio && media == "":
			media = v
		}
	}
	switch {
	case media != "":
		return media
	case session != "":
		return session
	}
	return dirSendRecv
}

func isDirection(s string) bool {
	return s == dirSendRecv || s == dirSendOnly || s == dirRecvOnly || s == dirInactive
}

// answerDirection is the direction that answers an offer's direction.
func answerDirection(offer string) string {
	switch offer {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return dirSendRecv
}

// plainSDP is a minimal PCMU audio description with telephone-event, as the
// fake media writes it.
func plainSDP(version int, port int, dir string) []byte {
	return fmt.Appendf(nil, "v=0\r\n"+
		"o=agentbar 1 %d IN IP4 127.0.0.1\r\n"+
		"s=agentbar\r\n"+
		"c=IN IP4 127.0.0.1\r\n"+
		"t=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-15\r\n"+
		"a=ptime:20\r\n"+
		"a=%s\r\n", version, port, dir)
}
