package doctor_test

import (
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// TestS3RoundTrip runs the check against versitygw, the embedded store's
// own server.
func TestS3RoundTrip(t *testing.T) {
	u := newUserPath(t)
	ca := probetest.NewCA(t)
	gw := probetest.StartS3(t, ca, true)
	gw.CreateBucket(t, "docs-media", true)
	target := doctor.S3Target{Endpoint: gw.Endpoint, Region: gw.Region, Bucket: "docs-media",
		AccessKey: gw.AccessKey, SecretKey: gw.SecretKey, Roots: ca.Pool}
	u.env.UserPath.S3 = target
	reset := func() { u.env.UserPath.S3 = target }

	want(t, u.run(t, doctor.UserPathS3), doctor.Passed, "bucket docs-media at "+gw.Endpoint+": wrote, read back and deleted a probe object (versioning Enabled)")
	if n := gw.ObjectVersions(t, "docs-media"); n != 0 {
		t.Errorf("the check left %d versions or delete markers behind", n)
	}

	t.Run("a wrong secret key", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.UserPath.S3.SecretKey = "not-the-secret-key-000"
		res := u.run(t, doctor.UserPathS3)
		want(t, res, doctor.Failed, "refused the secret key", "run docs-appliance install again to restore its Docs account")
		if strings.Contains(res.Detail+res.Fix, "not-the-secret-key-000") {
			t.Error("the finding shows the secret key")
		}
	})
	t.Run("an unknown access key, external storage", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.Config.Storage.Mode = config.External
		t.Cleanup(func() { u.env.Config.Storage.Mode = config.Embedded })
		u.env.UserPath.S3.AccessKey = "AKIANOBODYKNOWS00000"
		want(t, u.run(t, doctor.UserPathS3), doctor.Failed, "does not know the access key ID", "storage.accessKeyID and storage.secretAccessKey must be the keys of the bucket docs-media")
	})
	t.Run("no bucket", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.UserPath.S3.Bucket = "docs-gone"
		want(t, u.run(t, doctor.UserPathS3), doctor.Failed, "the bucket docs-gone does not exist", "media-bucket job creates the bucket")
		if gw.BucketExists("docs-gone") {
			t.Error("doctor created the bucket")
		}
	})
	t.Run("versioning off", func(t *testing.T) {
		t.Cleanup(reset)
		gw.CreateBucket(t, "docs-flat", false)
		u.env.UserPath.S3.Bucket = "docs-flat"
		want(t, u.run(t, doctor.UserPathS3), doctor.Failed, "the bucket docs-flat does not keep versions", "turns versioning on")
		if v, _ := gw.BucketVersioning("docs-flat"); v == "Enabled" {
			t.Error("doctor turned versioning on")
		}
	})
	t.Run("no credentials in the secret store", func(t *testing.T) {
		t.Cleanup(reset)
		u.env.UserPath.S3.SecretKey = ""
		want(t, u.run(t, doctor.UserPathS3), doctor.Failed, "no storage.accessKeyID or storage.secretAccessKey")
	})
	t.Run("the embedded store in clear, through a port-forward", func(t *testing.T) {
		t.Cleanup(reset)
		plain := probetest.StartS3(t, nil, true)
		plain.CreateBucket(t, "docs-media", true)
		u.env.UserPath.S3 = doctor.S3Target{Endpoint: plain.Endpoint, Region: plain.Region, Bucket: "docs-media", AccessKey: plain.AccessKey, SecretKey: plain.SecretKey}
		want(t, u.run(t, doctor.UserPathS3), doctor.Passed, "at http://127.0.0.1:")
	})
	t.Run("keys from the secret store, bucket from the config", func(t *testing.T) {
		t.Cleanup(reset)
		t.Cleanup(func() { u.env.Secrets = nil })
		u.env.UserPath.S3 = doctor.S3Target{Endpoint: gw.Endpoint, Region: gw.Region, Roots: ca.Pool}
		u.env.Secrets = map[string]string{"storage.accessKeyID": gw.AccessKey, "storage.secretAccessKey": gw.SecretKey}
		want(t, u.run(t, doctor.UserPathS3), doctor.Passed, "bucket docs-media at "+gw.Endpoint)
	})
}

// The check reads Docs' keys under the names the config asks the secret
// store for, in both storage modes.
func TestS3SecretNamesAreTheStores(t *testing.T) {
	for _, mode := range []string{config.Embedded, config.External} {
		c := &config.Config{Storage: config.Storage{Mode: mode, Bucket: "b"}, Identity: config.Identity{Mode: config.Embedded}, Git: config.Git{Mode: config.GitInCluster}}
		names := map[string]bool{}
		for _, s := range c.RequiredSecrets() {
			names[s.Name] = true
		}
		if !names[doctor.SecretS3AccessKey] || !names[doctor.SecretS3SecretKey] {
			t.Errorf("storage mode %s: the config's secrets %v lack %s or %s", mode, names, doctor.SecretS3AccessKey, doctor.SecretS3SecretKey)
		}
	}
}
