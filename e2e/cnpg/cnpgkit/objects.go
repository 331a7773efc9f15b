package cnpgkit

import (
	"crypto/rand"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type m = map[string]any

// Credentials keys of the Secret an ObjectStore reads (the keys the appliance's store uses).
const (
	keyAccessKeyID     = "ACCESS_KEY_ID"
	keySecretAccessKey = "ACCESS_SECRET_KEY"
)

// CredentialsSecret is the Secret holding s's keys, for ObjectStore.
func (s *S3) CredentialsSecret(namespace, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m{
		"apiVersion": "v1", "kind": "Secret", "metadata": m{"name": name, "namespace": namespace},
		"stringData": m{keyAccessKeyID: s.AccessKey, keySecretAccessKey: s.SecretKey},
	}}
}

// ObjectStore is a barman-cloud ObjectStore writing to destination (s3://bucket/path/) at endpoint
// with the keys in Secret credentials (CredentialsSecret), compressed with gzip as the appliance
// renders it.
func ObjectStore(namespace, name, endpoint, destination, credentials string) *unstructured.Unstructured {
	ref := func(key string) m { return m{"name": credentials, "key": key} }
	return &unstructured.Unstructured{Object: m{
		"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
		"metadata": m{"name": name, "namespace": namespace},
		"spec": m{"configuration": m{
			"destinationPath": destination, "endpointURL": endpoint,
			"s3Credentials": m{"accessKeyId": ref(keyAccessKeyID), "secretAccessKey": ref(keySecretAccessKey)},
			"data":          m{"compression": "gzip", "jobs": int64(2)},
			"wal":           m{"compression": "gzip", "maxParallel": int64(2)},
		}},
	}}
}

// Cluster is a CloudNativePG Cluster archiving its WAL through the barman-cloud plugin to Store.
type Cluster struct {
	Namespace, Name string
	Image           string // the PostgreSQL image (Kit.PostgresImage)
	Instances       int64  // default 1
	Store           string // the ObjectStore's name
	// ServerName is the folder under the store's destination the cluster archives to; default Name.
	// A recovered cluster must not archive where its origin does ("Expected empty archive").
	ServerName string
	// StorageClass and Size of each instance's volume (see Volumes); default StorageClass, 1Gi.
	StorageClass, Size string
	// RecoverFrom, when set, bootstraps the cluster from the newest backup of that server name in
	// Store (bootstrap.recovery through the plugin) instead of initdb.
	RecoverFrom string
}

// Object is the Cluster as an object to apply.
func (c Cluster) Object() *unstructured.Unstructured {
	if c.Instances == 0 {
		c.Instances = 1
	}
	if c.ServerName == "" {
		c.ServerName = c.Name
	}
	if c.StorageClass == "" {
		c.StorageClass = StorageClass
	}
	if c.Size == "" {
		c.Size = "1Gi"
	}
	spec := m{
		"instances": c.Instances, "imageName": c.Image, "imagePullPolicy": "IfNotPresent",
		"storage": m{"size": c.Size, "storageClass": c.StorageClass},
		"plugins": []any{m{"name": PluginName, "isWALArchiver": true,
			"parameters": m{"barmanObjectName": c.Store, "serverName": c.ServerName}}},
		"postgresql": m{"parameters": m{"archive_timeout": "5min"}},
	}
	if c.RecoverFrom != "" {
		spec["bootstrap"] = m{"recovery": m{"source": "origin"}}
		spec["externalClusters"] = []any{m{"name": "origin", "plugin": m{"name": PluginName,
			"parameters": m{"barmanObjectName": c.Store, "serverName": c.RecoverFrom}}}}
	}
	return &unstructured.Unstructured{Object: m{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": m{"name": c.Name, "namespace": c.Namespace}, "spec": spec,
	}}
}

// Backup asks for a base backup of cluster through the plugin (method plugin), as the appliance's
// ScheduledBackup does.
func Backup(namespace, name, cluster string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
		"metadata": m{"name": name, "namespace": namespace},
		"spec": m{"cluster": m{"name": cluster}, "method": "plugin",
			"pluginConfiguration": m{"name": PluginName}},
	}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
