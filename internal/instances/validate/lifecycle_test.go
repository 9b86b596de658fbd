package validate

import (
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/wire"
)

// Hooks are hostile input: one action each, a bounded command, path and
// headers, a port of 1-65535, an IP for a host (the request leaves from the
// group's network), and a sleep within the grace period, itself bounded.
func TestLifecycle(t *testing.T) {
	grace := func(s int64) *int64 { return &s }
	ext := func(g *int64, pre *wire.LifecycleHandler) wire.GroupExtensions {
		return wire.GroupExtensions{TerminationGracePeriodSeconds: g, Lifecycle: map[string]wire.Lifecycle{"web": {
			PostStart: &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{"sh", "-c", "true"}}}, PreStop: pre}}}
	}
	get := func(h wire.HTTPGetAction) *wire.LifecycleHandler { return &wire.LifecycleHandler{HTTPGet: &h} }
	sleep := func(s int64) *wire.LifecycleHandler {
		return &wire.LifecycleHandler{Sleep: &wire.SleepAction{Seconds: s}}
	}
	for _, e := range []wire.GroupExtensions{
		ext(nil, nil),
		ext(grace(30), sleep(30)),
		ext(grace(0), sleep(0)),
		ext(nil, sleep(maxGracePeriodSeconds)),
		ext(grace(maxGracePeriodSeconds), get(wire.HTTPGetAction{Path: "/dial?host=10.0.0.1&port=8080", Port: 65535,
			Host: "10.241.0.9", Scheme: "https", HTTPHeaders: []wire.HTTPHeader{{Name: "X-Token", Value: "a\tb"}}})),
		ext(nil, get(wire.HTTPGetAction{Port: 1, Host: "fd00::1"})),
		ext(nil, &wire.LifecycleHandler{TCPSocket: &wire.TCPSocket{Port: 99999}}), // not validated, as Kubernetes: fails when run
	} {
		if err := ContainerGroup(maximal(), testLoc, testLim, e); err != nil {
			t.Errorf("%+v: %v", e.Lifecycle["web"].PreStop, err)
		}
	}
	const pre = c0 + ".properties.lifecycle.preStop"
	many := make([]wire.HTTPHeader, maxHookHeaders+1)
	for i := range many {
		many[i] = wire.HTTPHeader{Name: "X", Value: "y"}
	}
	cases := []struct {
		name   string
		e      wire.GroupExtensions
		target string
	}{
		{"no action", ext(nil, &wire.LifecycleHandler{}), pre},
		{"two actions", ext(nil, &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{"true"}}, Sleep: &wire.SleepAction{}}), pre},
		{"empty command", ext(nil, &wire.LifecycleHandler{Exec: &wire.ExecAction{}}), pre + ".exec.command"},
		{"NUL in the command", ext(nil, &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{"sh", "a\x00b"}}}), pre + ".exec.command[1]"},
		{"huge command", ext(nil, &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: []string{strings.Repeat("a", maxArgLength+1)}}}), pre + ".exec.command[0]"},
		{"port 0", ext(nil, get(wire.HTTPGetAction{Port: 0})), pre + ".httpGet.port"},
		{"port 65536", ext(nil, get(wire.HTTPGetAction{Port: 65536})), pre + ".httpGet.port"},
		{"a host name", ext(nil, get(wire.HTTPGetAction{Port: 80, Host: "metadata.internal"})), pre + ".httpGet.host"},
		{"a host with a port", ext(nil, get(wire.HTTPGetAction{Port: 80, Host: "10.0.0.1:22"})), pre + ".httpGet.host"},
		{"a zoned host", ext(nil, get(wire.HTTPGetAction{Port: 80, Host: "fe80::1%eth0"})), pre + ".httpGet.host"},
		{"scheme", ext(nil, get(wire.HTTPGetAction{Port: 80, Scheme: "ftp"})), pre + ".httpGet.scheme"},
		{"newline in the path", ext(nil, get(wire.HTTPGetAction{Port: 80, Path: "/a\r\nHost: x"})), pre + ".httpGet.path"},
		{"long path", ext(nil, get(wire.HTTPGetAction{Port: 80, Path: "/" + strings.Repeat("a", maxHookPath)})), pre + ".httpGet.path"},
		{"too many headers", ext(nil, get(wire.HTTPGetAction{Port: 80, HTTPHeaders: many})), pre + ".httpGet.httpHeaders"},
		{"header name", ext(nil, get(wire.HTTPGetAction{Port: 80, HTTPHeaders: []wire.HTTPHeader{{Name: "X Y"}}})),
			pre + ".httpGet.httpHeaders[0].name"},
		{"empty header name", ext(nil, get(wire.HTTPGetAction{Port: 80, HTTPHeaders: []wire.HTTPHeader{{Value: "v"}}})),
			pre + ".httpGet.httpHeaders[0].name"},
		{"header value", ext(nil, get(wire.HTTPGetAction{Port: 80, HTTPHeaders: []wire.HTTPHeader{{Name: "X", Value: "a\r\nB: c"}}})),
			pre + ".httpGet.httpHeaders[0].value"},
		{"long header value", ext(nil, get(wire.HTTPGetAction{Port: 80, HTTPHeaders: []wire.HTTPHeader{{Name: "X",
			Value: strings.Repeat("v", maxHeaderValue+1)}}})), pre + ".httpGet.httpHeaders[0].value"},
		{"sleep past the grace period", ext(grace(10), sleep(11)), pre + ".sleep.seconds"},
		{"negative sleep", ext(nil, sleep(-1)), pre + ".sleep.seconds"},
		{"sleep past the bound", ext(nil, sleep(maxGracePeriodSeconds+1)), pre + ".sleep.seconds"},
		{"negative grace period", ext(grace(-1), nil), "properties.terminationGracePeriodSeconds"},
		{"grace period past the bound", ext(grace(maxGracePeriodSeconds+1), nil), "properties.terminationGracePeriodSeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ContainerGroup(maximal(), testLoc, testLim, tc.e)
			wantError(t, err, CodeInvalidContainerLifecycle, tc.target)
			if len(err.Message) > 400 {
				t.Errorf("message %q repeats too much", err.Message)
			}
		})
	}
}
