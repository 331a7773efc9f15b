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
