package render

import (
	"fmt"
	"net/url"
	"strings"
)

// docsProxyObjects is a small nginx doing what upstream's production
// nginx template does for /media: ask the backend whether the cookie may
// read the file (auth_request to /api/v1.0/documents/media-auth/ with
// X-Original-URL), then fetch it from S3 with the SigV4 headers the
// backend answered, path-style (/<bucket>/<key>) and with the Host the
// signature covers. Envoy Gateway's extAuth cannot: it forwards the
// original path to the auth service instead of X-Original-URL and cannot
// rewrite the S3 path from the auth answer. Anonymous reads get 403.
//
// A second server is y-provider's door to the backend: it adds
// X-Forwarded-Proto: https and the public Host (docs #2541).
func docsProxyObjects(v *valuesContext) ([]Object, error) {
	cfg := v.Config
	img, err := v.image("nginxinc/nginx-unprivileged")
	if err != nil {
		return nil, err
	}
	conf := nginxConfig(cfg.Domain, s3Endpoint(cfg), cfg.Storage.Bucket,
		fmt.Sprintf("http://%s", svcHost(docsFullname+"-backend", docsNamespace)))
	w := v.Profile.Workload("media-proxy")
	cm := configMap(docsNamespace, docsProxy, "docs", map[string]string{"default.conf": conf})
	probe := func() m {
		return m{"httpGet": m{"path": "/healthz", "port": "media"}, "periodSeconds": 10, "timeoutSeconds": 3}
	}
	deploy := newObject("apps/v1", "Deployment", docsNamespace, docsProxy, "docs").with("spec", m{
		"replicas": w.Replicas,
		"selector": m{"matchLabels": selectorFor(docsProxy)},
		"template": m{
			"metadata": m{
				"labels": labelsFor("docs", docsProxy),
				// A changed configuration rolls the pods (nginx reads it once).
				"annotations": m{"docs-appliance/config-hash": shortHash(conf)},
			},
			"spec": m{
				"automountServiceAccountToken": false,
				"securityContext":              restrictedPod(101),
				"containers": list{m{
					"name":            "nginx",
					"image":           img,
					"imagePullPolicy": "IfNotPresent",
					"ports": list{
						m{"name": "media", "containerPort": proxyMediaPort, "protocol": "TCP"},
						m{"name": "backend", "containerPort": proxyBackendPort, "protocol": "TCP"},
					},
					"readinessProbe":  probe(),
					"livenessProbe":   probe(),
					"resources":       w.Resources(),
					"securityContext": restrictedContainer(),
					"volumeMounts": list{
						m{"name": "conf", "mountPath": "/etc/nginx/conf.d", "readOnly": true},
						tmpMount(),
					},
				}},
				"volumes": list{
					m{"name": "conf", "configMap": m{"name": docsProxy}},
					tmpVolume(),
				},
			},
		},
	})
	if v.Profile.Servers > 1 {
		if err := spreadAcrossServers(deploy); err != nil {
			return nil, err
		}
	}
	if err := stopGracefully(deploy); err != nil {
		return nil, err
	}
	svc := service(docsNamespace, docsProxy, "docs", port("media", proxyMediaPort), port("backend", proxyBackendPort))
	objs := []Object{cm, deploy, svc}
	if w.Replicas > 1 {
		objs = append(objs, newObject("policy/v1", "PodDisruptionBudget", docsNamespace, docsProxy, "docs").with("spec", m{
			"minAvailable": 1, "selector": m{"matchLabels": selectorFor(docsProxy)},
		}))
	}
	return objs, nil
}

// nginxConfig is docs-proxy's configuration. s3 is the endpoint the
// backend signs for (scheme://host[:port]); its host, port included, is
// the Host header the signature covers.
func nginxConfig(domain, s3, bucket, backendURL string) string {
	u, _ := url.Parse(s3)
	var tls string
	if u.Scheme == "https" {
		tls = fmt.Sprintf("        proxy_ssl_server_name on;\n        proxy_ssl_name %s;\n        proxy_ssl_verify on;\n        proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;\n", u.Hostname())
	}
	return fmt.Sprintf(`# docs-proxy: media behind Docs' authorization, and y-provider's door to
# the backend. Rendered by docs-appliance.
server {
    listen %[1]d;
    server_tokens off;
    client_max_body_size 1m;

    location = /healthz {
        access_log off;
        return 200 "ok\n";
    }

    location /media/ {
        auth_request /media-auth;
        auth_request_set $auth_header $upstream_http_authorization;
        auth_request_set $auth_date $upstream_http_x_amz_date;
        auth_request_set $auth_content_sha256 $upstream_http_x_amz_content_sha256;

        proxy_set_header Authorization $auth_header;
        proxy_set_header X-Amz-Date $auth_date;
        proxy_set_header X-Amz-Content-SHA256 $auth_content_sha256;
        proxy_set_header Cookie "";

        # Path-style: /media/<key> becomes /<bucket>/<key>.
        proxy_pass %[2]s/%[3]s/;
        proxy_set_header Host %[4]s;
%[5]s
        proxy_hide_header Set-Cookie;
        add_header Content-Security-Policy "default-src 'none'" always;
    }

    location = /media-auth {
        internal;
        proxy_pass %[6]s/api/v1.0/documents/media-auth/;
        proxy_set_header Host %[7]s;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Original-URL $request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
}

server {
    listen %[8]d;
    server_tokens off;
    client_max_body_size 10m;

    location / {
        proxy_pass %[6]s;
        proxy_set_header Host %[7]s;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_redirect off;
    }
}
`, proxyMediaPort, strings.TrimSuffix(s3, "/"), bucket, u.Host, tls, backendURL, domain, proxyBackendPort)
}
