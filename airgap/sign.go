package airgap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Keys are ed25519 in the PEM encodings openssl and cosign read: the private
// key as PKCS#8 ("PRIVATE KEY"), the public key as PKIX ("PUBLIC KEY"). A
// key made with `openssl genpkey -algorithm ed25519` works as is.

// KeyID names a public key in messages and in the manifest:
// "ed25519:" and the first 16 hex digits of the sha256 of its PKIX encoding.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "ed25519:invalid"
	}
	sum := sha256.Sum256(der)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// GenerateKeyFiles makes a signing key pair: the private key written 0600
// to privPath, the public key 0644 to pubPath. It refuses to overwrite
// either file, so a key in use is never lost by a slip of the hand.
func GenerateKeyFiles(privPath, pubPath string) (string, error) {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("writing key pair: %s already exists; remove it first or pick another name", p)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating ed25519 key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encoding private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	if err := writeNewFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return "", fmt.Errorf("writing private key: %w", err)
	}
	if err := writeNewFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(privPath)
		return "", fmt.Errorf("writing public key: %w", err)
	}
	return KeyID(pub), nil
}

// writeNewFile creates path exclusively with mode (umask does not apply).
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// LoadPrivateKey reads a PEM PKCS#8 ed25519 private key. Like ssh, it refuses
// a key file that others can read: a signing key that leaked signs
// anything.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %#o): run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s is not a PEM \"PRIVATE KEY\" block: make one with `docs-appliance airgap keygen` or `openssl genpkey -algorithm ed25519`", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: parsing PKCS#8: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is a %T, not ed25519: bundles are signed with ed25519 keys", path, key)
	}
	return priv, nil
}

// LoadPublicKey reads a PEM PKIX ed25519 public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	return ParsePublicKey(data, path)
}

// ParsePublicKey decodes a PEM PKIX ed25519 public key; where names it in errors.
func ParsePublicKey(data []byte, where string) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		if block != nil && block.Type == "PRIVATE KEY" {
			return nil, fmt.Errorf("public key %s holds a private key: pass the .pub file, and keep the private key off the air-gapped site", where)
		}
		return nil, fmt.Errorf("public key %s is not a PEM \"PUBLIC KEY\" block", where)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: parsing PKIX: %w", where, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s is a %T, not ed25519", where, key)
	}
	return pub, nil
}

// signManifest returns manifest.sig: the base64 of the raw ed25519
// signature over the exact manifest bytes, newline-terminated (the same
// text `cosign sign-blob` and `openssl pkeyutl | base64` produce).
func signManifest(priv ed25519.PrivateKey, manifest []byte) []byte {
	sig := ed25519.Sign(priv, manifest)
	return []byte(base64.StdEncoding.EncodeToString(sig) + "\n")
}

// errBadSignature is wrapped by every signature failure.
var errBadSignature = errors.New("signature does not verify")

func checkSignature(pub ed25519.PublicKey, manifest, sigFile []byte) error {
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sigFile)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s is not a base64 ed25519 signature", errBadSignature, SignatureName)
	}
	if !ed25519.Verify(pub, manifest, sig) {
		return fmt.Errorf("%w with key %s", errBadSignature, KeyID(pub))
	}
	return nil
}
