package probetest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP is a go-smtp relay on 127.0.0.1 that offers AUTH PLAIN only over
// TLS (STARTTLS, or TLS from the first byte) and keeps what it receives.
type SMTP struct {
	Host string
	Port int
	mu   sync.Mutex
	msgs []Message
}

// Message is one message the relay accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// StartSMTP runs the relay with one account; implicitTLS makes it speak
// TLS from the first byte (port 465 style) instead of offering STARTTLS.
func StartSMTP(t testing.TB, ca *CA, user, password string, implicitTLS bool) *SMTP {
	t.Helper()
	s := &SMTP{Host: "127.0.0.1"}
	be := smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{relay: s, user: user, password: password}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "relay.probetest"
	srv.TLSConfig = ca.Server.Clone()
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = testLogger{t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for SMTP: %v", err)
	}
	if implicitTLS {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// Addr is host:port.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns what the relay accepted so far.
func (s *SMTP) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type smtpSession struct {
	relay          *SMTP
	user, password string
	authed         bool
	cur            Message
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.user || password != s.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = Message{From: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.cur.To) == 0 {
		return errors.New("no recipient")
	}
	s.cur.Data = data
	s.relay.mu.Lock()
	s.relay.msgs = append(s.relay.msgs, s.cur)
	s.relay.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = Message{} }
func (s *smtpSession) Logout() error { return nil }

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp relay: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp relay:"}, v...)...) }
