package validate

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// Length bounds of the group's names, as Kubernetes sets them for a pod.
const (
	// maxHostnameFQDN bounds a hostname with dots (setHostnameAsFQDN): the
	// kernel's hostname field holds 64 characters.
	maxHostnameFQDN = 64
	// maxSubdomain bounds a DNS subdomain (RFC 1123).
	maxSubdomain = 253
)

// checkGroupHosts checks vnode's hostname, fqdn and hostAliases.
func checkGroupHosts(ext wire.GroupExtensions) *errdefs.Error {
	return first(
		func() *errdefs.Error { return checkHostname(ext.Hostname) },
		func() *errdefs.Error { return checkFQDN(ext.FQDN) },
		func() *errdefs.Error { return checkHostAliases(ext.HostAliases) },
	)
}

// checkHostname accepts an RFC 1123 label, or with dots a DNS subdomain of
// at most 64 characters; empty means the group's name.
func checkHostname(h string) *errdefs.Error {
	if h == "" {
		return nil
	}
	p := labelProblem(h, 1, 63, true)
	if strings.Contains(h, ".") {
		p = subdomainProblem(h, maxHostnameFQDN)
	}
	if p == "" {
		return nil
	}
	return errdefs.InvalidField(CodeInvalidHostname, "properties.hostname",
		"The hostname '%s' is invalid: it %s. A hostname is a DNS label of 1 to 63 lowercase letters, digits and '-' "+
			"that does not start or end with '-' (e.g. 'web-0'), or labels joined by '.' of at most %d characters "+
			"(e.g. 'web-0.web.default.svc').", h, p, maxHostnameFQDN)
}

// checkFQDN accepts a DNS subdomain; empty means none.
func checkFQDN(f string) *errdefs.Error {
	if f == "" {
		return nil
	}
	if p := subdomainProblem(f, maxSubdomain); p != "" {
		return errdefs.InvalidField(CodeInvalidFQDN, "properties.fqdn",
			"The fqdn '%s' is invalid: it %s. A fully qualified name is DNS labels of lowercase letters, digits and '-' "+
				"joined by '.', at most %d characters (e.g. 'web-0.web.default.svc.cluster.local').", f, p, maxSubdomain)
	}
	return nil
}

// checkHostAliases accepts entries with a valid IP and at least one
// hostname, each a DNS subdomain.
func checkHostAliases(aliases []wire.HostAlias) *errdefs.Error {
	for i, a := range aliases {
		at := fmt.Sprintf("properties.hostAliases[%d]", i)
		if _, err := netip.ParseAddr(a.IP); err != nil {
			return errdefs.InvalidField(CodeInvalidHostAlias, at+".ip",
				"The host alias IP '%s' is not a valid IP address. Set it to an IPv4 or IPv6 address (e.g. '10.1.2.3').", a.IP)
		}
		if len(a.Hostnames) == 0 {
			return errdefs.InvalidField(CodeInvalidHostAlias, at+".hostnames",
				"The host alias for '%s' has no hostnames. List at least one name for the address.", a.IP)
		}
		for j, h := range a.Hostnames {
			if p := subdomainProblem(h, maxSubdomain); p != "" {
				return errdefs.InvalidField(CodeInvalidHostAlias, fmt.Sprintf("%s.hostnames[%d]", at, j),
					"The host alias hostname '%s' is invalid: it %s. A hostname is DNS labels of lowercase letters, "+
						"digits and '-' joined by '.' (e.g. 'db.local').", h, p)
			}
		}
	}
	return nil
}
