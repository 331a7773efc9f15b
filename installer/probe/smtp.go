package probe

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// SMTPReport is what the SMTP check found.
type SMTPReport struct {
	// TLS is the TLS version of the connection, empty for a plain one.
	TLS string
	// Mechanism is the SASL mechanism that authenticated, empty without a user.
	Mechanism string
	// Sent is true when a test message was accepted for delivery.
	Sent bool
}

// SMTP checks the mail relay: it connects, secures the connection as
// configured (STARTTLS on the submission port, TLS from the first byte on
// port 465), verifies the server's certificate, and authenticates when a
// user is given. No mail is sent unless sendTo is set; then one short test
// message goes to that address.
func (l *Live) SMTP(ctx context.Context, s config.SMTP, password, sendTo string) (*SMTPReport, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	if s.Host == "" || s.Port < 1 || s.Port > 65535 {
		return nil, fmt.Errorf("the relay needs a host and a port")
	}
	addr := net.JoinHostPort(s.Host, portString(s.Port))
	tlsCfg, err := l.tlsConfig(s.Host)
	if err != nil {
		return nil, err
	}
	conn, err := l.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the relay %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	rep := &SMTPReport{}
	if s.Security == config.SMTPTLS {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return rep, fmt.Errorf("starting TLS with %s: %w (port 465 speaks TLS from the first byte; for the submission port 587 choose starttls)", addr, err)
		}
		conn = tc
		rep.TLS = tls.VersionName(tc.ConnectionState().Version)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return rep, fmt.Errorf("reading the greeting of %s: %w (is it an SMTP server, and does its port match the security mode?)", addr, err)
	}
	defer c.Close()
	local, err := os.Hostname()
	if err != nil || local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return rep, fmt.Errorf("greeting %s: %w", addr, err)
	}
	if s.Security == config.SMTPStartTLS || s.Security == "" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return rep, fmt.Errorf("the relay %s does not offer STARTTLS: use security tls if it is an implicit-TLS port (465), or another relay", addr)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return rep, fmt.Errorf("starting TLS with %s: %w", addr, err)
		}
		st, _ := c.TLSConnectionState()
		rep.TLS = tls.VersionName(st.Version)
	}
	if s.Username != "" {
		if rep.TLS == "" {
			return rep, fmt.Errorf("refusing to send the password of %q to %s over an unencrypted connection: use security starttls or tls", s.Username, addr)
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return rep, fmt.Errorf("the relay %s offers no authentication (no AUTH after TLS): leave the user name empty if it relays for this host without one", addr)
		}
		list := strings.Fields(strings.ToUpper(mechs))
		var auth smtp.Auth
		switch {
		case slices.Contains(list, "PLAIN"):
			auth, rep.Mechanism = smtp.PlainAuth("", s.Username, password, s.Host), "PLAIN"
		case slices.Contains(list, "LOGIN"):
			auth, rep.Mechanism = &loginAuth{user: s.Username, pass: password}, "LOGIN"
		default:
			return rep, fmt.Errorf("the relay %s offers only %s; this appliance authenticates with PLAIN or LOGIN", addr, mechs)
		}
		if err := c.Auth(auth); err != nil {
			return rep, fmt.Errorf("authenticating to %s as %q with %s: the relay refused: %w", addr, s.Username, rep.Mechanism, err)
		}
	}
	if sendTo != "" {
		if err := sendTest(c, s.From, sendTo); err != nil {
			return rep, fmt.Errorf("sending a test message from %s to %s through %s: %w", s.From, sendTo, addr, err)
		}
		rep.Sent = true
	}
	if err := c.Quit(); err != nil {
		return rep, fmt.Errorf("closing the session with %s: %w", addr, err)
	}
	return rep, nil
}

func sendTest(c *smtp.Client, from, to string) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := from[strings.LastIndex(from, "@")+1:]
	msg := "From: " + from + "\r\n" +
		"To: " + to + "\r\n" +
		"Subject: docs-appliance: test message\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + hex.EncodeToString(id) + "@" + domain + ">\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"This message was sent by the docs-appliance installer to check the mail relay.\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

// loginAuth is the LOGIN SASL mechanism, which some relays offer instead
// of PLAIN. It is only used over TLS (checked by the caller).
type loginAuth struct{ user, pass string }

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch p := strings.ToLower(strings.TrimSpace(string(fromServer))); {
	case strings.HasPrefix(p, "user"):
		return []byte(a.user), nil
	case strings.HasPrefix(p, "pass"):
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", fromServer)
}
