package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ageKeyMarker starts every age private key (X25519 identities are "AGE-SECRET-KEY-1...").
var ageKeyMarker = []byte("AGE-SECRET-KEY-")

// KeyInFileError: a file meant for a backup holds an age private key. The key never goes into a
// backup: whoever holds the backup and the key holds every secret.
type KeyInFileError struct{ Path string }

func (e *KeyInFileError) Error() string {
	return fmt.Sprintf("%s holds an age private key, which never goes into a backup: keep the key's offline copy apart, and remove it from that file", e.Path)
}

// uploadState writes each file to state/<id>/<base name>, read back and verified, unless it is
// there already with the same bytes. A file holding an age private key is refused before
// anything is sent.
func (s *store) uploadState(ctx context.Context, id string, files []string) (*Part, error) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		if bytes.Contains(data, ageKeyMarker) {
			return nil, &KeyInFileError{Path: f}
		}
	}
	p := &Part{Name: PartState, Verified: true}
	for _, f := range files {
		rel := "state/" + id + "/" + filepath.Base(f)
		size, sum, _, err := s.putFile(ctx, s.t.Key(rel), f)
		if err != nil {
			return nil, fmt.Errorf("uploading %s: %w", filepath.Base(f), err)
		}
		p.Files = append(p.Files, File{Name: filepath.Base(f), Location: s.t.URL(rel), Bytes: size, SHA256: sum})
		p.Locations = append(p.Locations, s.t.URL(rel))
		p.Bytes += size
		p.Objects++
	}
	return p, nil
}

// statePart is the state part already in the target for set id (a resumed run), or nil when
// any file is missing or differs from the local one.
func (s *store) statePart(ctx context.Context, id string, files []string) (*Part, error) {
	p := &Part{Name: PartState, Verified: true}
	for _, f := range files {
		rel := "state/" + id + "/" + filepath.Base(f)
		cur, err := s.head(ctx, s.t.Key(rel))
		if err != nil || cur == nil {
			return nil, err
		}
		size, sum, err := fileSum(f)
		if err != nil {
			return nil, err
		}
		if cur.Size != size || cur.SHA256 != sum {
			return nil, nil
		}
		p.Files = append(p.Files, File{Name: filepath.Base(f), Location: s.t.URL(rel), Bytes: size, SHA256: sum})
		p.Locations = append(p.Locations, s.t.URL(rel))
		p.Bytes += size
		p.Objects++
	}
	return p, nil
}
