package notify

import (
	"encoding/base64"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// mail is one message an smtpServer accepted.
type mail struct {
	from string
	to   []string
	auth string // "user:password" from AUTH PLAIN
	data string
}

// smtpServer is a small SMTP server (RFC 5321) on loopback: EHLO with AUTH PLAIN
// and 8BITMIME, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT, and reply
// codes for commands out of order. reject, when set, answers RCPT TO with 550.
type smtpServer struct {
	t      *testing.T
	ln     net.Listener
	reject string

	mu    sync.Mutex
	mails []mail
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{t: t, ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) received() []mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mail(nil), s.mails...)
}

// serve speaks SMTP on one connection.
func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 127.0.0.1 ESMTP test ready")
	var m mail
	greeted := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			greeted = true
			tp.PrintfLine("250-127.0.0.1 greets %s", arg)
			tp.PrintfLine("250-8BITMIME")
			tp.PrintfLine("250 AUTH PLAIN")
		case "HELO":
			greeted = true
			tp.PrintfLine("250 127.0.0.1")
		case "AUTH":
			s.auth(tp, arg, &m)
		case "MAIL":
			if !greeted {
				tp.PrintfLine("503 5.5.1 say EHLO first")
				continue
			}
			m.from, m.to = addrOf(arg), nil
			tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			if m.from == "" {
				tp.PrintfLine("503 5.5.1 need MAIL first")
				continue
			}
			if to := addrOf(arg); to == s.reject {
				tp.PrintfLine("550 5.1.1 <%s>: no such user", to)
			} else {
				m.to = append(m.to, to)
				tp.PrintfLine("250 2.1.5 ok")
			}
		case "DATA":
			s.data(tp, &m)
		case "RSET":
			m = mail{auth: m.auth}
			tp.PrintfLine("250 2.0.0 ok")
		case "NOOP":
			tp.PrintfLine("250 2.0.0 ok")
		case "QUIT":
			tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 command not recognised")
		}
	}
}

func (s *smtpServer) auth(tp *textproto.Conn, arg string, m *mail) {
	mech, resp, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		tp.PrintfLine("504 5.5.4 unrecognised authentication type")
		return
	}
	if resp == "" {
		tp.PrintfLine("334 ")
		resp, _ = tp.ReadLine()
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != 3 {
		tp.PrintfLine("501 5.5.2 cannot decode the response")
		return
	}
	m.auth = parts[1] + ":" + parts[2]
	tp.PrintfLine("235 2.7.0 authentication successful")
}

func (s *smtpServer) data(tp *textproto.Conn, m *mail) {
	if len(m.to) == 0 {
		tp.PrintfLine("503 5.5.1 need RCPT first")
		return
	}
	tp.PrintfLine("354 end data with <CR><LF>.<CR><LF>")
	b, err := tp.ReadDotBytes()
	if err != nil {
		return
	}
	m.data = string(b)
	s.mu.Lock()
	s.mails = append(s.mails, *m)
	s.mu.Unlock()
	*m = mail{auth: m.auth}
	tp.PrintfLine("250 2.0.0 queued")
}

// addrOf reads the address of "FROM:<a@b>" or "TO:<a@b> SIZE=1".
func addrOf(arg string) string {
	_, rest, _ := strings.Cut(arg, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return rest[1:i]
	}
	return rest
}
