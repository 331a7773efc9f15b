package probe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestSMTPAgainstARealRelay(t *testing.T) {
	ca := probetest.NewCA(t)
	live := &probe.Live{CABundle: ca.PEM}
	ctx := context.Background()
	starttls := probetest.StartSMTP(t, ca, "docs@example.org", "mail-pass-1", false)
	implicit := probetest.StartSMTP(t, ca, "docs@example.org", "mail-pass-1", true)
	relay := func(r *probetest.SMTP, security string) config.SMTP {
		return config.SMTP{Host: r.Host, Port: r.Port, Username: "docs@example.org", From: "docs@example.org", Security: security}
	}

	t.Run("STARTTLS and AUTH PLAIN accepted, no mail sent", func(t *testing.T) {
		rep, err := live.SMTP(ctx, relay(starttls, config.SMTPStartTLS), "mail-pass-1", "")
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if rep.TLS == "" || rep.Mechanism != "PLAIN" || rep.Sent {
			t.Errorf("report = %+v", rep)
		}
		if n := len(starttls.Messages()); n != 0 {
			t.Errorf("%d messages sent without being asked", n)
		}
	})

	t.Run("implicit TLS accepted, test message sent when asked", func(t *testing.T) {
		rep, err := live.SMTP(ctx, relay(implicit, config.SMTPTLS), "mail-pass-1", "admin@example.org")
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		msgs := implicit.Messages()
		if !rep.Sent || len(msgs) != 1 || msgs[0].To[0] != "admin@example.org" || !strings.Contains(string(msgs[0].Data), "Subject: docs-appliance: test message") {
			t.Errorf("report %+v, messages %+v", rep, msgs)
		}
	})

	cases := []struct {
		name     string
		cfg      config.SMTP
		password string
		want     string
	}{
		{"bad password", relay(starttls, config.SMTPStartTLS), "not-the-pass-7", "the relay refused"},
		{"STARTTLS asked of an implicit-TLS port", relay(implicit, config.SMTPStartTLS), "mail-pass-1", "reading the greeting"},
		{"TLS asked of a STARTTLS port", relay(starttls, config.SMTPTLS), "mail-pass-1", "starting TLS"},
		{"password over a plain connection", relay(starttls, config.SMTPNone), "mail-pass-1", "refusing to send the password"},
		{"nothing listening", config.SMTP{Host: "127.0.0.1", Port: 1, Username: "u", Security: config.SMTPStartTLS}, "x", "connecting to the relay"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A relay that waits for a TLS hello while the client waits for a greeting
			// only ends at the timeout: keep it short here.
			quick := &probe.Live{CABundle: ca.PEM, Timeout: 2 * time.Second}
			_, err := quick.SMTP(ctx, tc.cfg, tc.password, "")
			if err == nil {
				t.Fatal("a bad answer was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("reason = %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("the reason shows the password: %q", err)
			}
		})
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		_, err := (&probe.Live{}).SMTP(ctx, relay(starttls, config.SMTPStartTLS), "mail-pass-1", "")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("want a certificate error, got %v", err)
		}
	})
}
