package bundles

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// WritePins writes the digests of locked, and the appVersion and
// subcharts of its charts, into the train file data, keeping its comments
// and order (make lock edits the file people review). Every other field is
// left as written.
func WritePins(data []byte, locked *Train) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing train YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parsing train YAML: the document is not a mapping")
	}
	root := doc.Content[0]
	images := mapValue(root, "images")
	if images == nil || len(images.Content) != len(locked.Images) {
		return nil, fmt.Errorf("writing pins: the file's images do not match the train's")
	}
	for i, item := range images.Content {
		if ref := mapValue(item, "reference"); ref == nil || ref.Value != locked.Images[i].Reference {
			return nil, fmt.Errorf("writing pins: images[%d] is not %s", i, locked.Images[i].Reference)
		}
		if d := locked.Images[i].Digest; d != "" {
			setScalar(item, "digest", d)
		}
	}
	charts := mapValue(root, "charts")
	if charts == nil || len(charts.Content) != len(locked.Charts) {
		return nil, fmt.Errorf("writing pins: the file's charts do not match the train's")
	}
	for i, item := range charts.Content {
		if n := mapValue(item, "name"); n == nil || n.Value != locked.Charts[i].Name {
			return nil, fmt.Errorf("writing pins: charts[%d] is not %s", i, locked.Charts[i].Name)
		}
		if s := locked.Charts[i].SHA256; s != "" {
			setScalar(item, "sha256", s)
		}
		if a := locked.Charts[i].AppVersion; a != "" {
			setScalar(item, "appVersion", a)
		}
		if subs := locked.Charts[i].Subcharts; len(subs) > 0 {
			setSubcharts(item, subs)
		}
	}
	arts := mapValue(mapValue(root, "k3s"), "artifacts")
	for arch, a := range locked.K3s.Artifacts {
		node := mapValue(arts, arch)
		if node == nil {
			return nil, fmt.Errorf("writing pins: k3s.artifacts.%s is not in the file", arch)
		}
		if a.BinarySHA256 != "" {
			setScalar(node, "binarySHA256", a.BinarySHA256)
		}
		if a.AirgapImagesSHA256 != "" {
			setScalar(node, "airgapImagesSHA256", a.AirgapImagesSHA256)
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encoding train YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding train YAML: %w", err)
	}
	// The result must still be the same train, now locked as given.
	back, err := ParseTrain(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("writing pins: the rewritten file does not load: %w", err)
	}
	if len(back.Unlocked()) != len(locked.Unlocked()) {
		return nil, fmt.Errorf("writing pins: the rewritten file lost pins")
	}
	for i := range back.Charts {
		if back.Charts[i].AppVersion != locked.Charts[i].AppVersion || !sameSubcharts(back.Charts[i].Subcharts, locked.Charts[i].Subcharts) {
			return nil, fmt.Errorf("writing pins: the rewritten file lost charts[%d]'s appVersion or subcharts", i)
		}
	}
	return out.Bytes(), nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setScalar(m *yaml.Node, key, value string) {
	if v := mapValue(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", value, yaml.DoubleQuotedStyle
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle})
}

// setSubcharts writes a chart's subcharts as one flow mapping a line:
// {name: grafana, version: 12.11.1, appVersion: 13.2.0}.
func setSubcharts(m *yaml.Node, subs []Subchart) {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range subs {
		item := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
		for _, kv := range [][2]string{{"name", s.Name}, {"version", s.Version}, {"appVersion", s.AppVersion}} {
			if kv[1] == "" {
				continue
			}
			item.Content = append(item.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[0]},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[1], Style: yaml.DoubleQuotedStyle})
		}
		seq.Content = append(seq.Content, item)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "subcharts" {
			m.Content[i+1] = seq
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "subcharts"}, seq)
}
