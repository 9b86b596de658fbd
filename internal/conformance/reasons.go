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
// were found on the baseline run of 2026-12-03 (docs/conformance.md): the
// gaps are what the node agent or the service does differently from a
// kubelet, to be closed; the inherent ones cannot be.
func KnownReasons() []Reason {
	const (
		hostNetwork = "the test runs a pod with hostNetwork: true, which shares the node's own network " +
			"namespace; a virtual node has none to share (its pods are container groups with IPs of their own), " +
			"so the agent fails such a pod at once (ProviderFailed), as AKS's virtual node does"
		shellEnv = "the test prints its environment with `sh -c env`, and the " +
			"busybox stand-in's shell (Debian's busybox 1.35 ash) drops variables whose names are not shell names " +
			"(data-1) before env runs; upstream's busybox 1.37 image keeps them"
		tmpfs = "volumes: an emptyDir with medium Memory is a directory on the host's disk (ext4, magic 61267), " +
			"not a tmpfs"
		nestedItems = "volumes: a ConfigMap volume's item with a nested path (path/to/data-2) fails the group: " +
			"runc cannot create the mount point under the read-only volume (ProviderFailed)"
		modes = "volumes: defaultMode, items' mode and fsGroup are not applied to ConfigMap, Secret, downward " +
			"API and projected volume files (they are 0644, owned by root)"
		allocatable = "downward API: limits.cpu / limits.memory of a container without limits read 0 instead " +
			"of the node's allocatable"
		sidecarHooks = "lifecycle hooks: the test's handler is a sidecar (an init container with restartPolicy " +
			"Always and a startup probe), which never counts as started, so the pod never gets ready"
	)
	return []Reason{
		{Test: "should function for node-pod communication", Why: hostNetwork, Inherent: true},
		{Test: "KubeletManagedEtcHosts should test kubelet managed /etc/hosts file", Why: hostNetwork, Inherent: true},
		{Test: "should be consumable via the environment", Why: shellEnv, StandIn: true},
		{Test: "tmpfs) [LinuxOnly]", Why: tmpfs},
		{Test: "volume on tmpfs should have the correct mode", Why: tmpfs},
		{Test: "] ConfigMap should be consumable from pods in volume with mappings", Why: nestedItems},
		{Test: "Projected configMap should be consumable from pods in volume with mappings", Why: nestedItems},
		{Test: "in volume with defaultMode set", Why: modes},
		{Test: "with mappings and Item Mode set", Why: modes},
		{Test: "should set mode on item file", Why: modes},
		{Test: "should set DefaultMode on files", Why: modes},
		{Test: "with defaultMode and fsGroup set", Why: modes},
		{Test: "as default cpu limit if the limit is not set", Why: allocatable},
		{Test: "as default memory limit if the limit is not set", Why: allocatable},
		{Test: "should project all components that make up the projection API", Why: "volumes: the combined " +
			"projected volume (ConfigMap, Secret and downward API in one) is empty in the container; not diagnosed further"},
		{Test: "should not allow privilege escalation when false", Why: "security context: allowPrivilegeEscalation " +
			"false does not set no_new_privs, so the test's set-user-ID nnp runs as root"},
		{Test: "should not write to root filesystem", Why: "security context: readOnlyRootFilesystem is not applied " +
			"(the container's write to / does not fail)"},
		{Test: "should run the container with uid 65534", Why: "security context: the pod running as uid 65534 " +
			"fails (no reason or message in its status); not diagnosed further"},
		{Test: "Sysctls [LinuxOnly] should support sysctls", Why: "security context: the pod's sysctls " +
			"(kernel.shm_rmid_forced=1) are not applied"},
		{Test: "Ephemeral Containers", Why: "ephemeral containers are not supported (docs/limitations.md): " +
			"the debugger container never runs"},
		{Test: "if init containers fail on a Restart", Why: "pod status: while init containers run, app " +
			"containers wait with reason ContainerCreating instead of PodInitializing"},
		{Test: "should be restarted with a GRPC liveness probe", Why: "probes: gRPC probes are dropped with a " +
			"Warning event (docs/limitations.md), so the container is never restarted"},
		{Test: "Container Lifecycle Hook when create a pod with lifecycle hook", Why: sidecarHooks},
		{Test: "termination message from log output if TerminationMessagePolicy FallbackToLogsOnError", Why: "termination " +
			"messages: FallbackToLogsOnError takes no message from the log of a container that failed"},
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
