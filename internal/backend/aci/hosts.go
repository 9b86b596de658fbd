package aci

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/wire"
)

// maxHostnameLen is the longest hostname Linux accepts.
const maxHostnameLen = 64

// setHosts gives the group the pod's hostname, the FQDN of a pod with a
// subdomain and its host aliases, as the kubelet sets them, when the
// service can (else the aliases are dropped with a warning).
func (s *groupSpec) setHosts(pod *corev1.Pod, o convertOptions) {
	if !o.hosts {
		if len(pod.Spec.HostAliases) > 0 {
			s.warnings = append(s.warnings, "hostAliases dropped: container instances cannot add /etc/hosts entries")
		}
		return
	}
	hostname, fqdn := podHostname(pod, o.dns.domain())
	s.ext.Hostname, s.ext.FQDN = hostname, fqdn
	for _, a := range pod.Spec.HostAliases {
		s.ext.HostAliases = append(s.ext.HostAliases, wire.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
}

// podHostname returns the pod's hostname and, with a subdomain, its FQDN
// <hostname>.<subdomain>.<namespace>.svc.<domain>, as the kubelet does:
// spec.hostname or the pod's name cut to 63 characters; the FQDN as the
// hostname itself with setHostnameAsFQDN.
func podHostname(pod *corev1.Pod, domain string) (hostname, fqdn string) {
	hostname = pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
		if len(hostname) > 63 {
			hostname = strings.TrimRight(hostname[:63], "-.")
		}
	}
	if pod.Spec.Subdomain == "" {
		return hostname, ""
	}
	fqdn = fmt.Sprintf("%s.%s.%s.svc.%s", hostname, pod.Spec.Subdomain, pod.Namespace, domain)
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && len(fqdn) <= maxHostnameLen {
		hostname = fqdn
	}
	return hostname, fqdn
}
