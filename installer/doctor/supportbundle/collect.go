package supportbundle

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"compress/gzip"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Options say what to collect and where to write it.
type Options struct {
	// Path is the bundle to write: a tar.gz, mode 0600, replaced
	// atomically (nothing appears at Path unless the whole bundle did).
	Path string
	// DoctorJSON is doctor's report (--output json), put in as doctor.json.
	DoctorJSON []byte
	// StateDir is the appliance's state folder on this machine: the saved
	// config is collected from it, and the secret store is opened
	// read-only with the age key in it to learn the values to hide.
	StateDir string
	// WithoutSecretStore lets a bundle be written when the secret store
	// exists but cannot be opened (a lost or unreadable age key): its
	// values are then hidden only where the cluster's Secrets hold them,
	// and the manifest says so. Without it, Collect refuses.
	WithoutSecretStore bool
	// Kube is the cluster (nil when it could not be reached, with KubeErr
	// saying why: the bundle is still written, the manifest records it).
	Kube    *cluster.Client
	KubeErr error
	// Host is set when the appliance provisioned k3s on this machine;
	// nil on an existing cluster (--kubeconfig): no host facts then.
	Host *Host
	// Namespaces are collected besides those found: the namespaces the
	// appliance labels as its own (app.kubernetes.io/managed-by), flux-system
	// and the git server's.
	Namespaces []string
	// LogLimit caps each container log kept (its last bytes);
	// DefaultLogLimit when zero.
	LogLimit int64
	// Secrets are more values to hide, by name (doctor's Env.Secrets).
	Secrets map[string]string
	// Version is docs-appliance's, recorded in the manifest.
	Version string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Host locates k3s on this machine (doctor.HostFacts's fields).
type Host struct {
	Root   host.Root
	Runner host.Runner
	// DataDir is k3s's data dir, VolumesDir where volumes live (host paths).
	DataDir, VolumesDir string
	// Service is the k3s systemd unit.
	Service string
}

// DefaultLogLimit is how much of each container log is kept: the end of
// it, where the trouble usually is.
const DefaultLogLimit = 2 << 20

// Format names the bundle's layout, for tools that read it.
const Format = "docs-appliance-support-bundle/v1"

// ManifestFile is the bundle's table of contents.
const ManifestFile = "manifest.json"

// Manifest lists what a bundle holds and what could not be collected.
type Manifest struct {
	Format     string    `json:"format"`
	Created    time.Time `json:"created"`
	Version    string    `json:"version,omitempty"`
	Namespaces []string  `json:"namespaces,omitempty"`
	Collected  []Entry   `json:"collected"`
	Failed     []Failure `json:"failed"`
	Redaction  Redaction `json:"redaction"`
}

// Entry is one file of the bundle.
type Entry struct {
	Path  string `json:"path"`
	What  string `json:"what"`
	Bytes int    `json:"bytes"`
	// Cut says the content was shortened, and how.
	Cut string `json:"cut,omitempty"`
}

// Failure is something that could not be collected, and why.
type Failure struct {
	What  string `json:"what"`
	Error string `json:"error"`
}

// Redaction says what was hidden: how many values were searched for,
// which were deliberately not (too short, see MinLen), and how many
// markers of each kind the bundle holds.
type Redaction struct {
	SecretStore   string         `json:"secretStore"`
	SearchedNames int            `json:"searchedNames"`
	NotSearched   []string       `json:"notSearched,omitempty"`
	Markers       map[string]int `json:"markers"`
}

// ErrSecretStore is returned when the secret store exists but cannot be
// opened: without its values the bundle could leak them.
var ErrSecretStore = errors.New("the secret store cannot be read to hide its values")

// Collect writes the support bundle. It fails only when the bundle cannot
// be written or redacted safely (ErrSecretStore); what cannot be collected
// (the cluster unreachable, a log refused) is recorded in the manifest and
// the rest is still written.
func Collect(ctx context.Context, opts Options) error {
	if opts.Path == "" {
		return errors.New("writing the support bundle: no file given (--support-bundle FILE)")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.LogLimit <= 0 {
		opts.LogLimit = DefaultLogLimit
	}
	f, err := atomicfile.Create(opts.Path, 0o600)
	if err != nil {
		return fmt.Errorf("writing the support bundle: %w", err)
	}
	defer f.Abort()
	gz := gzip.NewWriter(f)
	b := &bundle{tw: tar.NewWriter(gz), r: NewRedactor(), now: now().UTC()}
	b.man = Manifest{Format: Format, Created: b.now, Version: opts.Version, Collected: []Entry{}, Failed: []Failure{}}

	// Every value to hide is known before anything is written.
	if err := b.learnLocal(opts); err != nil {
		return err
	}
	var kc *kubeCollector
	if opts.Kube == nil {
		b.fail("the cluster", orUnknown(opts.KubeErr))
	} else {
		kc = &kubeCollector{b: b, c: opts.Kube, limit: opts.LogLimit}
		if !kc.learn(ctx, opts.Namespaces) {
			kc = nil
		}
	}
	b.man.Redaction.Markers = map[string]int{}
	b.man.Redaction.NotSearched = b.r.Skipped()

	if len(opts.DoctorJSON) > 0 {
		b.add("doctor.json", "doctor's report", opts.DoctorJSON, "")
	} else {
		b.fail("doctor's report", errors.New("doctor gave no report"))
	}
	b.collectConfig(opts.StateDir)
	if opts.Host != nil {
		collectHost(ctx, b, opts.Host, opts.StateDir, opts.LogLimit)
	}
	if kc != nil {
		kc.collect(ctx)
	}
	if err := b.writeManifest(); err != nil {
		return err
	}
	if err := b.tw.Close(); err != nil {
		return fmt.Errorf("writing the support bundle %s: %w", opts.Path, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("writing the support bundle %s: %w", opts.Path, err)
	}
	return f.Commit()
}

func orUnknown(err error) error {
	if err == nil {
		return errors.New("no client was given")
	}
	return err
}

// bundle is the archive being written; add and fail are safe for
// concurrent use (logs are collected in parallel).
type bundle struct {
	mu  sync.Mutex
	tw  *tar.Writer
	r   *Redactor
	now time.Time
	man Manifest
	err error
	// pending are files made while learning the values to hide, written
	// once every value is known.
	pending []pendingFile
}

type pendingFile struct{ path, what, text string }

// add redacts data and writes it at path.
func (b *bundle) add(path, what string, data []byte, cut string) {
	b.addRedacted(path, what, b.r.Bytes(data), cut)
}

// addRedacted writes data that already went through the redactor.
func (b *bundle) addRedacted(path, what string, data []byte, cut string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	hdr := &tar.Header{Name: path, Mode: 0o600, Size: int64(len(data)), ModTime: b.now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := b.tw.WriteHeader(hdr); err != nil {
		b.err = fmt.Errorf("writing %s into the support bundle: %w", path, err)
		return
	}
	if _, err := b.tw.Write(data); err != nil {
		b.err = fmt.Errorf("writing %s into the support bundle: %w", path, err)
		return
	}
	b.man.Collected = append(b.man.Collected, Entry{Path: path, What: what, Bytes: len(data), Cut: cut})
}

// fail records what could not be collected; the error text is redacted
// like everything else.
func (b *bundle) fail(what string, err error) {
	msg := string(b.r.Bytes([]byte(err.Error())))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.man.Failed = append(b.man.Failed, Failure{What: what, Error: msg})
}

func (b *bundle) addJSON(path, what string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b.fail(what, err)
		return
	}
	b.add(path, what, append(data, '\n'), "")
}

// configFile is the saved config in the state folder (wizard.ConfigFileName).
const configFile = "appliance.yaml"

func (b *bundle) collectConfig(stateDir string) {
	if stateDir == "" {
		b.fail("the saved config", errors.New("no state folder given"))
		return
	}
	data, err := os.ReadFile(filepath.Join(stateDir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		b.fail("the saved config", fmt.Errorf("%s does not exist", filepath.Join(stateDir, configFile)))
		return
	}
	if err != nil {
		b.fail("the saved config", err)
		return
	}
	b.add("config/"+configFile, "the saved config (it holds no secrets; redacted anyway)", data, "")
}

func (b *bundle) writeManifest() error {
	b.mu.Lock()
	if b.err != nil {
		defer b.mu.Unlock()
		return b.err
	}
	sort.Slice(b.man.Collected, func(i, j int) bool { return b.man.Collected[i].Path < b.man.Collected[j].Path })
	sort.SliceStable(b.man.Failed, func(i, j int) bool { return b.man.Failed[i].What < b.man.Failed[j].What })
	b.man.Redaction.Markers = b.r.Counts()
	data, err := json.MarshalIndent(b.man, "", "  ")
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("writing the bundle manifest: %w", err)
	}
	// Not through the redactor: its failure texts were redacted when
	// recorded, the rest is names; a marker in its JSON could break it.
	b.addRedacted(ManifestFile, "this table of contents", append(data, '\n'), "")
	return b.err
}
