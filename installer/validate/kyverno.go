package validate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// policyRule is one validate rule of a Kyverno ClusterPolicy, on pods, as far as it is enforced.
type policyRule struct {
	id      string // kyverno/POLICY/RULE
	message string
	// enforceAll: Enforce everywhere but in audit; else Enforce only in enforceIn.
	enforceAll          bool
	enforceIn, auditIn  []string
	matchNS, excludeNS  []string
	pattern, anyPattern []any
	podSecurity         *psaapi.LevelVersion
}

var errUnsupported = errors.New("unsupported")

// policyRules reads the Enforce validate rules on pods of the ClusterPolicies among objs; rules it
// cannot evaluate offline are listed in rep.NotEvaluated.
func policyRules(objs []object, rep *Report) []policyRule {
	var out []policyRule
	for _, o := range objs {
		if o.key.group != "kyverno.io" || o.key.kind != "ClusterPolicy" {
			continue
		}
		spec, _ := o.obj["spec"].(map[string]any)
		legacy, _ := spec["validationFailureAction"].(string)
		rules, _ := spec["rules"].([]any)
		for _, r := range rules {
			rm, _ := r.(map[string]any)
			name, _ := rm["name"].(string)
			v, ok := rm["validate"].(map[string]any)
			if !ok {
				continue // mutate and generate rules refuse nothing
			}
			pr := policyRule{id: RuleKyvernoPrefix + o.key.name + "/" + name}
			pr.message, _ = v["message"].(string)
			kinds, ns, err := resourceFilter(rm["match"])
			if err == nil && slices.Contains(kinds, "Pod") {
				pr.matchNS = ns
				_, pr.excludeNS, err = resourceFilter(rm["exclude"])
			} else if err == nil {
				continue // not a rule on pods
			}
			if err == nil {
				err = pr.readValidate(v, legacy)
			}
			if err != nil {
				rep.NotEvaluated = append(rep.NotEvaluated, pr.id+": "+err.Error())
				continue
			}
			if pr.enforceAll || len(pr.enforceIn) > 0 {
				out = append(out, pr)
			}
		}
	}
	return out
}

func (pr *policyRule) readValidate(v map[string]any, legacy string) error {
	action, _ := v["failureAction"].(string)
	if action == "" {
		action = legacy
	}
	pr.enforceAll = strings.EqualFold(action, "Enforce")
	overrides, _ := v["failureActionOverrides"].([]any)
	for _, ov := range overrides {
		om, _ := ov.(map[string]any)
		a, _ := om["action"].(string)
		ns := strs(om["namespaces"])
		if strings.EqualFold(a, "Enforce") {
			pr.enforceIn = append(pr.enforceIn, ns...)
		} else {
			pr.auditIn = append(pr.auditIn, ns...)
		}
	}
	for k := range v {
		switch k {
		case "failureAction", "failureActionOverrides", "message", "allowExistingViolations":
		case "pattern":
			pr.pattern = []any{v[k]}
			if s := patternSupported(v[k]); s != "" {
				return fmt.Errorf("pattern with %s: %w", s, errUnsupported)
			}
		case "anyPattern":
			pr.anyPattern, _ = v[k].([]any)
			if s := patternSupported(v[k]); s != "" {
				return fmt.Errorf("anyPattern with %s: %w", s, errUnsupported)
			}
		case "podSecurity":
			ps, _ := v[k].(map[string]any)
			if ex, _ := ps["exclude"].([]any); len(ex) > 0 {
				return fmt.Errorf("podSecurity exclusions: %w", errUnsupported)
			}
			level, err := psaapi.ParseLevel(fmt.Sprint(ps["level"]))
			if err != nil {
				return err
			}
			version := "latest"
			if s, ok := ps["version"].(string); ok && s != "" {
				version = s
			}
			ver, err := psaapi.ParseVersion(version)
			if err != nil {
				return err
			}
			pr.podSecurity = &psaapi.LevelVersion{Level: level, Version: ver}
		default:
			return fmt.Errorf("validate.%s: %w", k, errUnsupported)
		}
	}
	return nil
}

// resourceFilter reads the kinds and namespaces of a match or exclude block: any/all lists or the
// older single resources; any other criterion is not evaluated offline.
func resourceFilter(v any) (kinds, namespaces []string, err error) {
	m, _ := v.(map[string]any)
	var blocks []any
	for k, val := range m {
		switch k {
		case "any", "all":
			l, _ := val.([]any)
			blocks = append(blocks, l...)
		case "resources":
			blocks = append(blocks, map[string]any{"resources": val})
		default:
			return nil, nil, fmt.Errorf("match/exclude %s: %w", k, errUnsupported)
		}
	}
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		res, _ := bm["resources"].(map[string]any)
		if len(bm) != 1 || res == nil {
			return nil, nil, fmt.Errorf("match/exclude criteria beyond resources: %w", errUnsupported)
		}
		for k, val := range res {
			switch k {
			case "kinds":
				kinds = append(kinds, strs(val)...)
			case "namespaces":
				namespaces = append(namespaces, strs(val)...)
			default:
				return nil, nil, fmt.Errorf("resources.%s: %w", k, errUnsupported)
			}
		}
	}
	return kinds, namespaces, nil
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// enforcedIn reports whether the rule refuses pods of namespace ns.
func (pr *policyRule) enforcedIn(ns string) bool {
	if len(pr.matchNS) > 0 && !slices.ContainsFunc(pr.matchNS, func(p string) bool { return globMatch(p, ns) }) {
		return false
	}
	if slices.ContainsFunc(pr.excludeNS, func(p string) bool { return globMatch(p, ns) }) {
		return false
	}
	if slices.Contains(pr.enforceIn, ns) {
		return true
	}
	return pr.enforceAll && !slices.Contains(pr.auditIn, ns)
}

// podOf is the pod an object makes, as Kyverno's autogen sees it: a Pod itself, or the pod
// template of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob).
func podOf(o object) map[string]any {
	if o.key.group == "" && o.key.kind == "Pod" {
		return o.obj
	}
	if o.key.group != "apps" && o.key.group != "batch" {
		return nil
	}
	spec, _ := o.obj["spec"].(map[string]any)
	if jt, ok := spec["jobTemplate"].(map[string]any); ok {
		spec, _ = jt["spec"].(map[string]any)
	}
	tpl, _ := spec["template"].(map[string]any)
	return tpl
}

var psaEvaluator = sync.OnceValues(func() (psapolicy.Evaluator, error) {
	return psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
})

// checkPolicies evaluates the enforced rules against the pod an object makes.
func checkPolicies(o object, rules []policyRule, rep *Report) {
	pod := podOf(o)
	if pod == nil || len(rules) == 0 {
		return
	}
	for _, pr := range rules {
		if !pr.enforcedIn(o.key.namespace) {
			continue
		}
		msg, failed := pr.evaluate(pod)
		if !failed {
			continue
		}
		rep.add(Finding{File: o.file, Object: o.key.String(), Rule: pr.id,
			Message: strings.TrimSpace("Kyverno refuses its pods: " + msg),
			Fix:     "change the pod template to meet the policy (or change the policy in the repository, if the rule is wrong for this namespace)"})
	}
}

func (pr *policyRule) evaluate(pod map[string]any) (string, bool) {
	if pr.podSecurity != nil {
		var p corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(pod, &p); err != nil {
			return "the pod template does not decode: " + err.Error(), true
		}
		ev, err := psaEvaluator()
		if err != nil {
			return err.Error(), true
		}
		agg := psapolicy.AggregateCheckResults(ev.EvaluatePod(*pr.podSecurity, &metav1.ObjectMeta{}, &p.Spec))
		if !agg.Allowed {
			return fmt.Sprintf("Pod Security %q: %s", pr.podSecurity.Level, agg.ForbiddenDetail()), true
		}
	}
	if len(pr.pattern) > 0 {
		if path, ok := matchPattern(pr.pattern[0], pod, ""); !ok {
			return pr.message + " (at " + strings.TrimPrefix(path, ".") + ")", true
		}
	}
	if len(pr.anyPattern) > 0 {
		for _, p := range pr.anyPattern {
			if _, ok := matchPattern(p, pod, ""); ok {
				return "", false
			}
		}
		return pr.message, true
	}
	return "", false
}
