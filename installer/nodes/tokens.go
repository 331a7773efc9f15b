package nodes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Agent join tokens are kubeadm-style bootstrap tokens: a kube-system Secret of type
// bootstrap.kubernetes.io/token named bootstrap-token-<id> (kubernetes.io/docs/reference/
// access-authn-authz/bootstrap-tokens). k3s accepts them to join agents, never servers, and runs
// the tokencleaner controller that deletes them when they expire (k3s ADR "Support
// kubeadm-style Bootstrap Token Secrets", docs/adrs/agent-join-token.md, k3s v1.26+; `k3s
// token create` writes the same Secret). Revoking deletes the Secret: k3s refuses the token from
// then on.
const (
	bootstrapTokenType = corev1.SecretType("bootstrap.kubernetes.io/token")
	bootstrapPrefix    = "bootstrap-token-"
	// agentGroup is the extra group `k3s token create` gives its tokens by default.
	agentGroup = "system:bootstrappers:k3s:default-node-token"
	// managedBy marks the tokens the appliance made, so list and revoke leave others' alone.
	managedBy = "docs-appliance"
)

// tokenIDPattern is a bootstrap token's ID: [a-z0-9]{6}.
var tokenIDPattern = regexp.MustCompile(`^[a-z0-9]{6}$`)

// AgentToken is one agent join token in the cluster (never its secret half).
type AgentToken struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Expires     time.Time `json:"expires"`
	// Appliance: made by `node token create`; other bootstrap tokens are listed, not touched.
	Appliance bool `json:"appliance"`
}

// Expired reports whether k3s refuses the token at now (the cleaner may not have deleted it yet).
func (t AgentToken) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

// CreateAgentToken makes a bootstrap token living ttl and returns its credential, id.secret:
// the caller prints it once, inside the secure join token (JoinToken), and keeps only its hash.
func CreateAgentToken(ctx context.Context, kube kubernetes.Interface, ttl time.Duration, description string, now time.Time) (AgentToken, string, error) {
	if ttl <= 0 {
		return AgentToken{}, "", fmt.Errorf("creating a join token: --ttl %s is not a duration ahead (e.g. 24h): a join token always expires", ttl)
	}
	id, err := randomString(6)
	if err != nil {
		return AgentToken{}, "", err
	}
	secret, err := randomString(16)
	if err != nil {
		return AgentToken{}, "", err
	}
	expires := now.Add(ttl).UTC().Truncate(time.Second)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapPrefix + id, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"app.kubernetes.io/managed-by": managedBy}},
		Type: bootstrapTokenType,
		StringData: map[string]string{
			"token-id": id, "token-secret": secret, "expiration": expires.Format(time.RFC3339),
			"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
			"auth-extra-groups": agentGroup, "description": description,
		},
	}
	if _, err := kube.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return AgentToken{}, "", fmt.Errorf("creating the join token's Secret kube-system/%s: %w", s.Name, err)
	}
	return AgentToken{ID: id, Description: description, Expires: expires, Appliance: true}, id + "." + secret, nil
}

// ListAgentTokens reads the cluster's bootstrap tokens, soonest to expire first.
func ListAgentTokens(ctx context.Context, kube kubernetes.Interface) ([]AgentToken, error) {
	l, err := kube.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(bootstrapTokenType)})
	if err != nil {
		return nil, fmt.Errorf("listing the cluster's join tokens: %w", err)
	}
	var out []AgentToken
	for _, s := range l.Items {
		t := AgentToken{ID: string(s.Data["token-id"]), Description: string(s.Data["description"]), Appliance: s.Labels["app.kubernetes.io/managed-by"] == managedBy}
		if e, err := time.Parse(time.RFC3339, string(s.Data["expiration"])); err == nil {
			t.Expires = e
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Expires.Before(out[j].Expires) })
	return out, nil
}

// ErrNoSuchToken is a revocation of a token the cluster does not have (expired and cleaned, or
// never made).
var ErrNoSuchToken = errors.New("no such join token")

// RevokeAgentToken deletes the token's Secret. A token the appliance did not make is refused:
// it belongs to whoever ran `k3s token create`.
func RevokeAgentToken(ctx context.Context, kube kubernetes.Interface, id string) error {
	if !tokenIDPattern.MatchString(id) {
		return fmt.Errorf("revoking join token %q: an ID is six lowercase letters or digits, as `node token list` shows", id)
	}
	secrets := kube.CoreV1().Secrets(metav1.NamespaceSystem)
	s, err := secrets.Get(ctx, bootstrapPrefix+id, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("revoking join token %s: %w (expired tokens are deleted by k3s)", id, ErrNoSuchToken)
	}
	if err != nil {
		return fmt.Errorf("revoking join token %s: %w", id, err)
	}
	if s.Labels["app.kubernetes.io/managed-by"] != managedBy {
		return fmt.Errorf("revoking join token %s: the appliance did not make it; `k3s token delete %s` removes it", id, id)
	}
	uid := s.UID
	if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("revoking join token %s: %w", id, err)
	}
	return nil
}

// JoinToken is k3s's secure token format, K10<sha256 of the server CA PEM>::<credentials>: the
// joining node checks the server's CA against the hash before it sends the credentials
// (docs.k3s.io/cli/token, "Secure").
func JoinToken(serverCAPEM []byte, credentials string) string {
	sum := sha256.Sum256(serverCAPEM)
	return "K10" + hex.EncodeToString(sum[:]) + "::" + credentials
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) (string, error) {
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(tokenAlphabet))))
		if err != nil {
			return "", fmt.Errorf("generating a join token: %w", err)
		}
		b[i] = tokenAlphabet[k.Int64()]
	}
	return string(b), nil
}
