package sip

import (
	"mime"
	"strings"
)

// SDPDirection is the media direction an SDP body asks for (RFC 3264 §5.1, §8.4).
type SDPDirection string

// Directions as written in SDP.
const (
	SendRecv SDPDirection = "sendrecv"
	SendOnly SDPDirection = "sendonly"
	RecvOnly SDPDirection = "recvonly"
	Inactive SDPDirection = "inactive"
)

// OnHold reports whether an offer with this direction puts the offerer's peer
// on hold: the offerer will not receive (sendonly) or will do neither (inactive).
func (d SDPDirection) OnHold() bool { return d == SendOnly || d == Inactive }

// sdpDirection reads the direction of the first audio stream of an SDP body:
// a media-level attribute wins over a session-level one, and the RFC 2543
// hold form (c=IN IP4 0.0.0.0) counts as sendonly. No attribute means sendrecv.
func sdpDirection(sdp []byte) SDPDirection {
	dir, media := SendRecv, SDPDirection("")
	inAudio, seenMedia, zeroConn := false, false, false
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			if seenMedia && inAudio {
				inAudio = false
				continue
			}
			inAudio = strings.HasPrefix(line, "m=audio")
			seenMedia = true
		case strings.HasPrefix(line, "c=") && (!seenMedia || inAudio):
			zeroConn = strings.HasSuffix(strings.TrimSpace(line), " 0.0.0.0")
		case strings.HasPrefix(line, "a="):
			d := SDPDirection(strings.TrimPrefix(line, "a="))
			if d != SendRecv && d != SendOnly && d != RecvOnly && d != Inactive {
				continue
			}
			if !seenMedia {
				dir = d
			} else if inAudio && media == "" {
				media = d
			}
		}
	}
	if media != "" {
		dir = media
	}
	if zeroConn && dir == SendRecv {
		dir = SendOnly
	}
	return dir
}

// dtmfDigit reads the digit of an INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160") or application/dtmf ("5"). Digits are 0-9, *, #, A-D.
func dtmfDigit(contentType string, body []byte) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	var v string
	switch mt {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, val, found := strings.Cut(line, "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "signal") {
				v = strings.TrimSpace(val)
				break
			}
		}
	case "application/dtmf":
		v = strings.TrimSpace(string(body))
	default:
		return "", false
	}
	if len(v) != 1 || !strings.Contains("0123456789*#ABCDabcd", v) {
		return "", false
	}
	return strings.ToUpper(v), true
}
