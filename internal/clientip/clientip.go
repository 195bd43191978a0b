// Package clientip finds the client's address behind the reverse proxies
// an operator trusts (IAM_TRUSTED_PROXIES), for throttling and audit.
package clientip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For is believed.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDRs (a bare address is
// one host). The error names IAM_TRUSTED_PROXIES, where the list comes from.
func ParseProxies(list string) (Proxies, error) {
	var ps Proxies
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("IAM_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (ps Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the client behind remoteAddr (the TCP peer,
// host:port) and the X-Forwarded-For header lines xff. The header is
// believed only as far as it was written by trusted proxies: reading it from
// the right, the first address that is not a trusted proxy is the client.
// A peer that is not a trusted proxy is the client itself, whatever the
// header says; so is the left-most hop when every hop is trusted.
func (ps Proxies) ClientIP(remoteAddr string, xff []string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	client := peer.Unmap()
	if !ps.trusts(client) {
		return client.String()
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Not an address: nothing left of it can be believed either.
			break
		}
		client = hop.Unmap()
		if !ps.trusts(client) {
			break
		}
	}
	return client.String()
}
