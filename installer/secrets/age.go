package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"filippo.io/age"
)

// KeyFileName is the age private key's file in the state folder.
const KeyFileName = "age.key"

// LoadKey reads an age X25519 identity from path. A file that is readable
// by others is refused: the key decrypts every secret of the appliance.
func LoadKey(path string) (*age.X25519Identity, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading age key %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("reading age key %s: the file is readable by others (mode %04o); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading age key %s: %w", path, err)
	}
	id, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("reading age key %s: %w", path, err)
	}
	return id, nil
}

// ParseKey parses the first private key line of an age key file.
func ParseKey(text string) (*age.X25519Identity, error) {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			// Never echo the line: it may be a (mangled) private key.
			return nil, errors.New("the file does not hold a valid age private key (AGE-SECRET-KEY-...)")
		}
		return id, nil
	}
	return nil, errors.New("the file holds no age private key")
}

// KeyFileContent is the age key file format age-keygen writes.
func KeyFileContent(id *age.X25519Identity) []byte {
	return []byte("# docs-appliance age key: decrypts every secret of this appliance. Back it up offline.\n" +
		"# public key: " + id.Recipient().String() + "\n" + id.String() + "\n")
}

// LoadOrCreateKey returns the key at path, creating it (0600, atomically)
// when absent. created tells the caller to remind the operator to back it up.
func LoadOrCreateKey(path string) (id *age.X25519Identity, created bool, err error) {
	id, err = LoadKey(path)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	id, err = age.GenerateX25519Identity()
	if err != nil {
		return nil, false, fmt.Errorf("generating age key: %w", err)
	}
	if err := atomicfile.Write(path, KeyFileContent(id), 0o600); err != nil {
		return nil, false, fmt.Errorf("saving age key: %w", err)
	}
	return id, true, nil
}
