package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// The read side of a set, for `restore --from`: which set, its state files, its repository and
// its media, each checked against what the set recorded before it is used.

// NoSetError is a target holding no set a restore can use.
type NoSetError struct {
	URL, Reason string
}

func (e *NoSetError) Error() string {
	return fmt.Sprintf("no backup set in %s can be restored: %s", e.URL, e.Reason)
}

// Choose picks the set a restore starts from: id when given (it must be consistent); otherwise
// the newest consistent set, or with toTime the newest whose base backup ended at or before it
// (a recovery to a point needs a base backup from before that point).
func Choose(ctx context.Context, t Target, id string, toTime time.Time) (*Manifest, error) {
	s, err := t.open()
	if err != nil {
		return nil, err
	}
	l := &Listing{}
	if err := s.listSets(ctx, l); err != nil {
		return nil, err
	}
	var problems []string
	for _, set := range l.Sets { // newest first
		switch {
		case id != "" && set.ID != id:
			continue
		case !set.Consistent:
			problems = append(problems, set.ID+": "+set.Problem)
			if id != "" {
				return nil, &NoSetError{URL: t.URL(""), Reason: "set " + id + " is not consistent: " + set.Problem}
			}
			continue
		case !toTime.IsZero() && set.Database != nil && set.Database.StoppedAt.After(toTime):
			if id != "" {
				return nil, &NoSetError{URL: t.URL(""), Reason: fmt.Sprintf("set %s's base backup ended at %s, after --to-time %s: give an older set, or leave --set out to pick one",
					id, set.Database.StoppedAt.UTC().Format(time.RFC3339), toTime.UTC().Format(time.RFC3339))}
			}
			problems = append(problems, set.ID+": its base backup ended after --to-time")
			continue
		}
		return s.readManifest(ctx, set.ID)
	}
	switch {
	case id != "":
		return nil, &NoSetError{URL: t.URL(""), Reason: "there is no set " + id + " (`backup list` shows the sets)"}
	case len(l.Sets) == 0:
		return nil, &NoSetError{URL: t.URL(""), Reason: "it holds no set (sets/*.json): check --from, --endpoint and the keys"}
	}
	return nil, &NoSetError{URL: t.URL(""), Reason: strings.Join(problems, "; ")}
}

// FetchState writes the set's state files into dir (0600), each read whole and checked against
// the SHA-256 the set recorded; it returns their paths by name.
func FetchState(ctx context.Context, t Target, m *Manifest, dir string) (map[string]string, error) {
	s, err := t.open()
	if err != nil {
		return nil, err
	}
	p := m.Part(PartState)
	if p == nil || len(p.Files) == 0 {
		return nil, fmt.Errorf("set %s has no state files", m.ID)
	}
	out := map[string]string{}
	for _, f := range p.Files {
		name := path.Base(f.Name)
		if name != f.Name || name == "." || name == ".." {
			return nil, fmt.Errorf("set %s names a state file %q that is not a plain file name", m.ID, f.Name)
		}
		dst := filepath.Join(dir, name)
		if err := s.fetch(ctx, f, dst); err != nil {
			return nil, fmt.Errorf("fetching %s of set %s: %w", name, m.ID, err)
		}
		out[name] = dst
	}
	return out, nil
}

// fetch downloads f to dst (0600) through a temp file, checked against f's size and SHA-256.
func (s *store) fetch(ctx context.Context, f File, dst string) error {
	key, ok := strings.CutPrefix(f.Location, "s3://"+s.bucket+"/")
	if !ok {
		return fmt.Errorf("%s is not in bucket %s", f.Location, s.bucket)
	}
	data, err := s.get(ctx, key, f.Bytes+1)
	if err != nil {
		return err
	}
	if n, sum := int64(len(data)), sha256Hex(data); n != f.Bytes || sum != f.SHA256 {
		return &MismatchError{URL: f.Location, WantSize: f.Bytes, GotSize: n, WantSHA256: f.SHA256, GotSHA256: sum}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// RestoreRepository brings the set's desired-state history back: the bundle is fetched and
// checked, then its branches and tags are pushed to g.Remote — only when the remote has no
// branch yet (a new in-cluster git server). A remote that has history already (an external
// repository that outlived the server) is left as it is; pushed is false then.
func (g Git) RestoreRepository(ctx context.Context, t Target, m *Manifest, work string) (pushed bool, refs int, err error) {
	s, err := t.open()
	if err != nil {
		return false, 0, err
	}
	p := m.Part(PartGit)
	if p == nil || len(p.Locations) != 1 {
		return false, 0, fmt.Errorf("set %s has no git bundle", m.ID)
	}
	file := filepath.Join(work, "repo.bundle")
	if err := s.fetch(ctx, File{Name: "git bundle", Location: p.Locations[0], Bytes: p.Bytes, SHA256: p.SHA256}, file); err != nil {
		return false, 0, fmt.Errorf("fetching the git bundle of set %s: %w", m.ID, err)
	}
	env, err := g.env(work)
	if err != nil {
		return false, 0, err
	}
	heads, err := g.run(ctx, work, env, "ls-remote", "--heads", "--", g.Remote.PushURL)
	if err != nil {
		return false, 0, fmt.Errorf("reading the branches of %s: %w", redact(g.Remote.PushURL), err)
	}
	if strings.TrimSpace(heads) != "" {
		return false, 0, nil
	}
	mirror := filepath.Join(work, "restored.git")
	if err := os.RemoveAll(mirror); err != nil {
		return false, 0, err
	}
	if _, err := g.run(ctx, work, env, "clone", "--mirror", "--quiet", "--", file, mirror); err != nil {
		return false, 0, fmt.Errorf("reading the git bundle of set %s: %w", m.ID, err)
	}
	list, err := g.run(ctx, mirror, env, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags")
	if err != nil {
		return false, 0, err
	}
	refs = len(strings.Fields(list))
	if _, err := g.run(ctx, mirror, env, "push", "--quiet", "--", g.Remote.PushURL, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"); err != nil {
		return false, 0, fmt.Errorf("pushing the history of set %s to %s: %w", m.ID, redact(g.Remote.PushURL), err)
	}
	return true, refs, nil
}

// RestoreMedia copies the target's media copies (media/<key>) back into the media bucket, with
// their Content-Type, skipping an object the bucket already holds as it was copied (same size
// and ETag). It returns how many it copied and kept.
func RestoreMedia(ctx context.Context, t Target, media Media) (copied, unchanged int, err error) {
	src, err := t.open()
	if err != nil {
		return 0, 0, err
	}
	dst, err := media.Source.open()
	if err != nil {
		return 0, 0, fmt.Errorf("the media bucket: %w", err)
	}
	prefix := t.Key("media/")
	objs, err := src.list(ctx, prefix)
	if err != nil {
		return 0, 0, err
	}
	var n, kept int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(media.Workers, 4))
	results := make(chan bool, len(objs))
	for _, o := range objs {
		g.Go(func() error {
			key := strings.TrimPrefix(o.Key, prefix)
			if key == "" || strings.HasSuffix(key, "/") {
				return nil
			}
			head, err := src.head(gctx, o.Key)
			if err != nil {
				return err
			}
			cur, err := dst.head(gctx, key)
			if err != nil {
				return err
			}
			if cur != nil && head != nil && cur.Size == o.Size && cur.ETag != "" && head.Meta[sourceETagKey] == cur.ETag {
				results <- false
				return nil
			}
			if err := transfer(gctx, src, o.Key, dst, key, o.Size, nil); err != nil {
				return fmt.Errorf("restoring media object %s: %w", key, err)
			}
			results <- true
			return nil
		})
	}
	err = g.Wait()
	close(results)
	for sent := range results {
		if sent {
			n++
		} else {
			kept++
		}
	}
	return n, kept, err
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
