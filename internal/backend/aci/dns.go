package aci

import (
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
)

// DNS is the cluster's DNS service as pods with dnsPolicy ClusterFirst use it.
type DNS struct {
	// Servers are the cluster DNS service's IPs; none: ClusterFirst pods
	// keep the group's default resolver.
	Servers []string
	// Domain is the cluster domain ("cluster.local" when empty).
	Domain string
}

// dnsConfig returns the group's DNS configuration for a pod, as the kubelet
// writes resolv.conf: dnsPolicy None takes the pod's dnsConfig alone;
// ClusterFirst (and ClusterFirstWithHostNet) the cluster's servers and
// search path plus the pod's dnsConfig, when cluster DNS is configured;
// Default and ClusterFirst without cluster DNS leave ACI's resolver.
func dnsConfig(pod *corev1.Pod, cluster DNS) *aci.DNSConfiguration {
	extra := pod.Spec.DNSConfig
	if extra == nil {
		extra = &corev1.PodDNSConfig{}
	}
	var servers, search []string
	opts := options(extra.Options)
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, "":
		if len(cluster.Servers) == 0 {
			return nil
		}
		domain := cluster.domain()
		servers = append(servers, cluster.Servers...)
		search = []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}
		if !hasOption(extra.Options, "ndots") {
			opts = append([]string{"ndots:5"}, opts...)
		}
	default:
		return nil
	}
	servers = append(servers, extra.Nameservers...)
	search = append(search, extra.Searches...)
	if len(servers) == 0 {
		return nil // ACI requires name servers
	}
	out := &aci.DNSConfiguration{NameServers: ptrs(servers)}
	if len(search) > 0 {
		out.SearchDomains = ptr(strings.Join(search, " "))
	}
	if len(opts) > 0 {
		out.Options = ptr(strings.Join(opts, " "))
	}
	return out
}

// domain is the cluster domain, cluster.local by default.
func (d DNS) domain() string {
	if d.Domain == "" {
		return "cluster.local"
	}
	return d.Domain
}

func options(opts []corev1.PodDNSConfigOption) []string {
	var out []string
	for _, o := range opts {
		if o.Value != nil {
			out = append(out, o.Name+":"+*o.Value)
		} else {
			out = append(out, o.Name)
		}
	}
	return out
}

func hasOption(opts []corev1.PodDNSConfigOption, name string) bool {
	for _, o := range opts {
		if o.Name == name {
			return true
		}
	}
	return false
}
