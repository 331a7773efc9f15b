package cnpgkit

import (
	"crypto/rand"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type m = map[string]any

// probeCluster is a minimal Cluster archiving through the plugin to store: the object
// waitWebhook sends as a server-side dry run, which passes only once the operator's admission
// webhooks answer.
func probeCluster(namespace, name, image, store string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": m{"name": name, "namespace": namespace},
		"spec": m{
			"instances": int64(1), "imageName": image, "imagePullPolicy": "IfNotPresent",
			"storage": m{"size": "1Gi"},
			"plugins": []any{m{"name": PluginName, "isWALArchiver": true,
				"parameters": m{"barmanObjectName": store, "serverName": name}}},
		},
	}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
