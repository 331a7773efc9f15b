package render

import "github.com/suitenumerique/docs-appliance/profiles"

// redisName is the Redis the OT operator runs; its Service has the same
// name, port 6379.
const redisName = "redis"

// redisHost is the Service Docs and Celery reach the cache at: the Redis itself on one server;
// under a multi-server profile the replication's master, whichever pod that is (redis-operator
// v0.26's RedisReplication keeps a <name>-master Service on the pod labelled redis-role=master,
// and relabels when its Sentinel promotes a replica).
func redisHost(p *profiles.Profile) string {
	if p.Servers > 1 {
		return redisName + "-master"
	}
	return redisName
}

// redisOperatorValues pins the operator and sizes it.
func redisOperatorValues(v *valuesContext) (map[string]any, error) {
	repo, tag, err := v.imageParts("opstree/redis-operator")
	if err != nil {
		return nil, err
	}
	op := v.Profile.Workload("operator")
	return map[string]any{
		"replicas": op.Replicas,
		"redisOperator": m{
			"imageName": repo,
			"imageTag":  tag,
			// The chart defaults to Always, which an air-gapped node cannot do.
			"imagePullPolicy": "IfNotPresent",
			// No admission webhook: it would need a certificate of its own
			// for nothing the appliance uses.
			"webhook": false,
		},
		"resources":   op.Resources(),
		"certmanager": m{"enabled": false},
	}, nil
}

// cacheComponent is Redis for Docs' cache, sessions (logout state lives
// there) and Celery's queue: one password-protected instance through the
// OT operator, persisted so a restart keeps users logged in, evicting
// only expiring keys (cache and sessions) so queued tasks are never lost.
func (r *renderer) cacheComponent(v *valuesContext) (*component, error) {
	p := v.Profile
	img, err := v.image("opstree/redis")
	if err != nil {
		return nil, err
	}
	if err := r.secretFromStore("cache", nsCache, "redis-auth", map[string]string{"password": "redis.password"}); err != nil {
		return nil, err
	}
	conf := configMap(nsCache, "redis-config", "cache", map[string]string{
		"redis-additional.conf": "maxmemory-policy volatile-lru\n",
	})
	spec := m{
		"kubernetesConfig": m{
			"image":           img,
			"imagePullPolicy": "IfNotPresent",
			"resources":       resources(p, "redis"),
			"redisSecret":     m{"name": "redis-auth", "key": "password"},
		},
		"redisConfig": m{
			"additionalRedisConfig": "redis-config",
			// Room for Redis' own overhead under the memory limit.
			"maxMemoryPercentOfLimit": 80,
		},
		"storage": m{"volumeClaimTemplate": m{"spec": m{
			"accessModes": list{"ReadWriteOnce"},
			"resources":   m{"requests": m{"storage": p.Storage.Cache}},
		}}},
		"podSecurityContext": m{
			"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 1000,
			"seccompProfile": m{"type": "RuntimeDefault"},
		},
		"securityContext": m{
			"allowPrivilegeEscalation": false,
			"capabilities":             m{"drop": list{"ALL"}},
		},
	}
	if v.observability() {
		exporter, err := v.image("opstree/redis-exporter")
		if err != nil {
			return nil, err
		}
		spec["redisExporter"] = m{
			"enabled": true, "image": exporter, "imagePullPolicy": "IfNotPresent",
			"resources": resources(p, "exporter"),
			"securityContext": m{
				"allowPrivilegeEscalation": false, "runAsNonRoot": true,
				"capabilities": m{"drop": list{"ALL"}},
			},
		}
	}
	kind := "Redis"
	// The Redis object reports no status: wait for the StatefulSet the
	// operator makes of it.
	health := []ref{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: redisName, Namespace: nsCache}}
	if p.Servers > 1 {
		if err := replicateCache(v, spec); err != nil {
			return nil, err
		}
		kind = "RedisReplication"
		health = append(health, ref{APIVersion: "apps/v1", Kind: "StatefulSet", Name: redisName + "-s", Namespace: nsCache})
	}
	redis := newObject("redis.redis.opstreelabs.in/v1beta2", kind, nsCache, redisName, "cache").with("spec", spec)
	return &component{
		Component: Component{Name: "cache", Layer: "platform", Namespace: nsCache},
		dir:       "infrastructure/cache",
		objects:   []Object{conf, redis},
		health:    health,
	}, nil
}

// replicateCache makes the cache a RedisReplication (redis-operator v0.26): one Redis per server
// (required anti-affinity on the pods the operator labels app=redis), a PodDisruptionBudget,
// and the embedded Sentinel, one per server too, that promotes a replica when the master's
// server is lost.
func replicateCache(v *valuesContext, spec m) error {
	p := v.Profile
	img, err := v.image("opstree/redis-sentinel")
	if err != nil {
		return err
	}
	anti := func(app string) m {
		return m{"podAntiAffinity": m{"requiredDuringSchedulingIgnoredDuringExecution": list{
			m{"labelSelector": m{"matchLabels": m{"app": app}}, "topologyKey": TopologyKey},
		}}}
	}
	spec["clusterSize"] = p.Workload("redis").Replicas
	spec["affinity"] = anti(redisName)
	spec["pdb"] = m{"enabled": true, "maxUnavailable": 1}
	spec["sentinel"] = m{
		"image": img, "imagePullPolicy": "IfNotPresent", "size": p.Servers,
		"resources": resources(p, "job"), "affinity": anti(redisName + "-s"),
		"redisSecret": m{"name": "redis-auth", "key": "password"},
		"securityContext": m{
			"allowPrivilegeEscalation": false,
			"capabilities":             m{"drop": list{"ALL"}},
		},
	}
	return nil
}
