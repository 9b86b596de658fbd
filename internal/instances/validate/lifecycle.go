package validate

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// Bounds of vnode's lifecycle-hooks addition. A grace period is bounded as
// DELETE's gracePeriodSeconds is (wire.MaxGracePeriodSeconds); the rest keeps a hostile body from
// making the service send a request larger than a server would read.
const (
	maxGracePeriodSeconds = wire.MaxGracePeriodSeconds
	maxHookPath           = 2048
	maxHookHeaders        = 64
	maxHeaderName         = 256
	maxHeaderValue        = 4096
)

// checkGracePeriod checks the group's terminationGracePeriodSeconds.
func checkGracePeriod(ext wire.GroupExtensions) *errdefs.Error {
	if g := ext.TerminationGracePeriodSeconds; g != nil && (*g < 0 || *g > maxGracePeriodSeconds) {
		return errdefs.InvalidField(CodeInvalidContainerLifecycle, "properties.terminationGracePeriodSeconds",
			"The terminationGracePeriodSeconds %d is not between 0 and %d.", *g, maxGracePeriodSeconds)
	}
	return nil
}

// lifecycle checks a container's hooks. at is the container's properties.
func (c *checker) lifecycle(name, at string) *errdefs.Error {
	l, ok := c.ext.Lifecycle[name]
	if !ok {
		return nil
	}
	sleepBound := int64(maxGracePeriodSeconds)
	if g := c.ext.TerminationGracePeriodSeconds; g != nil {
		sleepBound = *g
	}
	for _, h := range []struct {
		kind string
		h    *wire.LifecycleHandler
	}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
		if h.h == nil {
			continue
		}
		if field, problem := hookProblem(h.h, sleepBound); problem != "" {
			target := at + ".lifecycle." + h.kind
			if field != "" {
				target += "." + field
			}
			return errdefs.InvalidField(CodeInvalidContainerLifecycle, target,
				"The %s hook of container '%s' is invalid: %s.", h.kind, name, problem)
		}
	}
	return nil
}

// hookProblem says what is wrong with a hook and where ("" for nothing).
func hookProblem(h *wire.LifecycleHandler, sleepBound int64) (field, problem string) {
	actions := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.Sleep != nil, h.TCPSocket != nil} {
		if set {
			actions++
		}
	}
	switch {
	case actions != 1:
		return "", "set exactly one of exec, httpGet and sleep"
	case h.Exec != nil:
		return hookExecProblem(h.Exec.Command)
	case h.HTTPGet != nil:
		return hookHTTPProblem(h.HTTPGet)
	case h.Sleep != nil && (h.Sleep.Seconds < 0 || h.Sleep.Seconds > sleepBound):
		return "sleep.seconds", fmt.Sprintf("sleep seconds %d are not between 0 and the grace period (%d)", h.Sleep.Seconds, sleepBound)
	}
	return "", "" // tcpSocket, which Kubernetes does not validate: it fails when it runs
}

// hookExecProblem checks a hook's command as the service passes it to a
// program: the bounds of a container's command.
func hookExecProblem(cmd []string) (field, problem string) {
	total := 0
	switch {
	case len(cmd) == 0 || cmd[0] == "":
		return "exec.command", "exec.command is empty; set the command to run"
	case len(cmd) > maxArgvEntries:
		return "exec.command", fmt.Sprintf("exec.command has %d entries; at most %d are allowed", len(cmd), maxArgvEntries)
	}
	for i, v := range cmd {
		switch {
		case len(v) > maxArgLength:
			return fmt.Sprintf("exec.command[%d]", i), fmt.Sprintf("entry %d has %d bytes; at most %d are allowed", i, len(v), maxArgLength)
		case strings.IndexByte(v, 0) >= 0:
			return fmt.Sprintf("exec.command[%d]", i), fmt.Sprintf("entry %d contains a NUL byte", i)
		}
		total += len(v) + 1
	}
	if total > maxArgvBytes {
		return "exec.command", fmt.Sprintf("exec.command has %d bytes; at most %d are allowed", total, maxArgvBytes)
	}
	return "", ""
}

// hookHTTPProblem checks a hook's GET request. Its host, when set, must be
// an IP address: the service sends the request from the group's network,
// where no resolver of the service's own may answer for it.
func hookHTTPProblem(h *wire.HTTPGetAction) (field, problem string) {
	switch {
	case h.Port < 1 || h.Port > 65535:
		return "httpGet.port", fmt.Sprintf("port %d is not between 1 and 65535", h.Port)
	case h.Scheme != "" && !strings.EqualFold(h.Scheme, "HTTP") && !strings.EqualFold(h.Scheme, "HTTPS"):
		return "httpGet.scheme", fmt.Sprintf("scheme '%s' is neither HTTP nor HTTPS", clip(h.Scheme))
	case len(h.Path) > maxHookPath:
		return "httpGet.path", fmt.Sprintf("the path has %d bytes; at most %d are allowed", len(h.Path), maxHookPath)
	case hasControl(h.Path):
		return "httpGet.path", "the path contains a control character"
	case len(h.HTTPHeaders) > maxHookHeaders:
		return "httpGet.httpHeaders", fmt.Sprintf("there are %d headers; at most %d are allowed", len(h.HTTPHeaders), maxHookHeaders)
	}
	if _, err := url.Parse(h.Path); err != nil {
		return "httpGet.path", fmt.Sprintf("the path '%s' is not a URL path", clip(h.Path))
	}
	if h.Host != "" {
		if a, err := netip.ParseAddr(h.Host); err != nil || a.Zone() != "" {
			return "httpGet.host", fmt.Sprintf("host '%s' is not an IP address (leave it empty for the group's own)", clip(h.Host))
		}
	}
	for i, hd := range h.HTTPHeaders {
		at := fmt.Sprintf("httpGet.httpHeaders[%d]", i)
		switch {
		case len(hd.Name) == 0 || len(hd.Name) > maxHeaderName || !isToken(hd.Name):
			return at + ".name", fmt.Sprintf("header name '%s' is not an HTTP token of at most %d characters", clip(hd.Name), maxHeaderName)
		case len(hd.Value) > maxHeaderValue:
			return at + ".value", fmt.Sprintf("the value of header '%s' has %d bytes; at most %d are allowed", hd.Name, len(hd.Value), maxHeaderValue)
		case strings.ContainsFunc(hd.Value, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }):
			return at + ".value", fmt.Sprintf("the value of header '%s' contains a control character", hd.Name)
		}
	}
	return "", ""
}

// hasControl reports whether s has an ASCII control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// isToken reports whether s is an HTTP token (RFC 9110), as a header
// name must be.
func isToken(s string) bool {
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}
