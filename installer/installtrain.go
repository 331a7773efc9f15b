package installer

import (
	"fmt"
	"os"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// TrainChangeError: the config asks install for another train than the appliance of this
// state folder runs. Moving trains is upgrade's: its gates, a backup first, the graph's
// required stops, one Kubernetes minor at a time, and a rollback when a hop fails; install
// would skip all of them.
type TrainChangeError struct {
	SavedConfig, Installed, Asked string
}

func (e *TrainChangeError) Error() string {
	return fmt.Sprintf("train: this appliance runs train %s (%s) and the config asks for train %s: moving to another train is an upgrade "+
		"(gates, a backup first, the required stops, a rollback when a hop fails): run `docs-appliance upgrade --to %s` "+
		"(`docs-appliance upgrade --plan --to %s` shows it first); to change only the config, keep the train (--set train=%s)",
		e.Installed, e.SavedConfig, e.Asked, e.Asked, e.Asked, e.Installed)
}

// UpgradeUnderwayError: an upgrade's hop is pending; install would commit over it.
type UpgradeUnderwayError struct{ Pending *pendingUpgrade }

func (e *UpgradeUnderwayError) Error() string {
	p := e.Pending
	return fmt.Sprintf("an upgrade is under way (hop %s → %s, %s, recorded in %s): finish it first with `docs-appliance upgrade --to %s`, then change the config",
		p.From, p.To, p.Phase, upgradePendingFile, p.Target)
}

// checkTrainKept refuses an install that would move the installed appliance to another train,
// or commit while an upgrade is under way. A state folder without a saved config is a first
// install.
func checkTrainKept(stateDir string, cfg *config.Config) error {
	pending, err := readPending(stateDir)
	if err != nil {
		return err
	}
	if pending != nil {
		return &UpgradeUnderwayError{Pending: pending}
	}
	saved := savedTrain(stateDir)
	if saved != "" && saved != cfg.Train {
		return &TrainChangeError{SavedConfig: SavedConfigPath(stateDir), Installed: saved, Asked: cfg.Train}
	}
	return nil
}

// savedTrain is the train the saved config names, "" when there is none.
func savedTrain(stateDir string) string {
	if _, err := os.Stat(SavedConfigPath(stateDir)); err != nil {
		return ""
	}
	c, err := config.Load(SavedConfigPath(stateDir))
	if err != nil {
		return ""
	}
	return c.Train
}
