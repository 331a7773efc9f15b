package realcharts

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Rejection is one thing a real cluster, Flux or an air-gapped node would
// refuse.
type Rejection struct {
	// Check is render, dry-run, sops, reference, image or chart.
	Check string
	// Object names what is refused: "Kind namespace/name", a file, a chart.
	Object  string
	Message string
}

// VariantResult is what the gate found for one variant.
type VariantResult struct {
	Variant
	// Refused is set for a combination the config must refuse (ACME when
	// air-gapped): the field error it gave.
	Refused string
	// SameAs names the variant whose render this one's is byte for byte;
	// it is not checked again.
	SameAs string
	// Objects sent to the API server (namespaces included), CRDs applied,
	// encrypted files decrypted, references resolved (RuntimeRefs of them
	// to objects made at run time), distinct images used, API warnings.
	// Pods are the workloads' pods sent through pod admission.
	Objects, CRDs, Pods, Decrypted, Refs, RuntimeRefs, Images, Warnings int
	Rejections                                                          []Rejection
	// WarningsBy are the API server's warnings (not rejections), each with
	// the objects that drew it.
	WarningsBy map[string][]string
}

func (r *VariantResult) warn(object, text string) {
	if r.WarningsBy == nil {
		r.WarningsBy = map[string][]string{}
	}
	r.WarningsBy[text] = append(r.WarningsBy[text], object)
	r.Warnings++
}

func (r *VariantResult) reject(check, object, msg string) {
	r.Rejections = append(r.Rejections, Rejection{Check: check, Object: object, Message: msg})
}

// Report is the gate's result.
type Report struct {
	Train string
	// Charts is the check of every chart archive against the train.
	Charts   []Rejection
	NCharts  int
	Variants []*VariantResult
}

// Rejected counts every rejection.
func (r *Report) Rejected() int {
	n := len(r.Charts)
	for _, v := range r.Variants {
		n += len(v.Rejections)
	}
	return n
}

// WriteTable prints the variants × objects × rejections table, then every
// rejection, then the API server's warnings.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "train %s: %d chart archives, %d variants\n\n", r.Train, r.NCharts, len(r.Variants))
	fmt.Fprintln(tw, "variant\tobjects\tCRDs\tpods\tsops files\trefs (run time)\timages\twarnings\trejections\tnote")
	for _, v := range r.Variants {
		switch {
		case v.Refused != "":
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t%d\trefused by the config, as it must be: %s\n", v.Name(), len(v.Rejections), v.Refused)
		case v.SameAs != "":
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t=\trenders byte for byte as %s: not checked again\n", v.Name(), v.SameAs)
		case v.Objects == 0:
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t%d\tnot rendered\n", v.Name(), len(v.Rejections))
		default:
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d (%d)\t%d\t%d\t%d\t\n", v.Name(), v.Objects, v.CRDs, v.Pods, v.Decrypted, v.Refs, v.RuntimeRefs, v.Images, v.Warnings, len(v.Rejections))
		}
	}
	fmt.Fprintf(tw, "charts vs train\t%d\t\t\t\t\t\t\t%d\tarchives against the train's pins and linked images\n", r.NCharts, len(r.Charts))
	tw.Flush()
	fmt.Fprintf(w, "\n%d rejections\n", r.Rejected())
	print := func(name string, rejs []Rejection) {
		if len(rejs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", name)
		for _, j := range rejs {
			fmt.Fprintf(w, "  [%s] %s: %s\n", j.Check, j.Object, strings.TrimSpace(j.Message))
		}
	}
	print("charts vs train "+r.Train, r.Charts)
	for _, v := range r.Variants {
		print(v.Name(), v.Rejections)
	}
	r.writeWarnings(w)
}

// writeWarnings lists each distinct API warning once, with the objects
// that drew it and in how many variants.
func (r *Report) writeWarnings(w io.Writer) {
	objects := map[string]map[string]bool{}
	variants := map[string]int{}
	for _, v := range r.Variants {
		for t, objs := range v.WarningsBy {
			if objects[t] == nil {
				objects[t] = map[string]bool{}
			}
			for _, o := range objs {
				objects[t][o] = true
			}
			variants[t]++
		}
	}
	if len(objects) == 0 {
		return
	}
	texts := make([]string, 0, len(objects))
	for t := range objects {
		texts = append(texts, t)
	}
	sort.Strings(texts)
	fmt.Fprintf(w, "\nAPI warnings (not rejections: the restricted level is warned, the enforced level is checked on pods):\n")
	for _, t := range texts {
		objs := make([]string, 0, len(objects[t]))
		for o := range objects[t] {
			objs = append(objs, o)
		}
		sort.Strings(objs)
		fmt.Fprintf(w, "  %s\n    on %s, in %d variants\n", t, strings.Join(objs, ", "), variants[t])
	}
}
