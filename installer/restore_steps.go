package installer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// The steps a restore adds to install: the repository's history before the first clone, the
// media once the appliance converged (the embedded store runs by then).

const restoreMediaDeadline = 2 * time.Hour // gigabytes of media

// restoreRepositoryStep pushes the set's git bundle into the repository while it has no branch:
// the install then commits the restored config on top of the backed-up history.
func (r *run) restoreRepositoryStep(gitWhere string) steps.Step {
	rr := r.i.restore
	if rr == nil {
		return nil
	}
	return &steps.Func{
		Name: "restore-repository", Describe: "Pushing the backed-up desired-state history into " + gitWhere + " (kept as it is when it has history)",
		RunFunc: func(ctx context.Context, st *status.Status) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			remote, closeRemote, err := openRemote(ctx, r.life, c, r.in)
			if err != nil {
				return fmt.Errorf("reaching the desired-state repository: %w", err)
			}
			defer closeRemote()
			work, err := os.MkdirTemp("", "docs-appliance-restore-")
			if err != nil {
				return fmt.Errorf("making a work folder: %w", err)
			}
			defer os.RemoveAll(work)
			pushed, refs, err := backup.Git{Remote: remote, CABundle: rr.target.CABundle}.RestoreRepository(ctx, rr.target, rr.manifest, work)
			if err != nil {
				return err
			}
			if pushed {
				rr.r.Result.Repository = fmt.Sprintf("pushed %d refs", refs)
			} else {
				rr.r.Result.Repository = "kept (the remote has history)"
			}
			st.Info("desired-state repository: %s", rr.r.Result.Repository)
			return nil
		},
		Deadline: gitDeadline, Remote: gitWhere,
	}
}

// restoreMediaStep copies the set's media back into the media bucket.
func (r *run) restoreMediaStep() steps.Step {
	rr := r.i.restore
	if rr == nil {
		return nil
	}
	return &steps.Func{
		Name: "restore-media", Describe: "Copying the backed-up media back into the media bucket (objects already there are kept)",
		RunFunc: func(ctx context.Context, st *status.Status) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ends, err := backupEndpoints(ctx, r.life, c, r.in, rr.target.CABundle)
			if err != nil {
				return err
			}
			copied, kept, err := backup.RestoreMedia(ctx, rr.target, backup.Media{Source: ends.Media})
			rr.r.Result.MediaCopied, rr.r.Result.MediaKept = copied, kept
			if err != nil {
				return err
			}
			st.Info("media: %d objects copied back, %d already there", copied, kept)
			return nil
		},
		Deadline: restoreMediaDeadline, Remote: "the backup target and the media bucket",
	}
}
