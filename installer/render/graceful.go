package render

// StopDelaySeconds is how long a web pod of Docs keeps serving once it is asked to stop (a
// drain, a rolling update, a scale-down), before its process gets SIGTERM: the pod leaves its
// Service's endpoints at once, but kube-proxy on every node and the gateway drop it from their
// tables only on their next sync. Without the delay, requests sent in that window find the
// process gone (refused) or the pod's address gone (a timeout): e2e/ha measured 10 of 330
// requests failing during a rollout of three nodes whose app stopped at once, and with a 5 s
// delay still 5 of 464 on a machine busy enough that kube-proxy synced late; 10 s leaves the
// gateway's own endpoint updates room too.
const StopDelaySeconds = 10

// stopGracefully gives each container of a web workload a preStop sleep of StopDelaySeconds
// (the kubelet's own sleep action: no shell needed in the image), unless the chart set a
// preStop, and makes room for it in the grace period: the delay plus the 30 s the process had.
func stopGracefully(o Object) error {
	ps, err := podSpec(o)
	if err != nil {
		return err
	}
	for _, c := range containers(ps, "containers") {
		lc, _ := c["lifecycle"].(map[string]any)
		if lc == nil {
			lc = m{}
			c["lifecycle"] = lc
		}
		if _, set := lc["preStop"]; !set {
			lc["preStop"] = m{"sleep": m{"seconds": StopDelaySeconds}}
		}
	}
	grace := 30
	switch g := ps["terminationGracePeriodSeconds"].(type) {
	case int:
		grace = g
	case int64:
		grace = int(g)
	case float64:
		grace = int(g)
	}
	if grace < 30+StopDelaySeconds {
		ps["terminationGracePeriodSeconds"] = 30 + StopDelaySeconds
	}
	return nil
}

// stopDocsGracefully applies stopGracefully to the Docs chart's web workloads under every
// profile: a single server's rolling update during an upgrade stops pods too.
func stopDocsGracefully(find func(kind, name string) (Object, error)) error {
	for _, suffix := range spreadWorkloads {
		o, err := find("Deployment", docsFullname+suffix)
		if err != nil {
			return err
		}
		if err := stopGracefully(o); err != nil {
			return err
		}
	}
	return nil
}
