package render

import (
	"fmt"
)

// Names the edge objects agree on.
const (
	gatewayClassName = "docs-appliance"
	gatewayName      = "docs"
	envoyProxyName   = "docs-appliance"
)

// envoyGatewayValues pins the controller image (also used by its certgen
// Job and the proxies' shutdown manager) and sizes it.
func envoyGatewayValues(v *valuesContext) (map[string]any, error) {
	img, err := v.image("envoyproxy/gateway")
	if err != nil {
		return nil, err
	}
	op := v.Profile.Workload("operator")
	return map[string]any{
		"global": m{"images": m{"envoyGateway": m{"image": img, "pullPolicy": "IfNotPresent"}}},
		"deployment": m{
			"replicas":     op.Replicas,
			"envoyGateway": m{"resources": op.Resources(), "imagePullPolicy": "IfNotPresent"},
		},
		"podDisruptionBudget": m{"minAvailable": min(op.Replicas-1, 1)},
		"config": m{"envoyGateway": m{
			"gateway":  m{"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
			"provider": m{"type": "Kubernetes", "kubernetes": m{"shutdownManager": m{"image": img}}},
			"logging":  m{"level": m{"default": "info"}},
		}},
		"certgen": m{"job": m{"resources": v.Profile.Workload("job").Resources()}},
	}, nil
}

// edgeComponent is the public entry: one GatewayClass whose EnvoyProxy
// pins the Envoy image and publishes ports 80 and 443 on the node through
// k3s' ServiceLB, one Gateway terminating TLS for every appliance host,
// and the redirect of plain HTTP to HTTPS.
func edgeComponent(v *valuesContext) (*component, error) {
	cfg, p := v.Config, v.Profile
	envoy, err := v.image("envoyproxy/envoy")
	if err != nil {
		return nil, err
	}
	egNS := v.chartNamespace("gateway-helm", "envoy-gateway-system")
	w := p.Workload("envoy")
	deployment := m{
		"replicas":  w.Replicas,
		"container": m{"image": envoy, "resources": w.Resources()},
	}
	provider := m{
		"type": "Kubernetes",
		"kubernetes": m{
			"envoyDeployment": deployment,
			// ServiceLB binds the LoadBalancer's ports on every node.
			// A fixed name: doctor and probes find the edge without the hash
			// Envoy Gateway would append.
			"envoyService": m{"name": gatewayServiceName, "type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
		},
	}
	if w.Replicas > 1 {
		provider["kubernetes"].(m)["envoyPDB"] = m{"minAvailable": 1}
		// One proxy per server: losing a server loses one proxy, not the edge.
		deployment["pod"] = m{"affinity": m{"podAntiAffinity": m{"preferredDuringSchedulingIgnoredDuringExecution": list{m{
			"weight": 100,
			"podAffinityTerm": m{
				"topologyKey":   "kubernetes.io/hostname",
				"labelSelector": m{"matchLabels": m{"gateway.envoyproxy.io/owning-gateway-name": gatewayName}},
			},
		}}}}}
	}
	proxy := newObject("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy", egNS, envoyProxyName, "edge").with("spec", m{
		"provider": provider,
	})
	class := newObject("gateway.networking.k8s.io/v1", "GatewayClass", "", gatewayClassName, "edge").with("spec", m{
		"controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
		"parametersRef": m{
			"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": envoyProxyName, "namespace": egNS,
		},
	})
	gw := newObject("gateway.networking.k8s.io/v1", "Gateway", nsEdge, gatewayName, "edge").with("spec", m{
		"gatewayClassName": gatewayClassName,
		"listeners": list{
			m{
				"name": "http", "protocol": "HTTP", "port": 80,
				// Only the redirect and cert-manager's HTTP-01 solver live here.
				"allowedRoutes": m{"namespaces": m{"from": "Same"}},
			},
			m{
				"name": "https", "protocol": "HTTPS", "port": 443,
				"tls": m{"mode": "Terminate", "certificateRefs": list{m{"group": "", "kind": "Secret", "name": tlsSecret}}},
				"allowedRoutes": m{"namespaces": m{
					"from": "Selector",
					"selector": m{"matchExpressions": list{m{
						"key": "kubernetes.io/metadata.name", "operator": "In",
						"values": list{docsNamespace, v.chartNamespace("keycloak-operator-crds", nsKeycloak)},
					}}},
				}},
			},
		},
	})
	redirect := newObject("gateway.networking.k8s.io/v1", "HTTPRoute", nsEdge, "https-redirect", "edge").with("spec", m{
		"parentRefs": list{m{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gatewayName, "sectionName": "http"}},
		"hostnames":  strs(cfg.Hosts()),
		"rules": list{m{
			"filters": list{m{"type": "RequestRedirect", "requestRedirect": m{"scheme": "https", "statusCode": 301}}},
		}},
	})
	return &component{
		Component: Component{Name: "edge", Layer: "platform", Namespace: nsEdge},
		dir:       "infrastructure/edge",
		objects:   []Object{proxy, class, gw, redirect},
		health:    []ref{refOf(class), refOf(gw)},
	}, nil
}

// httpRoute attaches rules to the Gateway's https listener for hosts.
func httpRoute(namespace, name, component string, hosts []string, rules ...m) Object {
	rs := make(list, len(rules))
	for i, r := range rules {
		rs[i] = r
	}
	return newObject("gateway.networking.k8s.io/v1", "HTTPRoute", namespace, name, component).with("spec", m{
		"parentRefs": list{m{
			"group": "gateway.networking.k8s.io", "kind": "Gateway",
			"name": gatewayName, "namespace": nsEdge, "sectionName": "https",
		}},
		"hostnames": strs(hosts),
		"rules":     rs,
	})
}

// routeRule sends matches to one backend within timeout seconds (0: none,
// for websockets), telling it the client spoke HTTPS, then applying any
// further filters.
func routeRule(match m, backendRef m, timeoutSeconds int, filters ...m) m {
	fs := list{forwardedProto()}
	for _, f := range filters {
		fs = append(fs, f)
	}
	return m{
		"matches":     list{match},
		"backendRefs": list{backendRef},
		"filters":     fs,
		"timeouts":    m{"request": fmt.Sprintf("%ds", timeoutSeconds)},
	}
}

func pathPrefix(p string) m {
	return m{"path": m{"type": "PathPrefix", "value": p}}
}

func backend(service string, port int) m {
	return m{"group": "", "kind": "Service", "name": service, "port": port}
}

// forwardedProto states the scheme the client used. Django builds its
// OIDC redirect_uri and its CSRF and redirect checks from it: without it
// the redirect_uri becomes http:// and logins fail. Envoy sets it too at
// the edge; saying it in the route keeps it true whatever sits in front.
func forwardedProto() m {
	return m{"type": "RequestHeaderModifier", "requestHeaderModifier": m{
		"set": list{m{"name": "X-Forwarded-Proto", "value": "https"}},
	}}
}

func rewritePrefix(to string) m {
	return m{"type": "URLRewrite", "urlRewrite": m{"path": m{"type": "ReplacePrefixMatch", "replacePrefixMatch": to}}}
}
