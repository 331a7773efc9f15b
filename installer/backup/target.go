package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Target is where backup sets go: a bucket and a prefix in an S3 store.
type Target struct {
	Endpoint, Region, Bucket string
	// Prefix is "" (the bucket's root) or a folder such as "appliance/".
	Prefix                       string
	AccessKeyID, SecretAccessKey string
	// CABundle holds PEM certificates trusted beside the system's (a private CA), as the
	// storage probe takes them.
	CABundle []byte
	// PlainHTTP allows an http:// endpoint: the embedded store, reached through a port-forward.
	PlainHTTP bool
	// Dial, when set, connects to the endpoint (tests reach a store inside a network namespace).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Check refuses a target that cannot work, naming the field and the fix.
func (t Target) Check() error {
	u, err := url.Parse(t.Endpoint)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("backup endpoint %q is not a URL: give it as https://host[:port]", t.Endpoint)
	case u.Scheme != "https" && !(t.PlainHTTP && u.Scheme == "http"):
		return fmt.Errorf("backup endpoint %q is not https: give it as https://host[:port]", t.Endpoint)
	case t.Bucket == "":
		return errors.New("backup bucket is empty: name the bucket the backups go to")
	case t.AccessKeyID == "" || t.SecretAccessKey == "":
		return errors.New("its access key ID or secret key is empty: put both in the secret store")
	case strings.HasPrefix(t.Prefix, "/"):
		return fmt.Errorf("backup prefix %q starts with /: give it as a folder such as appliance/", t.Prefix)
	}
	return nil
}

// Key is the object key of rel (a path of the layout) under the target's prefix.
func (t Target) Key(rel string) string {
	p := t.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p + rel
}

// URL names rel in messages and manifests: s3://bucket/prefix/rel.
func (t Target) URL(rel string) string { return "s3://" + t.Bucket + "/" + t.Key(rel) }

// store is an S3 bucket the parts read or write.
type store struct {
	c      *s3.Client
	bucket string
	t      Target
}

// shaKey is the metadata key holding an object's SHA-256 (hex), written by the appliance.
const shaKey = "sha256"

func (t Target) open() (*store, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(t.CABundle) > 0 && !pool.AppendCertsFromPEM(t.CABundle) {
		return nil, errors.New("reading the backup target's CA bundle: no PEM certificate in it")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	if t.Dial != nil {
		tr.DialContext = t.Dial
	}
	c := s3.New(s3.Options{
		Region: t.Region, BaseEndpoint: aws.String(t.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(t.AccessKeyID, t.SecretAccessKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &store{c: c, bucket: t.Bucket, t: t}, nil
}

// Object is what a HEAD or a listing says of one object.
type Object struct {
	Key    string
	Size   int64
	SHA256 string
	ETag   string
	Meta   map[string]string
	// Modified is when the object was written (listings only).
	Modified time.Time
}

// head returns the object at key, or nil when there is none.
func (s *store) head(ctx context.Context, key string) (*Object, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", s.bucket, key, err)
	}
	return &Object{Key: key, Size: aws.ToInt64(out.ContentLength), SHA256: out.Metadata[shaKey], ETag: aws.ToString(out.ETag), Meta: out.Metadata}, nil
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	var api smithy.APIError
	return errors.As(err, &nf) || errors.As(err, &nk) || (errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey"))
}

// list returns every object under prefix (the whole key).
func (s *store) list(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// ListObjects lists every object of the target's bucket under prefix (a whole key prefix, the
// target's own Prefix not added): what other writers keep there, k3s's etcd snapshots.
func ListObjects(ctx context.Context, t Target, prefix string) ([]Object, error) {
	s, err := t.open()
	if err != nil {
		return nil, err
	}
	return s.list(ctx, prefix)
}

// folders returns the names of the "folders" right under prefix (ListObjectsV2 with a delimiter).
func (s *store) folders(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	return out, nil
}

// get reads an object whole (manifests, small files).
func (s *store) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", s.bucket, key, err)
	}
	return data, nil
}

// put writes body (size bytes whose SHA-256 is sum) to key with sum in its metadata, then reads
// it back and checks size and SHA-256: a put the store acknowledged but did not keep whole is
// an error here, never a set that cannot be restored.
func (s *store) put(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string, meta map[string]string) error {
	return s.putTyped(ctx, key, body, size, sum, meta, "")
}

// putTyped is put with the object's Content-Type (media keep theirs: Docs serves them with it).
func (s *store) putTyped(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string, meta map[string]string, contentType string) error {
	m := map[string]string{shaKey: sum}
	for k, v := range meta {
		m[k] = v
	}
	in := &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size), Metadata: m}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.c.PutObject(ctx, in); err != nil {
		return fmt.Errorf("writing s3://%s/%s: %w", s.bucket, key, err)
	}
	return s.verify(ctx, key, size, sum)
}

// verify reads key back whole and compares its size and SHA-256 with what was meant.
func (s *store) verify(ctx context.Context, key string, size int64, sum string) error {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("reading back s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return fmt.Errorf("reading back s3://%s/%s: %w", s.bucket, key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return &MismatchError{URL: "s3://" + s.bucket + "/" + key, WantSize: size, GotSize: n, WantSHA256: sum, GotSHA256: got}
	}
	return nil
}

// putBytes is put for data in memory.
func (s *store) putBytes(ctx context.Context, key string, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	return h, s.put(ctx, key, bytes.NewReader(data), int64(len(data)), h, nil)
}

// putFile uploads a local file unless key already holds the same bytes (same size and recorded
// SHA-256): a resumed run does not send again what landed. It returns the size and SHA-256.
func (s *store) putFile(ctx context.Context, key, path string) (int64, string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", false, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return 0, "", false, fmt.Errorf("reading %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	cur, err := s.head(ctx, key)
	if err != nil {
		return 0, "", false, err
	}
	if cur != nil && cur.Size == size && cur.SHA256 == sum {
		return size, sum, false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, "", false, fmt.Errorf("reading %s: %w", path, err)
	}
	return size, sum, true, s.put(ctx, key, f, size, sum, nil)
}

// MismatchError is an object read back different from what was written.
type MismatchError struct {
	URL                   string
	WantSize, GotSize     int64
	WantSHA256, GotSHA256 string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s reads back %d bytes with SHA-256 %s, but %d bytes with SHA-256 %s were written: the store did not keep them whole; check it, then run backup now again",
		e.URL, e.GotSize, e.GotSHA256, e.WantSize, e.WantSHA256)
}
