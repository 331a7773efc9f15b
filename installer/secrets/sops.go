package secrets

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
)

// EncryptedRegex selects what SOPS encrypts in a Kubernetes Secret: the
// values, never the metadata Flux and people need to read.
const EncryptedRegex = "^(data|stringData)$"

// Encrypt encrypts a plain YAML document for the given age recipients,
// as `sops --encrypt --encrypted-regex '^(data|stringData)$'` does.
func Encrypt(plain []byte, recipients []string) ([]byte, error) {
	return encrypt(plain, recipients, EncryptedRegex)
}

// encrypt encrypts the values under the top-level keys matching regex.
func encrypt(plain []byte, recipients []string, regex string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("encrypting with SOPS: no age recipient")
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("encrypting with SOPS: recipient %q is not an age public key: %w", r, err)
		}
		group = append(group, mk)
	}
	store := sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("encrypting with SOPS: parsing YAML: %w", err)
	}
	tree := sops.Tree{
		Branches: branches,
		Metadata: sops.Metadata{
			KeyGroups:      []sops.KeyGroup{group},
			EncryptedRegex: regex,
			Version:        version.Version,
		},
	}
	dataKey, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		return nil, fmt.Errorf("encrypting with SOPS: wrapping the data key: %w", errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("encrypting with SOPS: %w", err)
	}
	// As sops' own EncryptTree: the MAC is encrypted with the modification time as additional data.
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("encrypting with SOPS: sealing the MAC: %w", err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		return nil, fmt.Errorf("encrypting with SOPS: writing YAML: %w", err)
	}
	return out, nil
}

// ErrNotDecryptable says none of the given keys opens the file.
var ErrNotDecryptable = errors.New("no given age key can decrypt this file")

// Decrypt opens a SOPS-encrypted YAML document with the given identities
// and checks its MAC, returning the plain YAML.
func Decrypt(encrypted []byte, ids ...*age.X25519Identity) ([]byte, error) {
	store := sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{})
	tree, err := store.LoadEncryptedFile(encrypted)
	if err != nil {
		return nil, fmt.Errorf("decrypting with SOPS: reading the file: %w", err)
	}
	var parsed sopsage.ParsedIdentities
	for _, id := range ids {
		if err := parsed.Import(id.String()); err != nil {
			return nil, fmt.Errorf("decrypting with SOPS: loading the age key: %w", err)
		}
	}
	var dataKey []byte
	for _, group := range tree.Metadata.KeyGroups {
		for _, k := range group {
			if dataKey = tryAgeKey(k, parsed); dataKey != nil {
				break
			}
		}
		if dataKey != nil {
			break
		}
	}
	if dataKey == nil {
		return nil, fmt.Errorf("decrypting with SOPS: %w (file recipients: %s)", ErrNotDecryptable, strings.Join(Recipients(&tree), ", "))
	}
	tree.Metadata.DataKey = dataKey
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("decrypting with SOPS: %w", err)
	}
	fileMac, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || fileMac != mac {
		return nil, errors.New("decrypting with SOPS: the MAC does not match: the file was changed after encryption")
	}
	out, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("decrypting with SOPS: writing YAML: %w", err)
	}
	return out, nil
}

func tryAgeKey(k keys.MasterKey, ids sopsage.ParsedIdentities) []byte {
	mk, ok := k.(*sopsage.MasterKey)
	if !ok {
		return nil
	}
	ids.ApplyToMasterKey(mk)
	dk, err := mk.Decrypt()
	if err != nil {
		return nil
	}
	return dk
}

// Recipients lists the age recipients a SOPS tree is encrypted for.
func Recipients(tree *sops.Tree) []string {
	var out []string
	for _, g := range tree.Metadata.KeyGroups {
		for _, k := range g {
			if mk, ok := k.(*sopsage.MasterKey); ok {
				out = append(out, mk.Recipient)
			}
		}
	}
	return out
}

// FileRecipients lists the age recipients of an encrypted YAML file.
func FileRecipients(encrypted []byte) ([]string, error) {
	store := sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{})
	tree, err := store.LoadEncryptedFile(encrypted)
	if err != nil {
		return nil, fmt.Errorf("reading SOPS metadata: %w", err)
	}
	return Recipients(&tree), nil
}

// SOPSConfig is the .sops.yaml that lets people and the sops CLI edit the
// repository's secrets with the same rules the appliance uses.
func SOPSConfig(recipients []string) []byte {
	return []byte("# Rules for the sops CLI; Flux decrypts with the flux-system/sops-age key.\n" +
		"creation_rules:\n" +
		"  - path_regex: secrets/.*\\.yaml$\n" +
		"    encrypted_regex: " + EncryptedRegex + "\n" +
		"    age: " + strings.Join(recipients, ",") + "\n")
}
