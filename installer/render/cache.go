package render

// redisName is the Redis the OT operator runs; its Service has the same
// name, port 6379.
const redisName = "redis"

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
	redis := newObject("redis.redis.opstreelabs.in/v1beta2", "Redis", nsCache, redisName, "cache").with("spec", spec)
	return &component{
		Component: Component{Name: "cache", Layer: "platform", Namespace: nsCache},
		dir:       "infrastructure/cache",
		objects:   []Object{conf, redis},
		// The Redis object reports no status: wait for the StatefulSet the
		// operator makes of it.
		health: []ref{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: redisName, Namespace: nsCache}},
	}, nil
}
