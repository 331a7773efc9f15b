package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// Media is the media bucket: the embedded store's (Docs' account) or the operator's.
type Media struct {
	Source Target
	// Workers copy objects in parallel; 0 is 4.
	Workers int
}

// sourceETagKey records, on a copy, the ETag of the media object it was made from: with the
// same size it says the object did not change, without reading it again.
const sourceETagKey = "source-etag"

// memLimit: objects up to this size are held in memory while copied, larger ones in a temp file.
const memLimit = 8 << 20

// copyMedia copies every current object of the media bucket to media/<key>, skipping those whose
// copy has the same size and was made from the same ETag, and reads back each copy it writes.
func copyMedia(ctx context.Context, m Media, dst *store, progress func(done, total int64)) (*Part, error) {
	src, err := m.Source.open()
	if err != nil {
		return nil, fmt.Errorf("the media bucket: %w", err)
	}
	objs, err := src.list(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing the media bucket: %w", err)
	}
	// Backups kept in the media bucket itself (under the target's prefix) are not media.
	if src.t.Endpoint == dst.t.Endpoint && src.bucket == dst.bucket {
		if dst.t.Prefix == "" {
			return nil, fmt.Errorf("the backup target is the root of the media bucket %s: give the backups a prefix (backup.prefix) or a bucket of their own", src.bucket)
		}
		kept := objs[:0]
		for _, o := range objs {
			if !strings.HasPrefix(o.Key, dst.t.Key("")) {
				kept = append(kept, o)
			}
		}
		objs = kept
	}
	var total int64
	for _, o := range objs {
		total += o.Size
	}
	p := &Part{Name: PartMedia, Objects: len(objs), Bytes: total, Locations: []string{dst.t.URL("media/")}, Verified: true}
	var done int64
	var copied, unchanged atomic.Int64
	var mu sync.Mutex
	workers := m.Workers
	if workers <= 0 {
		workers = 4
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, o := range objs {
		g.Go(func() error {
			sent, err := copyOne(gctx, src, dst, o)
			if err != nil {
				return err
			}
			if sent {
				copied.Add(1)
			} else {
				unchanged.Add(1)
			}
			if progress != nil {
				mu.Lock()
				done += o.Size
				progress(done, total)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p.Copied, p.Unchanged = int(copied.Load()), int(unchanged.Load())
	return p, nil
}

// copyOne copies one object unless its copy is current; it says whether it sent it.
func copyOne(ctx context.Context, src, dst *store, o Object) (bool, error) {
	key := dst.t.Key("media/" + o.Key)
	cur, err := dst.head(ctx, key)
	if err != nil {
		return false, err
	}
	if cur != nil && cur.Size == o.Size && cur.SHA256 != "" && o.ETag != "" && cur.Meta[sourceETagKey] == o.ETag {
		return false, nil
	}
	if err := transfer(ctx, src, o.Key, dst, key, o.Size, func(etag string) map[string]string {
		return map[string]string{sourceETagKey: etag}
	}); err != nil {
		return false, fmt.Errorf("copying media object %s: %w", o.Key, err)
	}
	return true, nil
}

// transfer copies srcKey of src (size bytes) to dstKey of dst with its Content-Type, the
// metadata meta makes from the source's ETag, and its SHA-256, read back: objects up to
// memLimit pass through memory, larger ones through a temp file.
func transfer(ctx context.Context, src *store, srcKey string, dst *store, dstKey string, size int64, meta func(etag string) map[string]string) error {
	out, err := src.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(src.bucket), Key: aws.String(srcKey)})
	if err != nil {
		return fmt.Errorf("reading s3://%s/%s: %w", src.bucket, srcKey, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	var body io.ReadSeeker
	var n int64
	if size <= memLimit {
		data, err := io.ReadAll(io.TeeReader(out.Body, h))
		if err != nil {
			return fmt.Errorf("reading s3://%s/%s: %w", src.bucket, srcKey, err)
		}
		body, n = bytes.NewReader(data), int64(len(data))
	} else {
		f, err := os.CreateTemp("", "docs-appliance-media-")
		if err != nil {
			return fmt.Errorf("making a temp file for s3://%s/%s: %w", src.bucket, srcKey, err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if n, err = io.Copy(io.MultiWriter(f, h), out.Body); err != nil {
			return fmt.Errorf("reading s3://%s/%s: %w", src.bucket, srcKey, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("reading s3://%s/%s: %w", src.bucket, srcKey, err)
		}
		body = f
	}
	var m map[string]string
	if meta != nil {
		m = meta(aws.ToString(out.ETag))
	}
	return dst.putTyped(ctx, dstKey, body, n, hex.EncodeToString(h.Sum(nil)), m, aws.ToString(out.ContentType))
}
