package callcenter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/agentbar/agentbar/sip/check"
)

// Why a stream cannot be framed past a message.
var (
	errNoLength  = errors.New("no Content-Length on a stream")
	errTwoLength = errors.New("more than one Content-Length")
	errBadLength = errors.New("malformed Content-Length")
	errTooLarge  = fmt.Errorf("over the parser's size limit: %w", sip.ErrMessageTooLarge) // answered 513
	errTruncated = errors.New("stream ended inside the message")
	errSlow      = errors.New("message not completed in time")
)

// guardListener puts a guard in front of sipgo on a TCP listener.
type guardListener struct {
	net.Listener
	g *guard
}

// Accept returns the next connection, seen through the guard.
func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardStream{Conn: c, g: l.g, br: bufio.NewReader(c)}, nil
}

// guardStream is a TCP connection seen through the guard. It frames the
// stream into messages by their Content-Length (RFC 3261 §18.3), gives
// each the guard's check, answers on the connection, and lets sipgo read
// only the messages that pass. CRLFs between messages are dropped (§7.5),
// and a CRLFCRLF keep-alive ping gets its CRLF pong (RFC 5626 §3.5.1).
//
// A message that cannot be framed (no Content-Length, a malformed or a
// second one, over the parser's size limit, cut short by the end of the
// stream or not completed in time) leaves no boundary to find the next
// one at: it gets 400 and the connection ends (see fail).
type guardStream struct {
	net.Conn
	g       *guard
	br      *bufio.Reader
	pending []byte // the part of a passed message sipgo has not read yet
	err     error  // what Read returns once pending is empty
}

// Read gives sipgo the next messages that pass the guard.
func (s *guardStream) Read(b []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		msg, err := s.next()
		if err != nil {
			s.err = err
			continue
		}
		reply, pass, fixed := s.g.check(msg)
		if reply != nil {
			s.reply(reply)
		}
		if fixed != nil {
			msg = fixed
		}
		if pass {
			s.pending = msg
		}
	}
	n := copy(b, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// Write sends what sipgo sends, without the guard's null tag.
func (s *guardStream) Write(b []byte) (int, error) {
	if _, err := s.Conn.Write(s.g.strip(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// reply sends the guard's own answer.
func (s *guardStream) reply(b []byte) {
	if _, err := s.Conn.Write(b); err != nil {
		s.g.log.Debug("callcenter: guard reply failed", "err", err)
	}
}

// next reads the next message from the stream. A message that cannot be
// framed is answered here, and the stream ends (io.EOF).
func (s *guardStream) next() ([]byte, error) {
	limit := s.g.parser.MaxMessageLength
	var msg []byte
	for blank := 0; len(msg) == 0; {
		line, err := s.line(nil, limit)
		if err != nil {
			return nil, s.broken(line, err)
		}
		if len(bytes.TrimRight(line, "\r\n")) > 0 {
			msg = line
		} else if blank++; blank%2 == 0 {
			s.reply([]byte("\r\n"))
		}
	}
	s.SetReadDeadline(time.Now().Add(s.g.timeout))
	defer s.SetReadDeadline(time.Time{})
	for end := false; !end; {
		n := len(msg)
		var err error
		if msg, err = s.line(msg, limit); err != nil {
			return nil, s.broken(msg, err)
		}
		end = len(bytes.TrimRight(msg[n:], "\r\n")) == 0
	}
	length, err := contentLength(msg)
	if err == nil && length > limit-len(msg) {
		err = errTooLarge
	}
	if err != nil {
		return nil, s.fail(msg, err)
	}
	head := len(msg)
	msg = append(msg, make([]byte, length)...)
	if _, err := io.ReadFull(s.br, msg[head:]); err != nil {
		return nil, s.broken(msg[:head], err)
	}
	return msg, nil
}

// line appends the next line of the stream, LF included, to msg, which
// may not grow past limit bytes.
func (s *guardStream) line(msg []byte, limit int) ([]byte, error) {
	for {
		chunk, err := s.br.ReadSlice('\n')
		msg = append(msg, chunk...)
		switch {
		case len(msg) > limit:
			return msg, errTooLarge
		case err != bufio.ErrBufferFull:
			return msg, err
		}
	}
}

// broken handles a read that failed after partial bytes of a message:
// the peer closed or stalled inside it, or it grew too large (the answer,
// then io.EOF); with no partial bytes, or when the connection failed, the
// error goes to sipgo as it is.
func (s *guardStream) broken(partial []byte, err error) error {
	var ne net.Error
	switch {
	case len(partial) == 0:
		return err
	case errors.Is(err, errTooLarge):
		return s.fail(partial, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return s.fail(partial, errTruncated)
	case errors.As(err, &ne) && ne.Timeout():
		return s.fail(partial, errSlow)
	}
	return err
}

// fail answers a message the stream cannot be framed past, from its
// headers (check.Unparsable: 400 with why, or nothing for a response or
// an ACK), and ends the stream (io.EOF). What follows has no boundaries:
// it is read and dropped until the peer ends its side or the guard's
// timeout passes, while the answers to the messages before still go out.
func (s *guardStream) fail(data []byte, why error) error {
	s.g.log.Debug("callcenter: trunk stream cannot be framed", "remote", s.RemoteAddr().String(), "err", why)
	if reply := check.Unparsable(data, why); reply != nil {
		s.reply(reply)
	}
	s.SetReadDeadline(time.Now().Add(s.g.timeout))
	io.Copy(io.Discard, s.br)
	return io.EOF
}

// contentLength reads the one Content-Length (or l) header of a message's
// header block.
func contentLength(head []byte) (int, error) {
	lines := strings.Split(string(head), "\n")
	n := -1
	folded := func(i int) bool {
		return i < len(lines) && (strings.HasPrefix(lines[i], " ") || strings.HasPrefix(lines[i], "\t"))
	}
	for i := 1; i < len(lines); i++ {
		name, value, ok := strings.Cut(lines[i], ":")
		name = strings.TrimSpace(name)
		if folded(i) || !ok || !strings.EqualFold(name, "Content-Length") && !strings.EqualFold(name, "l") {
			continue
		}
		for folded(i + 1) {
			i++
			value += lines[i] // a value folded over lines (RFC 3261 §7.3.1)
		}
		if n >= 0 {
			return 0, errTwoLength
		}
		value = strings.TrimSpace(value)
		var err error
		if n, err = strconv.Atoi(value); err != nil || strings.Trim(value, "0123456789") != "" {
			return 0, errBadLength
		}
	}
	if n < 0 {
		return 0, errNoLength
	}
	return n, nil
}
