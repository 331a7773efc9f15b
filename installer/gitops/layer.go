package gitops

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"filippo.io/age"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// The in-cluster git server.
const (
	GitNamespace = "docs-appliance-system"
	GitService   = "git-server"
	GitRepoName  = "appliance.git"
	// GitUsersSecret holds the server's accounts file (bcrypt hashes, no passwords).
	GitUsersSecret = "git-server-users"
	gitDataPVC     = "git-server-data"
	// GitImageRepository is the repository suffix the train pins the server image under.
	GitImageRepository = "docs-appliance-git-server"
	gitPort            = 8080
	// Accounts: the installer pushes, Flux only fetches.
	GitPushUser = "appliance"
	GitReadUser = "flux"
)

const managedBy = "docs-appliance"

// GitTrainKey is the train file's key in GitUsersSecret.
const GitTrainKey = "train.yaml"

// GitServerSpec sizes and pins the in-cluster git server.
type GitServerSpec struct {
	Image    bundles.Image
	Branch   string
	Workload profiles.Workload
	// Storage is the volume size, e.g. "2Gi".
	Storage string
	// Users is the accounts file (UsersFile), stored in GitUsersSecret.
	Users []byte
	// Train is the release train file every push is validated against
	// (the pre-receive hook re-reads it on each push), stored beside Users.
	Train []byte
}

// LayerOptions are the inputs of the bootstrap layer.
type LayerOptions struct {
	AgeKey *age.X25519Identity
	// FluxSecret is flux-system/flux-system: Flux's credentials for the repository.
	FluxSecret map[string][]byte
	// GitServer is nil for an external repository.
	GitServer *GitServerSpec
}

// SyncURL is the in-cluster server's repository as Flux reaches it, through cluster DNS.
func SyncURL() string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local/%s", GitService, GitNamespace, GitRepoName)
}

// ImageReference is how a pod names a pinned image: tag and digest.
func ImageReference(im bundles.Image) string { return im.Pinned() }

// BootstrapObjects are the objects the installer applies itself, before Flux exists.
func BootstrapObjects(o LayerOptions) []*unstructured.Unstructured {
	objs := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", FluxNamespace, nil, nil),
		secret(FluxNamespace, SOPSSecret, map[string][]byte{AgeKeyField: secrets.KeyFileContent(o.AgeKey)}),
		secret(FluxNamespace, FluxName, o.FluxSecret),
	}
	if o.GitServer != nil {
		objs = append(objs, gitServerObjects(*o.GitServer)...)
	}
	return objs
}

func meta(namespace, name string, labels map[string]string) map[string]any {
	l := map[string]any{"app.kubernetes.io/managed-by": managedBy}
	for k, v := range labels {
		l[k] = v
	}
	m := map[string]any{"name": name, "labels": l}
	if namespace != "" {
		m["namespace"] = namespace
	}
	return m
}

func obj(apiVersion, kind, namespace, name string, labels map[string]string, fields map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta(namespace, name, labels)}
	for k, v := range fields {
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

// secret uses data, not stringData: server-side apply then owns exactly the keys it sets, and a
// reapply of the same values changes nothing.
func secret(namespace, name string, data map[string][]byte) *unstructured.Unstructured {
	d := map[string]any{}
	for k, v := range data {
		d[k] = base64.StdEncoding.EncodeToString(v)
	}
	return obj("v1", "Secret", namespace, name, nil, map[string]any{"type": "Opaque", "data": d})
}

func gitServerObjects(s GitServerSpec) []*unstructured.Unstructured {
	app := map[string]string{"app.kubernetes.io/name": GitService, "app.kubernetes.io/part-of": "docs-appliance"}
	sel := map[string]any{"app.kubernetes.io/name": GitService}
	container := map[string]any{
		"name":            "git-server",
		"image":           ImageReference(s.Image),
		"imagePullPolicy": "IfNotPresent",
		"args": []any{
			"--listen=:" + fmt.Sprint(gitPort), "--root=/data", "--repo=" + GitRepoName,
			"--branch=" + s.Branch, "--users=/etc/git-server/users",
			// Every push is validated (docs-appliance validate) before Flux can see it.
			"--validate-pushes", "--train=/etc/git-server/" + GitTrainKey,
		},
		"ports": []any{map[string]any{"name": "http", "containerPort": int64(gitPort), "protocol": "TCP"}},
		"readinessProbe": map[string]any{
			"httpGet":       map[string]any{"path": "/healthz", "port": "http"},
			"periodSeconds": int64(5),
		},
		"livenessProbe": map[string]any{
			"httpGet":          map[string]any{"path": "/healthz", "port": "http"},
			"periodSeconds":    int64(20),
			"failureThreshold": int64(6),
		},
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"readOnlyRootFilesystem":   true,
			"runAsNonRoot":             true,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
		},
		"volumeMounts": []any{
			map[string]any{"name": "data", "mountPath": "/data"},
			map[string]any{"name": "users", "mountPath": "/etc/git-server", "readOnly": true},
			map[string]any{"name": "tmp", "mountPath": "/tmp"},
		},
	}
	if res := s.Workload.Resources(); len(res) > 0 {
		container["resources"] = res
	}
	deployment := obj("apps/v1", "Deployment", GitNamespace, GitService, app, map[string]any{
		"spec": map[string]any{
			"replicas": int64(1),
			// One writer on a ReadWriteOnce volume: never two pods at once.
			"strategy": map[string]any{"type": "Recreate"},
			"selector": map[string]any{"matchLabels": sel},
			"template": map[string]any{
				"metadata": map[string]any{"labels": toAny(app)},
				"spec": map[string]any{
					"automountServiceAccountToken": false,
					"enableServiceLinks":           false,
					"securityContext": map[string]any{
						"runAsUser": int64(65532), "runAsGroup": int64(65532), "fsGroup": int64(65532),
						"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
					},
					"containers": []any{container},
					"volumes": []any{
						map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": gitDataPVC}},
						map[string]any{"name": "users", "secret": map[string]any{"secretName": GitUsersSecret, "defaultMode": int64(0o440)}},
						map[string]any{"name": "tmp", "emptyDir": map[string]any{"sizeLimit": "64Mi"}},
					},
				},
			},
		},
	})
	storage := s.Storage
	if storage == "" {
		storage = "1Gi"
	}
	return []*unstructured.Unstructured{
		obj("v1", "Namespace", "", GitNamespace, map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/audit":   "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}, nil),
		secret(GitNamespace, GitUsersSecret, map[string][]byte{"users": s.Users, GitTrainKey: s.Train}),
		obj("v1", "PersistentVolumeClaim", GitNamespace, gitDataPVC, app, map[string]any{
			"spec": map[string]any{
				"accessModes": []any{"ReadWriteOnce"},
				"resources":   map[string]any{"requests": map[string]any{"storage": storage}},
			},
		}),
		deployment,
		obj("v1", "Service", GitNamespace, GitService, app, map[string]any{
			"spec": map[string]any{
				"selector": sel,
				"ports":    []any{map[string]any{"name": "http", "port": int64(80), "targetPort": "http", "protocol": "TCP"}},
			},
		}),
		// Only Flux's source-controller fetches over the network; the installer comes through
		// the API server's port-forward, which network policies do not see.
		obj("networking.k8s.io/v1", "NetworkPolicy", GitNamespace, GitService, app, map[string]any{
			"spec": map[string]any{
				"podSelector": map[string]any{"matchLabels": sel},
				"policyTypes": []any{"Ingress"},
				"ingress": []any{map[string]any{
					"from": []any{map[string]any{
						"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": FluxNamespace}},
						"podSelector":       map[string]any{"matchLabels": map[string]any{"app": "source-controller"}},
					}},
					"ports": []any{map[string]any{"port": int64(gitPort), "protocol": "TCP"}},
				}},
			},
		}),
	}
}

func toAny(m map[string]string) map[string]any {
	o := make(map[string]any, len(m))
	for k, v := range m {
		o[k] = v
	}
	return o
}

// ApplyLayer server-side applies the bootstrap layer. An existing volume claim is left as it is:
// its size cannot shrink, k3s's local-path provisioner cannot grow it, and the API server
// rewrites a claim on every apply even when nothing changed.
func ApplyLayer(ctx context.Context, c *cluster.Client, objs []*unstructured.Unstructured) ([]cluster.Change, error) {
	var apply []*unstructured.Unstructured
	var kept []cluster.Change
	for _, o := range objs {
		if o.GetKind() == "PersistentVolumeClaim" {
			_, err := c.Kube.CoreV1().PersistentVolumeClaims(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err == nil {
				kept = append(kept, cluster.Change{Ref: cluster.RefOf(o), Action: cluster.Unchanged})
				continue
			}
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading %s: %w", cluster.RefOf(o), err)
			}
		}
		apply = append(apply, o)
	}
	changes, err := c.Apply(ctx, apply, cluster.ApplyOptions{})
	if err != nil {
		return changes, fmt.Errorf("applying the bootstrap layer: %w", err)
	}
	return append(changes, kept...), nil
}

// GitServerRefs are the objects to wait for before pushing to the in-cluster server.
func GitServerRefs() []cluster.Ref {
	return []cluster.Ref{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: GitNamespace, Name: GitService}}
}

// AgeKeyMismatchError is returned when the cluster already holds another age key than the
// state folder's: the repository's secrets are encrypted for the cluster's key.
type AgeKeyMismatchError struct {
	Cluster, Local, KeyPath string
}

func (e *AgeKeyMismatchError) Error() string {
	return fmt.Sprintf("the cluster's age key (Secret %s/%s, public key %s) is not the one in %s (public key %s): "+
		"the appliance's secrets are encrypted for the cluster's key. Put the backed-up age key of this appliance at %s "+
		"(mode 0600) with the state folder it came with, then run install again; nothing was changed",
		FluxNamespace, SOPSSecret, e.Cluster, e.KeyPath, e.Local, e.KeyPath)
}

// CheckAgeKey compares the cluster's age key (if any) with the local one.
func CheckAgeKey(ctx context.Context, c *cluster.Client, local *age.X25519Identity, keyPath string) error {
	s, err := c.Kube.CoreV1().Secrets(FluxNamespace).Get(ctx, SOPSSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the cluster's age key: %w", err)
	}
	id, err := secrets.ParseKey(string(s.Data[AgeKeyField]))
	if err != nil {
		return &AgeKeyMismatchError{Cluster: "(unreadable: " + strings.TrimSpace(err.Error()) + ")", Local: local.Recipient().String(), KeyPath: keyPath}
	}
	if id.Recipient().String() != local.Recipient().String() {
		return &AgeKeyMismatchError{Cluster: id.Recipient().String(), Local: local.Recipient().String(), KeyPath: keyPath}
	}
	return nil
}

// PreviousUsers returns the users file the cluster holds, to keep its hashes when the passwords
// did not change (an unchanged Secret is not re-applied).
func PreviousUsers(ctx context.Context, c *cluster.Client) []byte {
	s, err := c.Kube.CoreV1().Secrets(GitNamespace).Get(ctx, GitUsersSecret, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return s.Data["users"]
}

// GitAccounts are the in-cluster server's accounts: the installer's (push) and Flux's (read).
func GitAccounts(pushPassword string) []gitserver.Account {
	return []gitserver.Account{
		{Name: GitPushUser, Role: gitserver.RolePush, Password: pushPassword},
		{Name: GitReadUser, Role: gitserver.RoleRead, Password: ReadPassword(pushPassword)},
	}
}

// ApplyLayerDryRun says what ApplyLayer would change, changing nothing.
func ApplyLayerDryRun(ctx context.Context, c *cluster.Client, objs []*unstructured.Unstructured) ([]cluster.Change, error) {
	var apply []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "PersistentVolumeClaim" {
			apply = append(apply, o)
		}
	}
	return c.Apply(ctx, apply, cluster.ApplyOptions{DryRun: true})
}
