package media

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Stream directions (RFC 3264).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// isDirection tells whether s is one of the four directions.
func isDirection(s string) bool {
	switch s {
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return true
	}
	return false
}

// answerDirection is the direction of an answer to an offer with
// direction offered, from an answerer willing to send and receive.
func answerDirection(offered string) string {
	switch offered {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// canSend tells whether we may send, given the direction we declared and
// the one the far end declared.
func canSend(local, remote string) bool {
	return (local == SendRecv || local == SendOnly) && (remote == SendRecv || remote == RecvOnly)
}

// sdpLines splits an SDP body into lines without terminators, dropping
// empty ones.
func sdpLines(b []byte) []string {
	var out []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// sdpDirection returns the direction of the first audio section: its own
// attribute, else the session's, else sendrecv.
func sdpDirection(b []byte) string {
	session, media := "", ""
	section := "" // "": session level; "audio"; "other": another media
	for _, line := range sdpLines(b) {
		if m, ok := strings.CutPrefix(line, "m="); ok {
			if section == "audio" {
				break
			}
			section = "other"
			if strings.HasPrefix(m, "audio ") {
				section = "audio"
			}
			continue
		}
		d, ok := strings.CutPrefix(line, "a=")
		if !ok || !isDirection(d) {
			continue
		}
		switch section {
		case "":
			session = d
		case "audio":
			media = d
		}
	}
	switch {
	case media != "":
		return media
	case session != "":
		return session
	}
	return SendRecv
}

// withDirection returns b with the direction attribute of every audio
// section set to dir (replaced, or added at the end of the section).
func withDirection(b []byte, dir string) []byte {
	var out bytes.Buffer
	lines := sdpLines(b)
	inAudio, found := false, false
	endAudio := func() {
		if inAudio && !found {
			out.WriteString("a=" + dir + "\r\n")
		}
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "m=") {
			endAudio()
			inAudio, found = strings.HasPrefix(line, "m=audio "), false
		} else if d, ok := strings.CutPrefix(line, "a="); ok && inAudio && isDirection(d) {
			if found {
				continue // a second direction attribute: drop it
			}
			line, found = "a="+dir, true
		}
		out.WriteString(line + "\r\n")
	}
	endAudio()
	return out.Bytes()
}

// sdpAttribute returns the value of the first a=name:value attribute.
func sdpAttribute(b []byte, name string) string {
	for _, line := range sdpLines(b) {
		if v, ok := strings.CutPrefix(line, "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

// audioDesc is what a plain RTP leg takes from a remote description.
type audioDesc struct {
	addr      *net.UDPAddr // where to send; an unspecified IP means hold (RFC 2543 style)
	audioPT   uint8        // PCMU
	eventPT   uint8        // telephone-event/8000
	haveEvent bool
	direction string
}

// parseAudio reads the first audio section of a plain RTP/AVP description.
func parseAudio(b []byte) (audioDesc, error) {
	var (
		d          audioDesc
		sessionIP  string
		mediaIP    string
		sessionDir string
		port       int
		formats    []string
		rtpmaps    = map[string]string{} // payload type -> encoding name/rate
		inAudio    bool
		seenAudio  bool
	)
	for _, line := range sdpLines(b) {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if key == "m" {
			if seenAudio {
				break
			}
			f := strings.Fields(value)
			if len(f) < 4 || f[0] != "audio" {
				inAudio = false
				continue
			}
			inAudio, seenAudio = true, true
			p, err := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
			if err != nil || p < 0 || p > 65535 {
				return d, fmt.Errorf("media: bad audio port %q", f[1])
			}
			if f[2] != "RTP/AVP" {
				return d, fmt.Errorf("media: audio transport %s is not plain RTP/AVP", f[2])
			}
			port, formats = p, f[3:]
			continue
		}
		if !inAudio && seenAudio {
			continue
		}
		switch key {
		case "c":
			f := strings.Fields(value)
			if len(f) < 3 {
				return d, fmt.Errorf("media: bad connection line %q", line)
			}
			ip := strings.SplitN(f[2], "/", 2)[0]
			if inAudio {
				mediaIP = ip
			} else {
				sessionIP = ip
			}
		case "a":
			if isDirection(value) {
				if inAudio {
					d.direction = value
				} else {
					sessionDir = value
				}
			} else if m, ok := strings.CutPrefix(value, "rtpmap:"); ok && inAudio {
				pt, enc, _ := strings.Cut(m, " ")
				rtpmaps[pt] = strings.ToLower(strings.TrimSpace(enc))
			}
		}
	}
	if !seenAudio {
		return d, errors.New("media: no audio section")
	}
	if port == 0 {
		return d, errors.New("media: audio stream rejected (port 0)")
	}
	havePCMU := false
	for _, f := range formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		enc, mapped := rtpmaps[f]
		switch {
		case !havePCMU && (enc == "pcmu/8000" || enc == "pcmu/8000/1" || (!mapped && pt == 0)):
			d.audioPT, havePCMU = uint8(pt), true
		case !d.haveEvent && strings.HasPrefix(enc, "telephone-event/8000"):
			d.eventPT, d.haveEvent = uint8(pt), true
		}
	}
	if !havePCMU {
		return d, errors.New("media: the far end does not offer PCMU")
	}
	ip := mediaIP
	if ip == "" {
		ip = sessionIP
	}
	addr := net.ParseIP(ip)
	if addr == nil {
		return d, fmt.Errorf("media: bad connection address %q", ip)
	}
	d.addr = &net.UDPAddr{IP: addr, Port: port}
	if d.direction == "" {
		d.direction = sessionDir
	}
	if d.direction == "" {
		d.direction = SendRecv
	}
	return d, nil
}
