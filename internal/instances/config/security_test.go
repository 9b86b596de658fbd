package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadLocationSecurity(t *testing.T) {
	c := mustLoad(t, write(t, "c.yaml", `
dataDir: /d
tokensFile: /t
runtime: fake
locations:
- name: local
- name: lab
  security:
    allowedCapabilities: [cap_net_admin, SYS_PTRACE]
- name: strict
  security:
    allowedCapabilities: []
`))
	want := map[string][]string{"local": BaselineCapabilities(), "lab": {"NET_ADMIN", "SYS_PTRACE"}, "strict": {}}
	for name, caps := range want {
		l, _ := c.Location(name)
		if got := l.Security.Capabilities(); !reflect.DeepEqual(got, caps) {
			t.Errorf("location %s allows %q, want %q", name, got, caps)
		}
	}
	for _, bad := range []string{"ALL", "net admin", "", "-x"} {
		c := Default()
		c.DataDir, c.TokensFile, c.Runtime = "/d", "/t", "fake"
		c.Locations = []Location{{Name: "x", Security: Security{AllowedCapabilities: []string{bad}}}}
		if err := c.Complete("/"); err == nil || !strings.Contains(err.Error(), "allowedCapabilities[0]") {
			t.Errorf("allowed capability %q: %v", bad, err)
		}
	}
}
