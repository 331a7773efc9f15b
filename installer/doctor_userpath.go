package installer

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// userPathFlags says how the user-path checks reach the appliance from
// the flags: which CAs a user's browser trusts for it and the server's
// public addresses. Bad flags are refused before anything is asked.
func (d *Doctor) userPathFlags(e *doctor.Env) error {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, f := range d.CAFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading --ca-file: %w", err)
		}
		if !roots.AppendCertsFromPEM(data) {
			return fmt.Errorf("reading --ca-file %s: no PEM certificate in it (give the CA certificate your users' browsers trust)", f)
		}
	}
	e.UserPath.Roots = roots
	for _, a := range d.ServerAddresses {
		ip := net.ParseIP(a)
		if ip == nil {
			return fmt.Errorf("--server-address %q is not an IP address (give the public address users reach this server at)", a)
		}
		e.UserPath.ServerAddrs = append(e.UserPath.ServerAddrs, ip)
	}
	if len(e.UserPath.ServerAddrs) > 0 {
		local, err := localAddrs()
		if err != nil {
			return err
		}
		e.UserPath.ServerAddrs = append(e.UserPath.ServerAddrs, local...)
	}
	if e.Config.Storage.Mode == config.External {
		e.UserPath.S3.Roots = roots
	}
	return nil
}

// userPathCluster adds what only the cluster knows: the appliance CA
// (tls.mode appliance-ca) and the embedded object store, reached through
// a port-forward that lives as long as life.
func (d *Doctor) userPathCluster(ctx, life context.Context, e *doctor.Env, c *cluster.Client, st *status.Status) {
	if e.Config.TLS.Mode == config.TLSApplianceCA {
		ns, name := render.ApplianceCA()
		if cm, err := c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			e.UserPath.Roots.AppendCertsFromPEM([]byte(cm.Data["ca.crt"]))
		} else {
			st.Warn("the appliance CA could not be read (%v): TLS is checked against the system's CAs only", err)
		}
	}
	if e.Config.Storage.Mode == config.External {
		return
	}
	endpoint, err := forwardObjectStore(ctx, life, c)
	if err != nil {
		st.Warn("the embedded object store could not be reached: %v", err)
		return
	}
	e.UserPath.S3.Endpoint = endpoint
}

// localAddrs are this server's interface addresses.
func localAddrs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing this server's addresses: %w", err)
	}
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out, nil
}
