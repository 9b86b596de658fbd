package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Security is what a location lets a container's security context ask for.
type Security struct {
	// AllowedCapabilities are the Linux capabilities a container may add,
	// with or without the "CAP_" prefix. Unset: BaselineCapabilities; an
	// empty list allows none.
	AllowedCapabilities []string `json:"allowedCapabilities,omitempty"`
}

// BaselineCapabilities are the capabilities the Pod Security Standards'
// baseline policy lets a container add: the set containerd gives every
// container already. NET_ADMIN, SYS_ADMIN, SYS_PTRACE, SYS_MODULE,
// DAC_READ_SEARCH and the rest reach the host or other groups and are left
// to a location's configuration.
func BaselineCapabilities() []string {
	return []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
}

// Capabilities returns the capabilities a container may add, as
// CapabilityName spells them.
func (s Security) Capabilities() []string {
	if s.AllowedCapabilities == nil {
		return BaselineCapabilities()
	}
	out := make([]string, 0, len(s.AllowedCapabilities))
	for _, c := range s.AllowedCapabilities {
		out = append(out, CapabilityName(c))
	}
	return out
}

// CapabilityName is a capability's name as CRI takes it: upper case and
// without the "CAP_" prefix.
func CapabilityName(s string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "CAP_")
}

// capabilityPattern is a capability's name as CapabilityName spells it.
var capabilityPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// IsCapabilityName reports whether name, as CapabilityName spells it, has
// the form of a Linux capability's name (or ALL).
func IsCapabilityName(name string) bool { return capabilityPattern.MatchString(name) }

// check refuses names that are not capability names, and ALL.
func (s Security) check() error {
	for i, c := range s.AllowedCapabilities {
		if n := CapabilityName(c); !IsCapabilityName(n) || n == "ALL" {
			return fmt.Errorf("security.allowedCapabilities[%d]: %q is not a capability name (e.g. NET_ADMIN)", i, c)
		}
	}
	return nil
}
