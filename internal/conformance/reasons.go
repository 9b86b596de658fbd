package conformance

import "strings"

// Reason explains why a test fails on vnode's virtual node.
type Reason struct {
	// Test is a part of the test's name that only that test (or the
	// tests meant) has.
	Test string
	// Why is the explanation, for docs/conformance.md.
	Why string
	// Inherent says the test cannot pass on a virtual node: it needs
	// something a node of container groups does not have (the node's
	// own network or filesystem, a kubelet on the node, ...). Other
	// reasons are gaps vnode could close.
	Inherent bool
	// StandIn says the failure comes from a stand-in of the suite's test
	// images, not from vnode.
	StandIn bool
}

// KnownReasons are the reasons of the failures seen so far, most specific
// first; a run's failures that none of them matches are unexpected. They
// were found on the runs of 2026-12-03 (docs/conformance.md); those of the
// baseline that later changes fixed are gone. The gaps are what the node
// agent or the service does differently from a kubelet, to be closed; the
// inherent ones cannot be.
func KnownReasons() []Reason {
	const (
		hostNetwork = "the test runs a pod with hostNetwork: true, which shares the node's own network " +
			"namespace; a virtual node has none to share (its pods are container groups with IPs of their own), " +
			"so the agent fails such a pod at once (ProviderFailed), as AKS's virtual node does"
		shellEnv = "the test prints its environment with `sh -c env`, and the " +
			"busybox stand-in's shell (Debian's busybox 1.35 ash) drops variables whose names are not shell names " +
			"(data-1) before env runs; upstream's busybox 1.37 image keeps them"
		nestedItems = "volumes: a ConfigMap volume's item with a nested path (path/to/data-2) fails the group: " +
			"runc cannot create the mount point under the read-only volume (ProviderFailed)"
		sidecarHooks = "lifecycle hooks: the test's handler is a sidecar (an init container with restartPolicy " +
			"Always and a startup probe), which never counts as started, so the pod never gets ready"
	)
	return []Reason{
		{Test: "should function for node-pod communication", Why: hostNetwork, Inherent: true},
		{Test: "KubeletManagedEtcHosts should test kubelet managed /etc/hosts file", Why: hostNetwork, Inherent: true},
		{Test: "should be consumable via the environment", Why: shellEnv, StandIn: true},
		{Test: "] ConfigMap should be consumable from pods in volume with mappings", Why: nestedItems},
		{Test: "Projected configMap should be consumable from pods in volume with mappings", Why: nestedItems},
		{Test: "Ephemeral Containers", Why: "ephemeral containers are not supported (docs/limitations.md): " +
			"the debugger container never runs"},
		{Test: "Container Lifecycle Hook when create a pod with lifecycle hook", Why: sidecarHooks},
	}
}

// ReasonFor returns the first of reasons whose Test is part of name.
func ReasonFor(reasons []Reason, name string) (Reason, bool) {
	for _, r := range reasons {
		if strings.Contains(name, r.Test) {
			return r, true
		}
	}
	return Reason{}, false
}
