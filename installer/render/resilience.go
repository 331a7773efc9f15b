package render

// How the edge rides over a lost backend pod. When a server dies, its
// pods stay in their Services' endpoints until the node lifecycle
// controller marks the node NotReady (--node-monitor-grace-period, 50 s
// upstream and in k3s); measured on the three-node e2e cluster, a third of
// requests sent straight to the Service failed for those 53 s (e2e/ha).
// Envoy, in front of every user request, can hide that window:
//   - a connection to a dead pod fails within connectTimeout (Envoy's
//     default is 10 s) instead of hanging;
//   - a request whose connection failed was never sent, so retrying it is
//     safe for any method; Envoy Gateway v1.9 adds the previous_hosts
//     retry predicate (internal/xds/translator/route.go at v1.9.0), so the
//     retry goes to another pod;
//   - passive health checking ejects the pod after its first local-origin
//     failure, so later requests skip it until the endpoints catch up. At
//     most half the pods are ejected: a lone replica is never ejected, its
//     failures reach the user as they would without the policy.
const (
	edgeConnectTimeout = "1s"
	edgeEjectionTime   = "30s"
)

// edgeResilience is the BackendTrafficPolicy spec fields that do this, for
// a route's policy.
func edgeResilience() m {
	return m{
		"retry": m{
			"numRetries": 2,
			"retryOn":    m{"triggers": list{"connect-failure", "reset-before-request", "refused-stream"}},
			"perRetry":   m{"backOff": m{"baseInterval": "50ms", "maxInterval": "500ms"}},
		},
		"timeout": m{"tcp": m{"connectTimeout": edgeConnectTimeout}},
		"healthCheck": m{"passive": m{
			"splitExternalLocalOriginErrors": true,
			"consecutiveLocalOriginFailures": 1,
			"interval":                       "1s",
			"baseEjectionTime":               edgeEjectionTime,
			"maxEjectionPercent":             50,
		}},
	}
}

// resilientRoute is a BackendTrafficPolicy giving one HTTPRoute the
// edge's resilience, plus extra spec fields (a load balancer, timeouts).
func resilientRoute(namespace, route, component string, extra m) Object {
	spec := edgeResilience()
	spec["targetRefs"] = list{m{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}}
	for k, v := range extra {
		if old, ok := spec[k].(map[string]any); ok {
			if add, ok := v.(map[string]any); ok {
				for kk, vv := range add {
					old[kk] = vv
				}
				continue
			}
		}
		spec[k] = v
	}
	return newObject("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", namespace, route, component).with("spec", spec)
}
