package probe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestS3AgainstARealServer(t *testing.T) {
	ca := probetest.NewCA(t)
	live := &probe.Live{CABundle: ca.PEM}
	ctx := context.Background()
	gw := probetest.StartS3(t, ca, true)
	storage := func(s *probetest.S3, bucket string) config.Storage {
		return config.Storage{Mode: config.External, Endpoint: s.Endpoint, Region: s.Region, Bucket: bucket}
	}

	t.Run("good answer: versioned bucket, round trip leaves nothing, clock agrees", func(t *testing.T) {
		gw.CreateBucket(t, "docs-good", true)
		rep, err := live.S3(ctx, storage(gw, "docs-good"), gw.AccessKey, gw.SecretKey, probe.S3Consent{})
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if !rep.RoundTrip || rep.Versioning != "Enabled" || rep.BucketCreated || rep.VersioningEnabled {
			t.Errorf("report = %+v", rep)
		}
		if n := gw.ObjectVersions(t, "docs-good"); n != 0 {
			t.Errorf("the probe left %d versions or delete markers in the bucket", n)
		}
		if rep.ClockSkew > 3*time.Second || rep.ClockSkew < -3*time.Second || len(rep.Warnings) != 0 {
			t.Errorf("skew %s, warnings %v: want none on one machine", rep.ClockSkew, rep.Warnings)
		}
	})

	t.Run("bad access key ID", func(t *testing.T) {
		gw.CreateBucket(t, "docs-keys", true)
		_, err := live.S3(ctx, storage(gw, "docs-keys"), "AKIANOBODYKNOWS00000", gw.SecretKey, probe.S3Consent{})
		if err == nil || !strings.Contains(err.Error(), "does not know the access key ID") {
			t.Fatalf("want the unknown key named, got %v", err)
		}
	})

	t.Run("bad secret key", func(t *testing.T) {
		_, err := live.S3(ctx, storage(gw, "docs-keys"), gw.AccessKey, "not-the-secret-key-000", probe.S3Consent{})
		if err == nil || !strings.Contains(err.Error(), "refused the secret key") {
			t.Fatalf("want the secret refused, got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-secret-key-000") {
			t.Errorf("the reason shows the secret: %v", err)
		}
	})

	t.Run("missing bucket: asks before creating, then creates it and turns versioning on", func(t *testing.T) {
		_, err := live.S3(ctx, storage(gw, "docs-new"), gw.AccessKey, gw.SecretKey, probe.S3Consent{})
		var consent *probe.ConsentNeeded
		if !errors.As(err, &consent) || !strings.Contains(consent.Action, "create the bucket docs-new") {
			t.Fatalf("want consent to create the bucket asked, got %v", err)
		}
		if gw.BucketExists("docs-new") {
			t.Fatal("the bucket was created without consent")
		}
		rep, err := live.S3(ctx, storage(gw, "docs-new"), gw.AccessKey, gw.SecretKey, probe.S3Consent{CreateBucket: true, EnableVersioning: true})
		if err != nil {
			t.Fatalf("with consent: %v", err)
		}
		if !rep.BucketCreated || !rep.VersioningEnabled || !rep.RoundTrip {
			t.Errorf("report = %+v", rep)
		}
		if v, err := gw.BucketVersioning("docs-new"); err != nil || v != "Enabled" {
			t.Errorf("the server says versioning %q (%v)", v, err)
		}
	})

	t.Run("versioning off but enableable: asks, then turns it on", func(t *testing.T) {
		gw.CreateBucket(t, "docs-unversioned", false)
		_, err := live.S3(ctx, storage(gw, "docs-unversioned"), gw.AccessKey, gw.SecretKey, probe.S3Consent{})
		var consent *probe.ConsentNeeded
		if !errors.As(err, &consent) || !strings.Contains(consent.Action, "turn on versioning") {
			t.Fatalf("want consent to turn versioning on asked, got %v", err)
		}
		if v, _ := gw.BucketVersioning("docs-unversioned"); v == "Enabled" {
			t.Fatal("versioning was turned on without consent")
		}
		rep, err := live.S3(ctx, storage(gw, "docs-unversioned"), gw.AccessKey, gw.SecretKey, probe.S3Consent{EnableVersioning: true})
		if err != nil || !rep.VersioningEnabled {
			t.Fatalf("with consent: %+v, %v", rep, err)
		}
		if v, err := gw.BucketVersioning("docs-unversioned"); err != nil || v != "Enabled" {
			t.Errorf("the server says versioning %q (%v)", v, err)
		}
	})

	t.Run("versioning not enableable: a store without versioning is refused", func(t *testing.T) {
		flat := probetest.StartS3(t, ca, false)
		flat.CreateBucket(t, "docs-flat", false)
		_, err := live.S3(ctx, storage(flat, "docs-flat"), flat.AccessKey, flat.SecretKey, probe.S3Consent{EnableVersioning: true})
		if err == nil || !strings.Contains(err.Error(), "does not support versioning") {
			t.Fatalf("want versioning refused, got %v", err)
		}
		t.Logf("reason shown: %v", err)
	})

	t.Run("clock skew is measured from the Date header and warned about", func(t *testing.T) {
		skewed := &probe.Live{CABundle: ca.PEM, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
		rep, err := skewed.S3(ctx, storage(gw, "docs-good"), gw.AccessKey, gw.SecretKey, probe.S3Consent{})
		if err != nil {
			t.Fatal(err)
		}
		if d := rep.ClockSkew - 10*time.Minute; d > 3*time.Second || d < -3*time.Second {
			t.Errorf("skew = %s, want about 10m", rep.ClockSkew)
		}
		if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "NTP") {
			t.Errorf("warnings = %v", rep.Warnings)
		}
	})

	t.Run("plain http endpoint is refused before any request", func(t *testing.T) {
		st := storage(gw, "docs-good")
		st.Endpoint = strings.Replace(st.Endpoint, "https:", "http:", 1)
		if _, err := live.S3(ctx, st, gw.AccessKey, gw.SecretKey, probe.S3Consent{}); err == nil || !strings.Contains(err.Error(), "https") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("plain http is allowed when asked: doctor's port-forward to the embedded store", func(t *testing.T) {
		plain := probetest.StartS3(t, nil, true)
		plain.CreateBucket(t, "docs-inside", true)
		st := storage(plain, "docs-inside")
		if _, err := live.S3(ctx, st, plain.AccessKey, plain.SecretKey, probe.S3Consent{}); err == nil || !strings.Contains(err.Error(), "https") {
			t.Fatalf("without PlainHTTP: got %v, want the endpoint refused", err)
		}
		rep, err := (&probe.Live{PlainHTTP: true}).S3(ctx, st, plain.AccessKey, plain.SecretKey, probe.S3Consent{})
		if err != nil || !rep.RoundTrip {
			t.Fatalf("with PlainHTTP: %+v, %v", rep, err)
		}
	})
}
