package main

import (
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

// inputFlags are the flags of every command that reads the config.
type inputFlags struct {
	configPath string
	sets       []string
	secrets    []string
	chartsDir  string
	trainFile  string
}

func (f *inputFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.configPath, "config", "c", "", "appliance.yaml to read (see examples/appliance.yaml)")
	fs.StringArrayVar(&f.sets, "set", nil, "override a config field: --set tls.mode=appliance-ca (repeatable)")
	fs.StringArrayVar(&f.secrets, "secret", nil, "give a secret from a file holding only its value: --secret identity.clientSecret=FILE (repeatable)")
	fs.StringVar(&f.chartsDir, "charts", "", "folder of packaged charts (<name>-<version>.tgz) searched before the ones in this binary")
	fs.StringVar(&f.trainFile, "train-file", "", "a release train file to use beside the embedded ones (install still requires it locked)")
}

func (f *inputFlags) options(app *App) installer.InputOptions {
	return installer.InputOptions{
		ConfigPath: f.configPath, Sets: f.sets, SecretFiles: f.secrets,
		StateDir: app.StateDir(), ChartsDir: f.chartsDir, TrainFile: f.trainFile,
	}
}

// StateDir is --state-dir, or the default state folder under --root.
func (a *App) StateDir() string {
	if a.flags.stateDir != "" {
		return a.flags.stateDir
	}
	return filepath.Join(a.flags.root, config.DefaultStateDir())
}
