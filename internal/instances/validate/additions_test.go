package validate

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// wantError fails unless err is a 400 with code at target.
func wantError(t *testing.T, err *errdefs.Error, code, target string) {
	t.Helper()
	if err == nil {
		t.Fatalf("nil, want %s at %s", code, target)
	}
	if armerr.Status(err.Kind) != http.StatusBadRequest || err.Code != code || err.Target != target || err.Message == "" {
		t.Fatalf("%d %s at %q (%s), want 400 %s at %q", armerr.Status(err.Kind), err.Code, err.Target, err.Message, code, target)
	}
}

// The group's hostname, fqdn and host aliases follow Kubernetes' rules for
// a pod's hostname, subdomain FQDN and hostAliases.
func TestGroupHosts(t *testing.T) {
	alias := func(ip string, names ...string) []wire.HostAlias {
		return []wire.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"first"}}, {IP: ip, Hostnames: names}}
	}
	valid := []wire.GroupExtensions{
		{},
		{Hostname: "web-0"},
		{Hostname: strings.Repeat("a", 63)},
		{Hostname: "web-0.web.default.svc", FQDN: "web-0.web.default.svc.cluster.local"},
		{Hostname: strings.Repeat("a", 60) + ".b.c"},                                     // 64 characters
		{FQDN: strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61)}, // 253
		{HostAliases: alias("192.168.1.2", "foo.local", "bar")},
		{HostAliases: alias("fd00::1", "v6.local")},
	}
	for _, ext := range valid {
		if err := ContainerGroup(minimal(), testLoc, testLim, ext); err != nil {
			t.Errorf("%+v: %v", ext, err)
		}
	}
	cases := []struct {
		name         string
		ext          wire.GroupExtensions
		code, target string
	}{
		{"hostname uppercase", wire.GroupExtensions{Hostname: "Web"}, CodeInvalidHostname, "properties.hostname"},
		{"hostname too long", wire.GroupExtensions{Hostname: strings.Repeat("a", 64)}, CodeInvalidHostname, "properties.hostname"},
		{"hostname ends with '-'", wire.GroupExtensions{Hostname: "web-"}, CodeInvalidHostname, "properties.hostname"},
		{"hostname with underscore", wire.GroupExtensions{Hostname: "web_0"}, CodeInvalidHostname, "properties.hostname"},
		{"dotted hostname over 64", wire.GroupExtensions{Hostname: strings.Repeat("a", 61) + ".b.c"}, CodeInvalidHostname, "properties.hostname"},
		{"dotted hostname empty label", wire.GroupExtensions{Hostname: "web..svc"}, CodeInvalidHostname, "properties.hostname"},
		{"fqdn over 253", wire.GroupExtensions{FQDN: strings.Repeat(strings.Repeat("a", 63)+".", 4)[:254]}, CodeInvalidFQDN, "properties.fqdn"},
		{"fqdn label over 63", wire.GroupExtensions{FQDN: strings.Repeat("a", 64) + ".svc"}, CodeInvalidFQDN, "properties.fqdn"},
		{"fqdn trailing dot", wire.GroupExtensions{FQDN: "web.svc."}, CodeInvalidFQDN, "properties.fqdn"},
		{"alias without IP", wire.GroupExtensions{HostAliases: alias("", "a")}, CodeInvalidHostAlias, "properties.hostAliases[1].ip"},
		{"alias with a bad IP", wire.GroupExtensions{HostAliases: alias("10.0.0.256", "a")}, CodeInvalidHostAlias, "properties.hostAliases[1].ip"},
		{"alias without hostnames", wire.GroupExtensions{HostAliases: alias("10.0.0.2")}, CodeInvalidHostAlias, "properties.hostAliases[1].hostnames"},
		{"alias with a bad hostname", wire.GroupExtensions{HostAliases: alias("10.0.0.2", "ok", "Not_OK")}, CodeInvalidHostAlias, "properties.hostAliases[1].hostnames[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, ContainerGroup(minimal(), testLoc, testLim, tc.ext), tc.code, tc.target)
		})
	}
}

// A variable filled from the group's IP arrives from the SDK as a name
// without value; it passes the env checks and its field path is checked.
func TestFieldEnv(t *testing.T) {
	group := func(mut func(web *aci.ContainerProperties, ic *aci.InitContainerPropertiesDefinition)) *aci.ContainerGroup {
		g := maximal()
		web, ic := ctr(g, 0), initc(g)
		web.EnvironmentVariables = append(web.EnvironmentVariables, &aci.EnvironmentVariable{Name: to.Ptr("POD_IP")})
		ic.EnvironmentVariables = append(ic.EnvironmentVariables, &aci.EnvironmentVariable{Name: to.Ptr("MY_IP")})
		if mut != nil {
			mut(web, ic)
		}
		return g
	}
	ext := func(webPath, initPath string) wire.GroupExtensions {
		return wire.GroupExtensions{FieldEnv: map[string][]wire.FieldEnv{
			"web":         {{Name: "POD_IP", FieldPath: webPath}},
			"init-config": {{Name: "MY_IP", FieldPath: initPath}},
		}}
	}
	if err := ContainerGroup(group(nil), testLoc, testLim, ext(wire.FieldPodIP, wire.FieldPodIPs)); err != nil {
		t.Fatalf("field env in a container and an init container: %v", err)
	}
	const webEnv = c0 + ".properties.environmentVariables[2]"
	const initEnv = "properties.initContainers[0].properties.environmentVariables[1]"
	cases := []struct {
		name         string
		mut          func(web *aci.ContainerProperties, ic *aci.InitContainerPropertiesDefinition)
		ext          wire.GroupExtensions
		target       string
		code, msgHas string
	}{
		{"unsupported field", nil, ext("metadata.name", wire.FieldPodIP), webEnv + ".valueFrom.fieldRef.fieldPath",
			CodeInvalidContainerEnvironmentVariable, "metadata.name"},
		{"unsupported field of an init container", nil, ext(wire.FieldPodIP, "status.hostIP"),
			initEnv + ".valueFrom.fieldRef.fieldPath", CodeInvalidContainerEnvironmentVariable, "status.hostIP"},
		{"value beside valueFrom", func(web *aci.ContainerProperties, _ *aci.InitContainerPropertiesDefinition) {
			web.EnvironmentVariables[2].Value = to.Ptr("1.2.3.4")
		}, ext(wire.FieldPodIP, wire.FieldPodIP), webEnv + ".valueFrom", CodeInvalidContainerEnvironmentVariable, "valueFrom"},
		{"secureValue beside valueFrom", func(_ *aci.ContainerProperties, ic *aci.InitContainerPropertiesDefinition) {
			ic.EnvironmentVariables[1].SecureValue = to.Ptr("x")
		}, ext(wire.FieldPodIP, wire.FieldPodIP), initEnv + ".valueFrom", CodeInvalidContainerEnvironmentVariable, "valueFrom"},
		{"bad name", func(web *aci.ContainerProperties, _ *aci.InitContainerPropertiesDefinition) {
			web.EnvironmentVariables[2].Name = to.Ptr("POD=IP")
		}, wire.GroupExtensions{FieldEnv: map[string][]wire.FieldEnv{"web": {{Name: "POD=IP", FieldPath: wire.FieldPodIP}}}},
			webEnv + ".name", CodeInvalidContainerEnvironmentVariable, "POD=IP"},
		{"name twice", func(web *aci.ContainerProperties, _ *aci.InitContainerPropertiesDefinition) {
			web.EnvironmentVariables[2].Name = to.Ptr("MODE")
		}, wire.GroupExtensions{FieldEnv: map[string][]wire.FieldEnv{"web": {{Name: "MODE", FieldPath: wire.FieldPodIP}}}},
			webEnv + ".name", CodeDuplicateEnvironmentVariable, "MODE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ContainerGroup(group(tc.mut), testLoc, testLim, tc.ext)
			wantError(t, err, tc.code, tc.target)
			if !strings.Contains(err.Message, tc.msgHas) {
				t.Errorf("message %q lacks %q", err.Message, tc.msgHas)
			}
		})
	}
}

// A secret file's name may not start with "..": the runtime keeps the
// volume's data directories there.
func TestSecretFileNameReserved(t *testing.T) {
	for _, name := range []string{"..data", "..2026_01_01", ".."} {
		g := maximal()
		props(g).Volumes[0].Secret[name] = to.Ptr("eA==")
		wantError(t, ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{}), CodeInvalidSecretVolume,
			"properties.volumes[0].secret."+name)
	}
	g := maximal()
	props(g).Volumes[0].Secret[".hidden"] = to.Ptr("eA==")
	if err := ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{}); err != nil {
		t.Errorf("a dotfile was refused: %v", err)
	}
}

func TestSecretRefresh(t *testing.T) {
	secret := func(name string, files map[string]*string) *aci.Volume {
		return &aci.Volume{Name: to.Ptr(name), Secret: files}
	}
	good := map[string]*string{"nginx.conf": to.Ptr("c2VydmVyIHt9Cg=="), "new": to.Ptr("")}
	if err := SecretRefresh(maximal(), []*aci.Volume{secret("config", good)}); err != nil {
		t.Fatalf("a valid refresh: %v", err)
	}
	if err := SecretRefresh(maximal(), []*aci.Volume{secret("config", map[string]*string{})}); err != nil {
		t.Errorf("a refresh leaving the volume empty: %v", err)
	}
	cases := []struct {
		name         string
		vols         []*aci.Volume
		code, target string
	}{
		{"no volumes", nil, CodeInvalidVolume, "volumes"},
		{"null volume", []*aci.Volume{nil}, CodeInvalidVolume, "volumes[0]"},
		{"unknown volume", []*aci.Volume{secret("config", good), secret("nothere", good)}, CodeInvalidVolume, "volumes[1]"},
		{"not a secret volume", []*aci.Volume{secret("cache", good)}, CodeInvalidVolume, "volumes[0]"},
		{"without secret", []*aci.Volume{{Name: to.Ptr("config")}}, CodeInvalidVolume, "volumes[0].secret"},
		{"secret and another source", []*aci.Volume{{Name: to.Ptr("config"), Secret: good, EmptyDir: map[string]any{}}},
			CodeInvalidVolume, "volumes[0]"},
		{"named twice", []*aci.Volume{secret("config", good), secret("config", good)}, CodeDuplicateVolumeName, "volumes[1].name"},
		{"content not base64", []*aci.Volume{secret("config", map[string]*string{"a": to.Ptr("%%%")})},
			CodeInvalidSecretVolume, "volumes[0].secret.a"},
		{"reserved file name", []*aci.Volume{secret("config", map[string]*string{"..data": to.Ptr("")})},
			CodeInvalidSecretVolume, "volumes[0].secret...data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, SecretRefresh(maximal(), tc.vols), tc.code, tc.target)
		})
	}
}

// A (init) container's command and args are bounded as Linux bounds a
// program's arguments, and hold no NUL byte.
func TestCommandAndArgs(t *testing.T) {
	many := func(n int) []string { return make([]string, n) }
	args := func(web, init []string) wire.GroupExtensions {
		return wire.GroupExtensions{Args: map[string][]string{"web": web, "init-config": init}}
	}
	if err := ContainerGroup(maximal(), testLoc, testLim, args([]string{"-c", "echo $(X) ''"}, many(maxArgvEntries))); err != nil {
		t.Fatalf("args in a container and an init container: %v", err)
	}
	big := strings.Repeat("x", maxArgLength)
	if err := ContainerGroup(maximal(), testLoc, testLim, args([]string{big}, []string{big})); err != nil {
		t.Fatalf("args of the longest length: %v", err)
	}
	const initAt = "properties.initContainers[0].properties"
	cases := []struct {
		name         string
		mut          func(g *aci.ContainerGroup)
		ext          wire.GroupExtensions
		target, text string
	}{
		{"too many args", nil, args(many(maxArgvEntries+1), nil), c0 + ".properties.args", "4097 entries"},
		{"too many init args", nil, args(nil, many(maxArgvEntries+1)), initAt + ".args", "init-config"},
		{"an arg too long", nil, args([]string{"a", big + "x"}, nil), c0 + ".properties.args[1]", "131072 bytes"},
		{"an arg with NUL", nil, args(nil, []string{"a\x00b"}), initAt + ".args[0]", "NUL"},
		{"a command with NUL", func(g *aci.ContainerGroup) { ctr(g, 0).Command[1] = to.Ptr("-\x00g") },
			wire.GroupExtensions{}, c0 + ".properties.command[1]", "NUL"},
		{"a command too long", func(g *aci.ContainerGroup) {
			for range maxArgvEntries {
				ctr(g, 0).Command = append(ctr(g, 0).Command, to.Ptr(""))
			}
		}, wire.GroupExtensions{}, c0 + ".properties.command", "entries"},
		{"too many bytes together", nil, args(slices.Repeat([]string{big}, 16), nil), c0 + ".properties.args", "together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := maximal()
			if tc.mut != nil {
				tc.mut(g)
			}
			err := ContainerGroup(g, testLoc, testLim, tc.ext)
			wantError(t, err, CodeInvalidContainerCommand, tc.target)
			if !strings.Contains(err.Message, tc.text) {
				t.Errorf("message %q lacks %q", err.Message, tc.text)
			}
		})
	}
}

// A secret file's name may be a nested relative path, as a Kubernetes item
// path may be; what could escape the volume or collide is refused.
func TestSecretFileNameNested(t *testing.T) {
	g := maximal()
	props(g).Volumes[0].Secret["path/to/data-2"] = to.Ptr("eA==")
	if err := ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{}); err != nil {
		t.Errorf("a nested file name was refused: %v", err)
	}
	for _, name := range []string{"a/../../etc", "/etc/passwd", "a//b", "a/", "./a"} {
		g := maximal()
		props(g).Volumes[0].Secret[name] = to.Ptr("eA==")
		wantError(t, ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{}), CodeInvalidSecretVolume,
			"properties.volumes[0].secret."+name)
	}
	g = maximal()
	props(g).Volumes[0].Secret["dir"] = to.Ptr("eA==")
	props(g).Volumes[0].Secret["dir/file"] = to.Ptr("eA==")
	err := ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{})
	wantError(t, err, CodeInvalidSecretVolume, "properties.volumes[0].secret.dir/file")
	if err != nil && !strings.Contains(err.Message, `"dir", which is a file`) {
		t.Errorf("message %q does not name the file in the way", err.Message)
	}
}
