package installer

// git revert, file by file, in a working copy: the appliance's binary carries no git program.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// RevertConflictError: files the commit changed were changed again after it (a config change,
// a later render), so reverting it would undo those too. Nothing was written.
type RevertConflictError struct {
	Commit string
	// Files are the paths changed since, Later the commits after the reverted one.
	Files, Later []string
}

func (e *RevertConflictError) Error() string {
	return fmt.Sprintf("reverting commit %s would also undo what %d later commit(s) changed in %s: %s",
		short(e.Commit), len(e.Later), pluralFiles(len(e.Files)), strings.Join(limit(e.Files, 8), ", "))
}

func pluralFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string{}, s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
}

// revertCommit writes into the working copy dir (clean, at its head) the inverse of commit:
// every file the commit changed gets the content it had before it (removed when the commit
// added it). A file the head holds other than as the commit left it is a conflict: nothing is
// written and the error names the files and the later commits. It returns the files changed.
func revertCommit(dir, commit string) ([]string, error) {
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the working copy: %w", err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", short(commit), err)
	}
	if c.NumParents() != 1 {
		return nil, fmt.Errorf("commit %s has %d parents: only a commit with one parent is reverted", short(commit), c.NumParents())
	}
	parent, err := c.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("reading the parent of %s: %w", short(commit), err)
	}
	ref, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("reading the head: %w", err)
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("reading the head: %w", err)
	}
	trees := make([]*object.Tree, 3)
	for i, cm := range []*object.Commit{parent, c, head} {
		if trees[i], err = cm.Tree(); err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", short(cm.Hash.String()), err)
		}
	}
	before, after, now := trees[0], trees[1], trees[2]
	changes, err := object.DiffTree(before, after)
	if err != nil {
		return nil, fmt.Errorf("comparing %s with its parent: %w", short(commit), err)
	}
	type write struct {
		path    string
		content []byte
		mode    os.FileMode
		remove  bool
	}
	var writes []write
	var conflicts []string
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		left, leftOK, err := blobAt(after, name)
		if err != nil {
			return nil, err
		}
		cur, curOK, err := blobAt(now, name)
		if err != nil {
			return nil, err
		}
		if leftOK != curOK || left.content != cur.content {
			conflicts = append(conflicts, name)
			continue
		}
		prev, prevOK, err := blobAt(before, name)
		if err != nil {
			return nil, err
		}
		writes = append(writes, write{path: name, content: []byte(prev.content), mode: prev.mode, remove: !prevOK})
	}
	if len(conflicts) > 0 {
		later, err := commitsAfter(repo, head, c.Hash)
		if err != nil {
			return nil, err
		}
		return nil, &RevertConflictError{Commit: commit, Files: conflicts, Later: later}
	}
	var done []string
	for _, w := range writes {
		p := filepath.Join(dir, filepath.FromSlash(w.path))
		if w.remove {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("removing %s: %w", w.path, err)
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, fmt.Errorf("writing %s: %w", w.path, err)
			}
			if err := os.WriteFile(p, w.content, w.mode); err != nil {
				return nil, fmt.Errorf("writing %s: %w", w.path, err)
			}
			if err := os.Chmod(p, w.mode); err != nil {
				return nil, fmt.Errorf("writing %s: %w", w.path, err)
			}
		}
		done = append(done, w.path)
	}
	return done, nil
}

type blob struct {
	content string
	mode    os.FileMode
}

// blobAt reads a file of a tree; a missing one is ok=false.
func blobAt(t *object.Tree, name string) (blob, bool, error) {
	f, err := t.File(name)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return blob{}, false, nil
	}
	if err != nil {
		return blob{}, false, fmt.Errorf("reading %s: %w", name, err)
	}
	content, err := f.Contents()
	if err != nil {
		return blob{}, false, fmt.Errorf("reading %s: %w", name, err)
	}
	mode, err := f.Mode.ToOSFileMode()
	if err != nil {
		mode = 0o644
	}
	return blob{content: content, mode: mode.Perm()}, true, nil
}

// commitsAfter lists the commits from head back to (not including) stop, newest first.
func commitsAfter(repo *gogit.Repository, head *object.Commit, stop plumbing.Hash) ([]string, error) {
	var out []string
	for c := head; c != nil && c.Hash != stop; {
		out = append(out, short(c.Hash.String())+" "+firstLine(c.Message))
		if c.NumParents() == 0 {
			break
		}
		p, err := c.Parent(0)
		if err != nil {
			return nil, fmt.Errorf("walking the history: %w", err)
		}
		c = p
	}
	return out, nil
}

// commitSubject is the first line of a commit of the working copy.
func commitSubject(dir, hash string) (string, error) {
	if hash == "" {
		return "", nil
	}
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		return "", fmt.Errorf("opening the working copy: %w", err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(hash))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", short(hash), err)
	}
	return firstLine(c.Message), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
