package secrets

import (
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// The redactor must see the value kept aside too: it is as secret as the one in use.
func TestValuesListsInUseAndAside(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure([]config.SecretSpec{{Name: "s3.secretKey", Generated: true}}); err != nil {
		t.Fatal(err)
	}
	generated, _ := s.Get("s3.secretKey")
	s.Set("s3.secretKey", "operator-given-value")
	s.Set("smtp.password", "smtp-value-123")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := ro.Values()
	want := []Value{{Name: "s3.secretKey", Value: "operator-given-value"}, {Name: "s3.secretKey", Aside: true, Value: generated}, {Name: "smtp.password", Value: "smtp-value-123"}}
	if len(got) != len(want) {
		t.Fatalf("Values() has %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Values()[%d] = {%s aside=%v}, want {%s aside=%v} (values compared, not shown)", i, got[i].Name, got[i].Aside, want[i].Name, want[i].Aside)
		}
	}
}
