package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// BackupReport is what the backup target check found.
type BackupReport struct {
	// RoundTrip is true when a probe object under the prefix was written,
	// read back identical and deleted.
	RoundTrip bool
	// ClockSkew is the store's clock minus this host's.
	ClockSkew time.Duration
	Warnings  []string
}

// ErrNoBackupBucket is the backup check's answer when the bucket does not
// exist: the appliance never creates the backup bucket (where backups go
// is the operator's to decide, and a typo must not make a new bucket).
var ErrNoBackupBucket = errors.New("the backup bucket does not exist")

// Backup checks an S3 backup target with the backup keys as the backups
// will use it: the endpoint answers, the keys are accepted, the bucket
// exists, and a probe object under the prefix survives a write, read and
// delete (every version of it, where the bucket keeps versions). Only the
// prefix is touched, so keys restricted to it pass. Versioning is not
// required: barman keeps its own history.
func (l *Live) Backup(ctx context.Context, loc config.BackupLocation, accessKeyID, secretAccessKey string) (*BackupReport, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	client, dates, done, err := l.s3Client(loc.Endpoint, loc.Region, accessKeyID, secretAccessKey)
	if err != nil {
		return nil, err
	}
	defer done()
	rep := &BackupReport{}
	defer func() {
		rep.ClockSkew = dates.skew()
		if rep.ClockSkew > MaxClockSkew || rep.ClockSkew < -MaxClockSkew {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the backup store's clock and this host's differ by %s: signed requests fail past 15 minutes; set up NTP", rep.ClockSkew.Round(time.Second)))
		}
	}()
	b := loc.Bucket
	_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(loc.Prefix), MaxKeys: aws.Int32(1)})
	switch apiCode(err) {
	case "":
		if err != nil {
			return rep, fmt.Errorf("listing %s at %s: %w", loc.URL(), loc.Endpoint, err)
		}
	case "NoSuchBucket":
		return rep, fmt.Errorf("listing %s: %w at %s: create the bucket %s there (the appliance never creates it), or give the name of an existing one as backup.bucket", loc.URL(), ErrNoBackupBucket, loc.Endpoint, b)
	case "InvalidAccessKeyId", "XAdminUserNotFound", "SignatureDoesNotMatch":
		return rep, fmt.Errorf("%w: give the keys of an account of the backup target (backup.accessKeyID, backup.secretAccessKey)", s3Error("listing "+loc.URL(), accessKeyID, err))
	default:
		return rep, s3Error("listing "+loc.URL(), accessKeyID, err)
	}
	if err := prefixRoundTrip(ctx, client, loc, accessKeyID); err != nil {
		return rep, err
	}
	rep.RoundTrip = true
	return rep, nil
}

// prefixRoundTrip writes, reads back and deletes a probe object under the
// prefix; on a versioned bucket it removes the versions it left too.
func prefixRoundTrip(ctx context.Context, client *s3.Client, loc config.BackupLocation, keyID string) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("making the probe object: %w", err)
	}
	key := loc.Prefix + ".docs-appliance-probe/" + hex.EncodeToString(nonce)
	body := []byte("docs-appliance backup probe " + hex.EncodeToString(nonce) + "\n")
	where := "s3://" + loc.Bucket + "/" + key
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(loc.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("text/plain"),
	}); err != nil {
		return s3Error("writing the probe object "+where, keyID, err)
	}
	remove := func() error {
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key)}); err != nil {
			return s3Error("deleting the probe object "+where+" (barman deletes what retention expires)", keyID, err)
		}
		// A versioned bucket keeps the object and a delete marker: remove
		// them, where the keys may list versions (not required).
		out, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(loc.Bucket), Prefix: aws.String(key)})
		if err != nil {
			return nil
		}
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key {
				_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key), VersionId: v.VersionId})
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(key), VersionId: m.VersionId})
			}
		}
		return nil
	}
	if err := readBack(ctx, client, loc.Bucket, key, where, keyID, body); err != nil {
		return errors.Join(err, remove())
	}
	return remove()
}
