package bundles

import (
	"strings"
	"testing"
)

func TestWritePinsKeepsCommentsAndFillsDigests(t *testing.T) {
	in := strings.Replace(goodTrain, `, digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"`, ``, 1)
	in = "# the train people review\n" + in
	tr, err := ParseTrain([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	locked := *tr
	locked.Images = append([]Image(nil), tr.Images...)
	locked.Images[0].Digest = "sha256:" + strings.Repeat("a", 64)
	locked.Charts = append([]Chart(nil), tr.Charts...)
	locked.Charts[0].SHA256 = strings.Repeat("b", 64)
	locked.K3s.Artifacts = map[string]K3sArtifacts{"amd64": {BinaryURL: "https://x/k3s", AirgapImagesURL: "https://x/a.tar.zst", BinarySHA256: strings.Repeat("c", 64), AirgapImagesSHA256: strings.Repeat("d", 64)}}
	out, err := WritePins([]byte(in), &locked)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTrain(out)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Locked() {
		t.Fatalf("still unlocked: %v\n%s", back.Unlocked(), out)
	}
	if back.Images[0].Digest != locked.Images[0].Digest || back.Charts[0].SHA256 != locked.Charts[0].SHA256 {
		t.Fatalf("pins not written:\n%s", out)
	}
	if !strings.Contains(string(out), "# the train people review") {
		t.Fatalf("comments lost:\n%s", out)
	}
	// A file whose images differ from the train is refused.
	other := locked
	other.Images = append([]Image{{Reference: "docker.io/x/y:v1"}}, locked.Images[1:]...)
	if _, err := WritePins([]byte(in), &other); err == nil {
		t.Fatal("mismatched train accepted")
	}
}

// TestWritePinsKeepsTrain202611Reviewable locks the real train file with
// made-up pins: it still loads, keeps its comments and the reasons it
// shares between images, and records the charts' facts in place.
func TestWritePinsKeepsTrain202611Reviewable(t *testing.T) {
	data, err := embeddedTrains.ReadFile("trains/2026.11.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrain(data)
	if err != nil {
		t.Fatal(err)
	}
	locked := *tr
	locked.Charts = append([]Chart(nil), tr.Charts...)
	locked.Images = append([]Image(nil), tr.Images...)
	locked.K3s.Artifacts = map[string]K3sArtifacts{}
	for a, art := range tr.K3s.Artifacts {
		art.BinarySHA256, art.AirgapImagesSHA256 = strings.Repeat("c", 64), strings.Repeat("d", 64)
		locked.K3s.Artifacts[a] = art
	}
	for i := range locked.Images {
		locked.Images[i].Digest = "sha256:" + strings.Repeat("a", 64)
	}
	for i := range locked.Charts {
		locked.Charts[i].SHA256 = strings.Repeat("b", 64)
	}
	// make lock records what kyverno's archive holds.
	k := -1
	for i, c := range locked.Charts {
		if c.Name == "kyverno" {
			k = i
		}
	}
	locked.RecordChartMeta(k, &ChartMeta{Name: "kyverno", Version: "3.9.0", AppVersion: "v1.19.0", Subcharts: []Subchart{{Name: "crds", Version: "3.9.0"}}})
	out, err := WritePins(data, &locked)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTrain(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !back.Locked() || !sameSubcharts(back.Charts[k].Subcharts, locked.Charts[k].Subcharts) {
		t.Fatalf("not locked as given:\n%s", out)
	}
	for _, want := range []string{"# Charts and images agree", "appVersionMismatch: &barman014", "appVersionMismatch: *barman014", `- {name: "crds", version: "3.9.0"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the locked file lacks %q", want)
		}
	}
}
