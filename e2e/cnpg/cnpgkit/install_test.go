package cnpgkit

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const operatorShape = `apiVersion: apps/v1
kind: Deployment
metadata: {name: cnpg-controller-manager, namespace: cnpg-system}
spec:
  template:
    spec:
      containers:
      - name: manager
        image: ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0
        imagePullPolicy: Always
        resources:
          limits: {cpu: 100m, memory: 200Mi}
          requests: {cpu: 100m, memory: 100Mi}
`

func TestOperatorObjectsNeverPullAndAreNotThrottled(t *testing.T) {
	objs, err := operatorObjects([]byte(operatorShape))
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["imagePullPolicy"] != "IfNotPresent" || c["image"] != "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0" {
		t.Errorf("container %v", c)
	}
	if _, has, _ := unstructured.NestedString(c, "resources", "limits", "cpu"); has {
		t.Error("the CPU limit is still there")
	}
	if mem, _, _ := unstructured.NestedString(c, "resources", "limits", "memory"); mem != "200Mi" {
		t.Errorf("the memory limit changed: %q", mem)
	}
	if _, err := operatorObjects([]byte(strings.Replace(operatorShape, "cnpg-controller-manager", "other", 1))); err == nil {
		t.Error("a manifest without the operator's Deployment was accepted")
	}
}
