package validate

import (
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/wire"
)

// A termination message path is an absolute, clean, bounded file path
// apart from the container's volume mounts and /etc/hosts; the policy is
// one Kubernetes knows. Init containers are checked as containers are.
func TestTerminationMessage(t *testing.T) {
	ext := func(container, path, policy string) wire.GroupExtensions {
		return wire.GroupExtensions{TerminationMessages: map[string]wire.TerminationMessage{
			container: {Path: path, Policy: policy}}}
	}
	for _, e := range []wire.GroupExtensions{
		ext("web", wire.DefaultTerminationMessagePath, ""),
		ext("web", wire.DefaultTerminationMessagePath, wire.TerminationMessageFile),
		ext("web", "/var/run/done", wire.TerminationMessageFallbackToLogsOnError),
		ext("web", "", wire.TerminationMessageFallbackToLogsOnError), // no file: the log alone
		ext("web", "/var/cache/nginx-done", ""),                      // beside a mount, not in it
		ext("web", "/"+strings.Repeat("a", maxTerminationMessagePath-1), ""),
		ext("init-config", "/cfg-done", ""),
		ext("missing", "relative", ""), // no such container: nothing to check
	} {
		if err := ContainerGroup(maximal(), testLoc, testLim, e); err != nil {
			t.Errorf("%+v: %v", e.TerminationMessages, err)
		}
	}
	const path, policy = c0 + ".properties.terminationMessagePath", c0 + ".properties.terminationMessagePolicy"
	const initPath = "properties.initContainers[0].properties.terminationMessagePath"
	cases := []struct {
		name, container, path, policy, target, msgHas string
	}{
		{"relative", "web", "dev/termination-log", "", path, "not an absolute path"},
		{"backstep", "web", "/dev/../etc/passwd", "", path, "'..'"},
		{"trailing backstep", "web", "/dev/..", "", path, "'..'"},
		{"not clean", "web", "/dev//termination-log", "", path, "'/dev/termination-log'"},
		{"trailing slash", "web", "/dev/termination-log/", "", path, "not a clean path"},
		{"dot", "web", "/dev/./termination-log", "", path, "not a clean path"},
		{"root", "web", "/", "", path, "root directory"},
		{"NUL", "web", "/dev/termination\x00log", "", path, "NUL"},
		{"too long", "web", "/" + strings.Repeat("a", maxTerminationMessagePath), "", path, "4096"},
		{"a mount path", "web", "/var/cache/nginx", "", path, "'cache'"},
		{"inside a mount", "web", "/etc/nginx/conf.d/done", "", path, "'config'"},
		{"above a mount", "web", "/var/cache", "", path, "'/var/cache/nginx'"},
		{"hosts file", "web", "/etc/hosts", "", path, "hosts file"},
		{"inside an init container's mount", "init-config", "/cfg/done", "", initPath, "'config'"},
		{"unknown policy", "web", wire.DefaultTerminationMessagePath, "Log", policy, "'Log'"},
		{"policy in lower case", "web", wire.DefaultTerminationMessagePath, "file", policy, "'File'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ContainerGroup(maximal(), testLoc, testLim, ext(tc.container, tc.path, tc.policy))
			wantError(t, err, CodeInvalidTerminationMessage, tc.target)
			if !strings.Contains(err.Message, tc.msgHas) || len(err.Message) > 400 {
				t.Errorf("message %q lacks %q or repeats too much", err.Message, tc.msgHas)
			}
		})
	}
}
