package doctor

import (
	"context"
	"errors"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
)

// checkS3: with Docs' own storage credentials, the bucket lists, keeps
// versions, and a probe object is written, read back and deleted with
// every version (probe's round trip: it leaves nothing behind). The
// endpoint is dialed directly (UserPath.S3, not UserPath.Dial).
func checkS3(ctx context.Context, e *Env) Finding {
	if e.Config == nil {
		return noConfig()
	}
	t := e.s3Target()
	embedded := e.Config.Storage.Mode != config.External
	credsFix := "the secret store's storage.accessKeyID and storage.secretAccessKey must be the keys of the bucket " + t.Bucket + "; give them again with docs-appliance configure, then run docs-appliance install"
	if embedded {
		credsFix = "the embedded object store no longer knows Docs' keys: run docs-appliance install again to restore its Docs account"
	}
	switch {
	case t.Endpoint == "":
		return Fail("run doctor on the appliance's server (it reaches the embedded store through the cluster)", "the object store's address is not known to doctor")
	case t.AccessKey == "" || t.SecretKey == "":
		return Fail(credsFix, "the secret store has no storage.accessKeyID or storage.secretAccessKey")
	}
	l := &probe.Live{Roots: t.Roots, Now: e.Now, PlainHTTP: strings.HasPrefix(t.Endpoint, "http://")}
	if e.UserPath.Resolver != nil {
		l.Resolver = e.UserPath.Resolver
	}
	st := config.Storage{Mode: e.Config.Storage.Mode, Endpoint: t.Endpoint, Region: t.Region, Bucket: t.Bucket}
	rep, err := l.S3(ctx, st, t.AccessKey, t.SecretKey, probe.S3Consent{})
	var consent *probe.ConsentNeeded
	switch {
	case errors.As(err, &consent) && consent.Kind == probe.ConsentCreateBucket:
		fix := "create the bucket " + t.Bucket + " with versioning on at the storage provider"
		if embedded {
			fix = "run docs-appliance install again: its media-bucket job creates the bucket"
		}
		return Fail(fix, "the bucket %s does not exist at %s", t.Bucket, t.Endpoint)
	case errors.As(err, &consent):
		fix := "turn versioning on for the bucket " + t.Bucket + " at the storage provider (docs-appliance configure offers to)"
		if embedded {
			fix = "run docs-appliance install again: its media-bucket job turns versioning on"
		}
		return Fail(fix, "the bucket %s does not keep versions: %s", t.Bucket, consent.Why)
	case err != nil:
		return Fail(credsFix, "%v", err)
	case len(rep.Warnings) > 0:
		return Warn("set up time synchronisation (NTP) on this server and the store", "%s", strings.Join(rep.Warnings, "; "))
	}
	return Pass("bucket %s at %s: wrote, read back and deleted a probe object (versioning %s)", t.Bucket, t.Endpoint, rep.Versioning)
}

// s3Target is UserPath.S3 with its blanks filled: the bucket, region and
// (external storage) endpoint from the config, the keys from the secret
// store. The embedded store's endpoint is only known to whoever reaches
// into the cluster (a port-forward), so it has no default.
func (e *Env) s3Target() S3Target {
	t := e.UserPath.S3
	st := e.Config.Storage
	if t.Endpoint == "" && st.Mode == config.External {
		t.Endpoint = st.Endpoint
	}
	if t.Bucket == "" {
		t.Bucket = st.Bucket
	}
	if t.Region == "" {
		t.Region = st.Region
	}
	if t.AccessKey == "" && t.SecretKey == "" {
		t.AccessKey, t.SecretKey = e.Secrets[SecretS3AccessKey], e.Secrets[SecretS3SecretKey]
	}
	return t
}

// The secret store's names of Docs' storage keys (installer/config's
// RequiredSecrets).
const (
	SecretS3AccessKey = "storage.accessKeyID"
	SecretS3SecretKey = "storage.secretAccessKey"
)
