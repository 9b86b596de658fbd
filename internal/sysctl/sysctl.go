// Package sysctl knows which kernel parameters a pod may set: the
// kubelet's safe set, parameters that the kernel namespaces per pod and
// that cannot reach other pods or the host. The node agent admits pods
// with it as the kubelet does (a pod asking for any other fails with
// ForbiddenReason), and the container instances service, which runs as
// root, refuses every other name whatever its caller says.
package sysctl

import (
	"fmt"
	"slices"
	"strings"
)

// ForbiddenReason is the reason of a pod that asks for a sysctl outside
// the safe set, as the kubelet words it.
const ForbiddenReason = "SysctlForbidden"

// MaxValueLength bounds a sysctl's value: the longest safe one, a list
// of reserved port ranges, stays far below it.
const MaxValueLength = 1024

// The kernel namespaces of the safe sysctls.
const (
	nsIPC = "ipc"
	nsNet = "net"
)

// safe returns the kubelet's safe sysctls (Kubernetes v1.37's list) and
// the namespace of each. The kubelet drops those that an older kernel
// does not namespace yet; container groups run on recent kernels only.
func safe() map[string]string {
	return map[string]string{
		"kernel.shm_rmid_forced":              nsIPC,
		"net.ipv4.ip_local_port_range":        nsNet,
		"net.ipv4.tcp_syncookies":             nsNet,
		"net.ipv4.ping_group_range":           nsNet,
		"net.ipv4.ip_unprivileged_port_start": nsNet,
		"net.ipv4.ip_local_reserved_ports":    nsNet,
		"net.ipv4.tcp_keepalive_time":         nsNet,
		"net.ipv4.tcp_fin_timeout":            nsNet,
		"net.ipv4.tcp_keepalive_intvl":        nsNet,
		"net.ipv4.tcp_keepalive_probes":       nsNet,
		"net.ipv4.tcp_rmem":                   nsNet,
		"net.ipv4.tcp_wmem":                   nsNet,
		"net.ipv4.tcp_slow_start_after_idle":  nsNet,
		"net.ipv4.tcp_notsent_lowat":          nsNet,
	}
}

// Safe returns the names of the safe sysctls, sorted.
func Safe() []string {
	out := make([]string, 0, 16)
	for name := range safe() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// IsSafe reports whether name, written with dots, is a safe sysctl.
func IsSafe(name string) bool {
	_, ok := safe()[name]
	return ok
}

// Normalize writes a sysctl name with dots between its parts, as
// Kubernetes reads one written with slashes: in kernel/shm_rmid_forced the
// slashes separate parts, and a dot inside a part (an interface's name,
// eth0.100) becomes a slash.
func Normalize(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

// Admit checks a pod's sysctl as the kubelet admits it: name (in either
// spelling) must be safe, and a pod sharing the host's network or IPC
// namespace may not set the sysctls of that namespace. The error says
// why, for the pod's message.
func Admit(name string, hostNetwork, hostIPC bool) error {
	n := Normalize(name)
	ns, ok := safe()[n]
	switch {
	case !ok:
		return fmt.Errorf("forbidden sysctl: %q not allowlisted", n)
	case ns == nsNet && hostNetwork, ns == nsIPC && hostIPC:
		return fmt.Errorf("forbidden sysctl: %q not allowed with host %s enabled", n, ns)
	}
	return nil
}

// ValueProblem says what is wrong with a sysctl's value, "" for nothing:
// it must be 1 to MaxValueLength printable ASCII characters (spaces and
// tabs separate the numbers of a range), without line breaks, which would
// let one write smuggle a second value in.
func ValueProblem(v string) string {
	switch {
	case v == "":
		return "is empty"
	case len(v) > MaxValueLength:
		return fmt.Sprintf("is longer than %d characters", MaxValueLength)
	}
	for _, r := range v {
		if r != '\t' && (r < ' ' || r > '~') {
			return fmt.Sprintf("holds the character %q; only printable ASCII, spaces and tabs are allowed", r)
		}
	}
	return ""
}
