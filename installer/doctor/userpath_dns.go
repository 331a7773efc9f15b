package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// checkDNS: every domain resolves, and to this server. An answer that is
// not this server is a failure when none is (users reach another machine)
// and a warning when only some are not (some users do).
func checkDNS(ctx context.Context, e *Env) Finding {
	srv := e.server()
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		ips, err := e.lookup(ctx, domain)
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound, err == nil && len(ips) == 0:
			return Fail(fmt.Sprintf("add an A (or AAAA) record for %s pointing to this server (%s) at the domain's DNS provider", domain, srv),
				"%s does not resolve: DNS has no address for it", domain)
		case err != nil:
			return Fail("check that this server's DNS resolver answers (the nameserver lines of /etc/resolv.conf), or try again if the domain's DNS provider was down",
				"looking up %s: %v", domain, err)
		}
		var here, elsewhere []net.IP
		for _, ip := range ips {
			if srv.has(ip) {
				here = append(here, ip)
			} else {
				elsewhere = append(elsewhere, ip)
			}
		}
		switch {
		case len(here) == 0:
			return Fail(fmt.Sprintf("point %s's A (or AAAA) record at this server (%s); if %s is a router or load balancer that forwards ports 80 and 443 here, give it to doctor as one of this server's addresses",
				domain, srv, joinIPs(elsewhere)),
				"%s resolves to %s, which is not this server", domain, joinIPs(elsewhere))
		case len(elsewhere) > 0:
			return Warn(fmt.Sprintf("remove %s's records for %s at the domain's DNS provider, or point them at this server", domain, joinIPs(elsewhere)),
				"%s resolves to this server (%s) and also to %s: some users reach another machine", domain, joinIPs(here), joinIPs(elsewhere))
		}
		return Pass("%s resolves to this server (%s)", domain, joinIPs(here))
	})
}
