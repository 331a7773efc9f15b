package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// S3Consent is what the operator allowed the S3 check to change.
type S3Consent struct {
	// CreateBucket allows creating a missing bucket.
	CreateBucket bool
	// EnableVersioning allows turning versioning on (it can never be
	// turned off again, only suspended).
	EnableVersioning bool
}

// S3Report is what the S3 check found.
type S3Report struct {
	// BucketCreated and VersioningEnabled say what the check changed.
	BucketCreated     bool
	VersioningEnabled bool
	// Versioning is the bucket's versioning status after the check.
	Versioning string
	// ClockSkew is the store's clock minus this host's, from the Date
	// header (one-second resolution).
	ClockSkew time.Duration
	// RoundTrip is true when the probe object was written, read back
	// identical, and deleted with all its versions.
	RoundTrip bool
	Warnings  []string
}

// MaxClockSkew is the skew above which the report warns: S3 refuses
// signatures more than 15 minutes off, and Docs' presigned media URLs
// expire sooner than that.
const MaxClockSkew = time.Minute

// S3 checks an external S3 bucket for Docs: the keys are accepted, the
// bucket exists (or is created, with consent), versioning is on (or is
// turned on, with consent: Docs keeps document history as object
// versions), a probe object survives a put/get/delete round trip (and
// leaves no version behind), and the store's clock agrees with this host's.
// The client behaves as Docs' does: path-style addressing, SigV4,
// checksums only when required.
func (l *Live) S3(ctx context.Context, st config.Storage, accessKeyID, secretAccessKey string, consent S3Consent) (*S3Report, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	client, dates, done, err := l.s3Client(st.Endpoint, st.Region, accessKeyID, secretAccessKey)
	if err != nil {
		return nil, err
	}
	defer done()
	rep := &S3Report{}
	b := st.Bucket
	defer func() {
		rep.ClockSkew = dates.skew()
		if rep.ClockSkew > MaxClockSkew || rep.ClockSkew < -MaxClockSkew {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the store's clock and this host's differ by %s: signed requests fail past 15 minutes and media links expire early; set up NTP", rep.ClockSkew.Round(time.Second)))
		}
	}()

	_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), MaxKeys: aws.Int32(1)})
	switch code := apiCode(err); {
	case err == nil:
	case code == "NoSuchBucket":
		if !consent.CreateBucket {
			return rep, &ConsentNeeded{Kind: ConsentCreateBucket, Action: "create the bucket " + b, Why: "it does not exist at " + st.Endpoint}
		}
		in := &s3.CreateBucketInput{Bucket: aws.String(b)}
		if st.Region != "" && st.Region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(st.Region)}
		}
		if _, err := client.CreateBucket(ctx, in); err != nil {
			return rep, s3Error("creating the bucket "+b, accessKeyID, err)
		}
		rep.BucketCreated = true
	default:
		return rep, s3Error("listing the bucket "+b, accessKeyID, err)
	}

	v, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	if err != nil {
		return rep, versioningError("reading the versioning of bucket "+b, accessKeyID, err)
	}
	rep.Versioning = string(v.Status)
	if v.Status != types.BucketVersioningStatusEnabled {
		if !consent.EnableVersioning {
			state := "off"
			if v.Status == types.BucketVersioningStatusSuspended {
				state = "suspended"
			}
			return rep, &ConsentNeeded{Kind: ConsentEnableVersioning, Action: "turn on versioning for the bucket " + b,
				Why: "versioning is " + state + ", and Docs keeps document history as object versions (once on, versioning can only be suspended, never removed)"}
		}
		if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(b),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		}); err != nil {
			return rep, versioningError("turning on versioning for bucket "+b, accessKeyID, err)
		}
		v, err = client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
		if err != nil {
			return rep, versioningError("reading the versioning of bucket "+b, accessKeyID, err)
		}
		if v.Status != types.BucketVersioningStatusEnabled {
			return rep, fmt.Errorf("turning on versioning for bucket %s: the store accepted the request but reports versioning %q: Docs needs a store that keeps versions", b, v.Status)
		}
		rep.VersioningEnabled = true
		rep.Versioning = string(v.Status)
	}

	if err := roundTrip(ctx, client, b, accessKeyID); err != nil {
		return rep, err
	}
	rep.RoundTrip = true
	return rep, nil
}

// roundTrip writes a probe object, reads it back, and deletes every
// version of it (versioned deletes only add a marker).
func roundTrip(ctx context.Context, client *s3.Client, bucket, keyID string) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("making the probe object: %w", err)
	}
	key := ".docs-appliance-probe/" + hex.EncodeToString(nonce)
	body := []byte("docs-appliance probe " + hex.EncodeToString(nonce) + "\n")
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("text/plain"),
	}); err != nil {
		return s3Error("writing the probe object "+key, keyID, err)
	}
	cleanupErr := func() error {
		out, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
		if err != nil {
			return s3Error("listing the versions of the probe object "+key+" (Docs lists versions for document history)", keyID, err)
		}
		var ids []*string
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key {
				ids = append(ids, v.VersionId)
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				ids = append(ids, m.VersionId)
			}
		}
		if len(ids) == 0 {
			ids = append(ids, nil)
		}
		for _, id := range ids {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: id}); err != nil {
				return s3Error("deleting the probe object "+key, keyID, err)
			}
		}
		return nil
	}
	if err := readBack(ctx, client, bucket, key, key, keyID, body); err != nil {
		return errors.Join(err, cleanupErr())
	}
	if err := cleanupErr(); err != nil {
		return err
	}
	left, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		return s3Error("listing the versions of the probe object "+key, keyID, err)
	}
	if len(left.Versions)+len(left.DeleteMarkers) > 0 {
		return fmt.Errorf("deleting the probe object %s: %d versions remain after deleting each by ID", key, len(left.Versions)+len(left.DeleteMarkers))
	}
	return nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// s3Error turns a store's refusal into the reason the answer is wrong.
func s3Error(doing, keyID string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	switch ae.ErrorCode() {
	case "InvalidAccessKeyId", "XAdminUserNotFound": // the second is versitygw's
		return fmt.Errorf("%s: the store does not know the access key ID %q (InvalidAccessKeyId)", doing, keyID)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%s: the store refused the secret key of access key %q (SignatureDoesNotMatch): check the secret key", doing, keyID)
	case "AccessDenied":
		return fmt.Errorf("%s: access key %q is not allowed to (AccessDenied: %s): grant it list, read, write, delete and versioning rights on the bucket", doing, keyID, ae.ErrorMessage())
	case "RequestTimeTooSkewed":
		return fmt.Errorf("%s: this host's clock is more than 15 minutes off the store's (RequestTimeTooSkewed): set up NTP", doing)
	case "BucketAlreadyExists":
		return fmt.Errorf("%s: the name is taken by another account (BucketAlreadyExists): choose another bucket name", doing)
	}
	return fmt.Errorf("%s: %s: %s", doing, ae.ErrorCode(), ae.ErrorMessage())
}

func versioningError(doing, keyID string, err error) error {
	switch apiCode(err) {
	case "NotImplemented", "NotImplementedError", "MethodNotAllowed", "VersioningNotConfigured":
		return fmt.Errorf("%s: the store does not support versioning (%s): Docs keeps document history as object versions and needs a store that supports them", doing, apiCode(err))
	}
	return s3Error(doing, keyID, err)
}

// dateRecorder notes the clock skew of every response's Date header.
type dateRecorder struct {
	next http.RoundTripper
	now  func() time.Time
	mu   sync.Mutex
	last time.Duration
	seen bool
}

func (d *dateRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil {
		if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			local := d.now()
			d.mu.Lock()
			d.last, d.seen = t.Sub(local.Truncate(time.Second)), true
			d.mu.Unlock()
		}
	}
	return resp, err
}

func (d *dateRecorder) skew() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// CloseIdleConnections lets the client close the wrapped transport's connections.
func (d *dateRecorder) CloseIdleConnections() {
	if c, ok := d.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// s3Client is an S3 client that behaves as Docs' and barman's do:
// path-style addressing, SigV4, checksums only when required; dates
// records the store's clock. done closes its connections.
func (l *Live) s3Client(endpoint, region, accessKeyID, secretAccessKey string) (client *s3.Client, dates *dateRecorder, done func(), err error) {
	if u, err := url.Parse(endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && !(l.PlainHTTP && u.Scheme == "http")) {
		return nil, nil, nil, fmt.Errorf("%q is not an https endpoint URL; give it as https://host[:port]", endpoint)
	}
	if accessKeyID == "" || secretAccessKey == "" {
		return nil, nil, nil, fmt.Errorf("the access key ID and the secret key are both needed")
	}
	hc, err := l.httpClient()
	if err != nil {
		return nil, nil, nil, err
	}
	dates = &dateRecorder{next: hc.Transport, now: l.now}
	hc.Transport = dates
	client = s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		HTTPClient:                 hc,
		RetryMaxAttempts:           2,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return client, dates, hc.CloseIdleConnections, nil
}

// readBack reads the probe object key back and compares it with body (where names it in errors).
func readBack(ctx context.Context, client *s3.Client, bucket, key, where, keyID string, body []byte) error {
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return s3Error("reading back the probe object "+where, keyID, err)
	}
	data, err := io.ReadAll(io.LimitReader(got.Body, 1<<20))
	got.Body.Close()
	if err != nil {
		return fmt.Errorf("reading back the probe object %s: %w", where, err)
	}
	if !bytes.Equal(data, body) {
		return fmt.Errorf("reading back the probe object %s: got %d different bytes: the store does not return what it stored", where, len(data))
	}
	return nil
}
