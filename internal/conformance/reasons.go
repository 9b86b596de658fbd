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
}

// KnownReasons are the reasons of the failures seen so far, most specific
// first; a run's failures that none of them matches are unexpected.
func KnownReasons() []Reason {
	const hostNetwork = "the test runs a pod with hostNetwork: true, which shares the node's own network " +
		"namespace; a virtual node has none to share (its pods are container groups with IPs of their own), " +
		"so the agent fails such a pod at once (ProviderFailed), as AKS's virtual node does"
	return []Reason{
		{Test: "should function for node-pod communication", Why: hostNetwork, Inherent: true},
		{Test: "KubeletManagedEtcHosts should test kubelet managed /etc/hosts file", Why: hostNetwork, Inherent: true},
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
