package supportbundle

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// A long ConfigMap value is cut at maxConfigValue: a secret across the cut
// must be hidden whole, not leave its first bytes before the cut.
func TestConfigMapCutNeverSplitsASecret(t *testing.T) {
	secret := randomValue(t, 40)
	r := NewRedactor()
	r.AddSecret("secret-store s3.secretKey", secret)
	value := strings.Repeat("x", maxConfigValue-12) + " " + secret + strings.Repeat("y", 1000)
	o := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"big": value, "small": "keep"}}}
	capValues(o, r)
	got, _, _ := unstructured.NestedString(o.Object, "data", "big")
	for _, part := range []string{secret[:11], secret[len(secret)-11:]} {
		if strings.Contains(got, part) {
			t.Fatalf("a piece of the secret survived the cut")
		}
	}
	if !strings.Contains(got, "[support bundle: cut,") {
		t.Fatalf("the cut is not said")
	}
	if small, _, _ := unstructured.NestedString(o.Object, "data", "small"); small != "keep" {
		t.Fatalf("a short value changed: %q", small)
	}
}
