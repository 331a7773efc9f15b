package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// Now takes one backup set. Its steps are the parts, then the manifest; a run that was stopped
// and run again (with the same ID) finishes the set without redoing what landed.
type Now struct {
	Target Target
	// ID names the set (NewID, or the pending one of a killed run: Pending).
	ID       string
	Database Database
	Media    Media
	Git      Git
	// EmbeddedIdentity: the realm is in the cluster's keycloak database (the database part
	// holds it); false, the identity provider is the operator's and nothing is backed up.
	EmbeddedIdentity bool
	// StateFiles are the saved config and the encrypted secret store (never the age key).
	StateFiles []string
	// WorkDir holds the git mirror and bundle while the set is taken; the caller removes it.
	WorkDir                 string
	Train, ApplianceVersion string
	CreatedAt               time.Time
	// Deadlines override the steps' (tests; operators on slow links).
	Deadlines map[string]time.Duration

	// Manifest is the set's, once the last step ran (or found it written).
	Manifest *Manifest
	store    *store
	parts    map[string]*Part
}

// Step IDs.
const (
	StepTarget   = "target"
	StepManifest = "manifest"
)

// Steps are the set's steps, for steps.Run and steps.Plan. They contact nothing until run.
func (n *Now) Steps() ([]steps.Step, error) {
	s, err := n.Target.open()
	if err != nil {
		return nil, err
	}
	n.store, n.parts = s, map[string]*Part{}
	db := n.Database
	list := []steps.Step{
		&steps.Func{Name: StepTarget, Describe: "Reaching the backup target " + n.Target.URL(""), Deadline: 30 * time.Second, Remote: n.Target.Endpoint,
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				_, err := s.folders(ctx, n.Target.Key("sets/"))
				return err
			}},
		&steps.Func{Name: PartDatabase, Describe: "Backing up the database (CloudNativePG base backup " + BackupName(n.ID) + ")", Deadline: time.Hour, Remote: "the CloudNativePG operator",
			CheckFunc: func(ctx context.Context) (string, error) {
				b, err := db.get(ctx, BackupName(n.ID))
				if err != nil || b == nil || b.Status.Phase != "completed" {
					return "", err
				}
				p, err := db.part(ctx, s, b)
				if err != nil {
					return "", nil // the run waits again and says why
				}
				n.parts[PartDatabase] = p
				return "backup " + p.Database.BackupID + " taken and in the target", nil
			},
			RunFunc: func(ctx context.Context, st *status.Status) error {
				name, err := db.start(ctx, n.ID)
				if err != nil {
					return err
				}
				b, err := db.wait(ctx, name)
				if err != nil {
					return err
				}
				p, err := db.part(ctx, s, b)
				if err != nil {
					return err
				}
				n.parts[PartDatabase] = p
				st.Info("database backup %s: %d objects, %s, WAL %s to %s", p.Database.BackupID, p.Objects, status.HumanBytes(p.Bytes), p.Database.BeginWal, p.Database.EndWal)
				return nil
			}},
		&steps.Func{Name: PartMedia, Describe: "Copying the media bucket " + n.Media.Source.Bucket, Deadline: 2 * time.Hour, Remote: n.Media.Source.Endpoint,
			RunFunc: func(ctx context.Context, st *status.Status) error {
				p, err := copyMedia(ctx, n.Media, s, st.Bytes)
				if err != nil {
					return err
				}
				n.parts[PartMedia] = p
				st.Info("media: %d objects (%s), %d copied, %d unchanged", p.Objects, status.HumanBytes(p.Bytes), p.Copied, p.Unchanged)
				return nil
			}},
		&steps.Func{Name: PartIdentity, Describe: "Recording the identity realm", Deadline: time.Second,
			CheckFunc: func(context.Context) (string, error) {
				p := n.identityPart()
				n.parts[PartIdentity] = p
				return p.Note, nil
			}},
		&steps.Func{Name: PartGit, Describe: "Bundling the desired-state repository (every ref)", Deadline: 10 * time.Minute, Remote: redact(n.Git.Remote.PushURL),
			CheckFunc: func(ctx context.Context) (string, error) {
				cur, err := s.head(ctx, n.Target.Key(gitRel(n.ID)))
				if err != nil || cur == nil || cur.SHA256 == "" {
					return "", err
				}
				n.parts[PartGit] = &Part{Name: PartGit, Locations: []string{n.Target.URL(gitRel(n.ID))}, Objects: 1, Bytes: cur.Size, SHA256: cur.SHA256, Verified: true}
				return "the bundle is in the target", nil
			},
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				file, refs, err := n.Git.bundle(ctx, n.WorkDir)
				if err != nil {
					return err
				}
				size, sum, _, err := s.putFile(ctx, n.Target.Key(gitRel(n.ID)), file)
				if err != nil {
					return fmt.Errorf("uploading the git bundle: %w", err)
				}
				n.parts[PartGit] = &Part{Name: PartGit, Locations: []string{n.Target.URL(gitRel(n.ID))}, Objects: 1, Bytes: size, SHA256: sum, Refs: refs, Verified: true}
				return nil
			}},
		&steps.Func{Name: PartState, Describe: "Saving the appliance's config and encrypted secret store", Deadline: 2 * time.Minute, Remote: n.Target.Endpoint,
			CheckFunc: func(ctx context.Context) (string, error) {
				p, err := s.statePart(ctx, n.ID, n.StateFiles)
				if err != nil || p == nil {
					return "", err
				}
				n.parts[PartState] = p
				return "the same files are in the target", nil
			},
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				p, err := s.uploadState(ctx, n.ID, n.StateFiles)
				if err != nil {
					return err
				}
				n.parts[PartState] = p
				return nil
			}},
		&steps.Func{Name: StepManifest, Describe: "Writing the set's manifest " + n.Target.URL(manifestRel(n.ID)), Deadline: time.Minute, Remote: n.Target.Endpoint,
			CheckFunc: func(ctx context.Context) (string, error) {
				cur, err := s.head(ctx, n.Target.Key(manifestRel(n.ID)))
				if err != nil || cur == nil {
					return "", err
				}
				if n.Manifest, err = s.readManifest(ctx, n.ID); err != nil {
					return "", err
				}
				return "set " + n.ID + " is complete", nil
			},
			RunFunc: func(ctx context.Context, _ *status.Status) error {
				m := &Manifest{ID: n.ID, CreatedAt: n.CreatedAt.UTC(), FinishedAt: time.Now().UTC(), Train: n.Train, ApplianceVersion: n.ApplianceVersion}
				for _, name := range Parts {
					p := n.parts[name]
					if p == nil {
						return fmt.Errorf("the %s part is missing: run backup now again", name)
					}
					m.Parts = append(m.Parts, *p)
				}
				if err := s.writeManifest(ctx, m); err != nil {
					return err
				}
				n.Manifest = m
				return nil
			}},
	}
	return steps.WithDeadlines(list, n.Deadlines), nil
}

// Part is a part taken (or found taken) by this run's steps, nil before.
func (n *Now) Part(name string) *Part { return n.parts[name] }

func gitRel(id string) string { return "git/" + id + ".bundle" }

func (n *Now) identityPart() *Part {
	if n.EmbeddedIdentity {
		return &Part{Name: PartIdentity, CoveredBy: PartDatabase, Verified: true,
			Note: "the embedded Keycloak's realm is in the keycloak database of the same cluster: the database part holds it"}
	}
	return &Part{Name: PartIdentity, Verified: true, Note: "the identity provider is the operator's: the appliance holds no realm to back up"}
}

// PendingFileName, in the state folder, names the set a run started and has not finished.
const PendingFileName = "backup-pending.json"

type pending struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
}

// Pending returns the set a killed run left unfinished, or starts a new one at now (recorded, so
// that a run killed from here on resumes it).
func Pending(stateDir string, now time.Time) (id string, createdAt time.Time, resumed bool, err error) {
	path := filepath.Join(stateDir, PendingFileName)
	data, err := os.ReadFile(path)
	if err == nil {
		var p pending
		if err := json.Unmarshal(data, &p); err == nil && p.ID != "" {
			return p.ID, p.CreatedAt, true, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", time.Time{}, false, fmt.Errorf("reading the unfinished backup's record: %w", err)
	}
	p := pending{ID: NewID(now), CreatedAt: now.UTC()}
	data, _ = json.Marshal(p)
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return "", time.Time{}, false, fmt.Errorf("recording the backup set being taken: %w", err)
	}
	return p.ID, p.CreatedAt, false, nil
}

// Finished forgets the pending set once its manifest is written.
func Finished(stateDir string) error {
	if err := os.Remove(filepath.Join(stateDir, PendingFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the unfinished backup's record: %w", err)
	}
	return nil
}
