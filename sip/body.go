package sip

import (
	"bytes"
	"mime"
	"mime/multipart"
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

// extractSDP returns the SDP carried in a message body of the given
// Content-Type: the body itself for application/sdp, the first application/sdp
// part of a multipart body (RFC 5621), or ok=false if there is none.
func extractSDP(contentType string, body []byte) (sdp []byte, ok bool) {
	if len(body) == 0 {
		return nil, true
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, false
	}
	switch {
	case mt == "application/sdp":
		return body, true
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextPart()
			if err != nil {
				return nil, false
			}
			pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err == nil && pt == "application/sdp" {
				var b bytes.Buffer
				if _, err := b.ReadFrom(p); err != nil {
					return nil, false
				}
				return b.Bytes(), true
			}
		}
	}
	return nil, false
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
