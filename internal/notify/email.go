package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Email sends messages through an SMTP server.
type Email struct {
	Host     string
	Port     int // 0: 587, or 465 with TLS "tls", 25 with TLS "none"
	From     string
	To       []string
	Username string
	Password string
	// TLS is "starttls" (default: required), "tls" (implicit) or "none".
	TLS string
	// TLSConfig overrides the TLS settings (tests trust their own CA with it).
	TLSConfig *tls.Config
	Now       func() time.Time
}

var _ Notifier = (*Email)(nil)

// Notify sends m as a plain-text mail to every recipient.
func (e *Email) Notify(ctx context.Context, m Message) error {
	c, err := e.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	}
	if err := e.send(c.Client, m); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return nil
}

// smtpConn is an SMTP client with its connection, for deadlines.
type smtpConn struct {
	*smtp.Client
	conn net.Conn
}

// dial connects, says hello and secures the session as configured.
func (e *Email) dial(ctx context.Context) (*smtpConn, error) {
	mode := e.TLS
	if mode == "" {
		mode = "starttls"
	}
	port := e.Port
	if port == 0 {
		port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[mode]
	}
	addr := net.JoinHostPort(e.Host, strconv.Itoa(port))
	cfg := e.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{ServerName: e.Host, MinVersion: tls.VersionTLS12}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("email: connect %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if mode == "tls" {
		conn = tls.Client(conn, cfg)
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("email: %s: %w", addr, err)
	}
	if err := c.Hello("sluice"); err != nil {
		c.Close()
		return nil, fmt.Errorf("email: hello: %w", err)
	}
	if mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			c.Close()
			return nil, fmt.Errorf("email: %s offers no STARTTLS; set tls: none only for a server on this machine: %w", addr, ErrPermanent)
		}
		if err := c.StartTLS(cfg); err != nil {
			c.Close()
			return nil, fmt.Errorf("email: starttls: %w", err)
		}
	}
	return &smtpConn{Client: c, conn: conn}, nil
}

// send authenticates when asked and delivers one mail.
func (e *Email) send(c *smtp.Client, m Message) error {
	if e.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, e.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(e.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("rcpt to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(e.compose(m)); err != nil {
		w.Close()
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// compose writes the mail: headers (the subject encoded for any characters) and a
// quoted-printable UTF-8 body, with CRLF line ends.
func (e *Email) compose(m Message) []byte {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	var id [8]byte
	rand.Read(id[:])
	var b bytes.Buffer
	hd := [][2]string{
		{"From", e.From}, {"To", strings.Join(e.To, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", "[sluice] "+m.Title())},
		{"Date", now().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id[:]) + "." + deliveryID(m) + "@sluice>"},
		{"MIME-Version", "1.0"}, {"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"}, {"X-Sluice-Event", m.Trigger},
	}
	for _, h := range hd {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Text(), "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}
