package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// StoreFileName is the encrypted secret store in the state folder.
const StoreFileName = "secrets.enc.yaml"

// Store holds the appliance's secrets, encrypted at rest in the state
// folder with the appliance's age key.
type Store struct {
	dir       string
	id        *age.X25519Identity
	values    map[string]string
	dirty     bool
	ephemeral bool
	// KeyCreated is true when this open made the age key: the operator must
	// be told to back it up.
	KeyCreated bool
}

// StateMarker is the file OpenStore leaves in a state folder it makes (or
// finds empty): `docs-appliance reset` empties only a folder that holds it
// or nothing but the appliance's own files.
const StateMarker = ".docs-appliance-state"

// OpenStore opens (creating when absent) the age key and the secret store
// in dir. The folder is made 0700.
func OpenStore(dir string) (*Store, error) {
	entries, err := os.ReadDir(dir)
	fresh := errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state folder %s: %w", dir, err)
	}
	if fresh {
		if err := atomicfile.Write(filepath.Join(dir, StateMarker), []byte("docs-appliance made this folder for its state; `docs-appliance reset` empties it.\n"), 0o600); err != nil {
			return nil, fmt.Errorf("marking the state folder: %w", err)
		}
	}
	id, created, err := LoadOrCreateKey(filepath.Join(dir, KeyFileName))
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, id: id, values: map[string]string{}, KeyCreated: created}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenStoreReadOnly opens the store without writing anything: when the
// state folder has no key yet, secrets are generated in memory for this
// run only (a dry run must not touch the host).
func OpenStoreReadOnly(dir string) (*Store, error) {
	id, err := LoadKey(filepath.Join(dir, KeyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		id, err = age.GenerateX25519Identity()
		if err != nil {
			return nil, fmt.Errorf("generating a throwaway age key: %w", err)
		}
		return &Store{dir: dir, id: id, values: map[string]string{}, ephemeral: true}, nil
	}
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, id: id, values: map[string]string{}, ephemeral: true}
	return s, s.load()
}

func (s *Store) load() error {
	path := filepath.Join(s.dir, StoreFileName)
	enc, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading secret store %s: %w", path, err)
	}
	plain, err := Decrypt(enc, s.id)
	if err != nil {
		return fmt.Errorf("opening secret store %s with %s: %w", path, filepath.Join(s.dir, KeyFileName), err)
	}
	var doc struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(plain, &doc); err != nil {
		return fmt.Errorf("reading secret store %s: %w", path, err)
	}
	for k, v := range doc.Data {
		s.values[k] = v
	}
	return nil
}

// Ephemeral reports whether the store lives only in memory (dry run
// without an existing key).
func (s *Store) Ephemeral() bool { return s.ephemeral }

// Identity is the appliance's age key.
func (s *Store) Identity() *age.X25519Identity { return s.id }

// Recipient is the appliance's age public key.
func (s *Store) Recipient() string { return s.id.Recipient().String() }

// KeyPath is where the age key lives.
func (s *Store) KeyPath() string { return filepath.Join(s.dir, KeyFileName) }

// Get returns a secret's value.
func (s *Store) Get(name string) (string, bool) {
	v, ok := s.values[name]
	return v, ok
}

// Has reports whether a secret is set.
func (s *Store) Has(name string) bool { _, ok := s.values[name]; return ok }

// Set records a secret given by the operator.
func (s *Store) Set(name, value string) {
	if s.values[name] != value {
		s.values[name] = value
		s.dirty = true
	}
}

// SetFromFile records a secret read from a file holding only the value
// (one trailing newline is dropped: editors add one).
func (s *Store) SetFromFile(name, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading secret %s from %s: %w", name, path, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if v == "" {
		return fmt.Errorf("reading secret %s from %s: the file is empty", name, path)
	}
	s.Set(name, v)
	return nil
}

// Ensure generates every missing generated secret of specs and returns
// their names (never their values).
func (s *Store) Ensure(specs []config.SecretSpec) ([]string, error) {
	var made []string
	for _, sp := range specs {
		if !sp.Generated || s.Has(sp.Name) {
			continue
		}
		v, err := Generate(sp.Name)
		if err != nil {
			return made, err
		}
		s.Set(sp.Name, v)
		made = append(made, sp.Name)
	}
	return made, nil
}

// Names lists the stored secrets' names, sorted.
func (s *Store) Names() []string {
	n := make([]string, 0, len(s.values))
	for k := range s.values {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Save writes the store encrypted (0600, atomically) when it changed.
// An ephemeral store is never written.
func (s *Store) Save() error {
	if !s.dirty || s.ephemeral {
		return nil
	}
	plain, err := yaml.Marshal(map[string]any{"data": s.values})
	if err != nil {
		return fmt.Errorf("encoding secret store: %w", err)
	}
	enc, err := Encrypt(plain, []string{s.Recipient()})
	if err != nil {
		return fmt.Errorf("encrypting secret store: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.dir, StoreFileName), enc, 0o600); err != nil {
		return fmt.Errorf("saving secret store: %w", err)
	}
	s.dirty = false
	return nil
}

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// Generate makes a value for a generated secret with crypto/rand. Values
// are alphanumeric so they survive URLs (REDIS_URL), env files and
// connection strings without escaping; lengths give ≥ 190 bits.
func Generate(name string) (string, error) {
	switch {
	case strings.HasSuffix(name, "accessKeyID"), strings.HasSuffix(name, "rootAccessKey"):
		return randomString(upperAlnum, 20) // S3 access key ID shape
	case name == "django.secretKey":
		return randomString(alnum, 50)
	default:
		return randomString(alnum, 40)
	}
}

func randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		x, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		b[i] = alphabet[x.Int64()]
	}
	return string(b), nil
}
