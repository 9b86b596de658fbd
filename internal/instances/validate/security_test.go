package validate

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/wire"
)

func withSecurity(sc *aci.SecurityContextDefinition) *aci.ContainerGroup {
	g := minimal()
	g.Properties.Containers[0].Properties.SecurityContext = sc
	return g
}

func adding(caps ...string) *aci.SecurityContextDefinition {
	return &aci.SecurityContextDefinition{Capabilities: &aci.SecurityContextCapabilitiesDefinition{Add: to.SliceOfPtrs(caps...)}}
}

const sc0 = "properties.containers[0].properties.securityContext"

func TestSecurityContextRefused(t *testing.T) {
	profile := func(s string) *aci.SecurityContextDefinition {
		return &aci.SecurityContextDefinition{SeccompProfile: to.Ptr(s)}
	}
	for _, tc := range []struct {
		name           string
		sc             *aci.SecurityContextDefinition
		target, msgHas string
	}{
		{"privileged", &aci.SecurityContextDefinition{Privileged: to.Ptr(true)}, sc0 + ".privileged", "privileged"},
		{"SYS_ADMIN", adding("NET_BIND_SERVICE", "SYS_ADMIN"), sc0 + ".capabilities.add[1]", "SYS_ADMIN, which location 'westeurope' does not allow"},
		{"CAP_NET_ADMIN", adding("CAP_NET_ADMIN"), sc0 + ".capabilities.add[0]", "NET_ADMIN"},
		{"ALL", adding("ALL"), sc0 + ".capabilities.add[0]", "ALL"},
		{"not a name", adding("net admin"), sc0 + ".capabilities.add[0]", "not a Linux capability name"},
		{"drop not a name", &aci.SecurityContextDefinition{Capabilities: &aci.SecurityContextCapabilitiesDefinition{
			Drop: to.SliceOfPtrs("-x")}}, sc0 + ".capabilities.drop[0]", "not a Linux capability name"},
		{"seccomp not base64", profile("{}"), sc0 + ".seccompProfile", "base64"},
		{"seccomp not JSON", profile(base64.StdEncoding.EncodeToString([]byte("nope"))), sc0 + ".seccompProfile", "JSON"},
		{"seccomp without defaultAction", profile(base64.StdEncoding.EncodeToString([]byte(`{"syscalls":[]}`))),
			sc0 + ".seccompProfile", "defaultAction"},
		{"seccomp too large", profile(strings.Repeat("A", 100<<10)), sc0 + ".seccompProfile", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ContainerGroup(withSecurity(tc.sc), testLoc, testLim, wire.GroupExtensions{})
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != CodeInvalidContainerSecurityContext || err.Target != tc.target || !strings.Contains(err.Message, tc.msgHas) {
				t.Errorf("%s at %q: %s; want %s at %q with %q", err.Code, err.Target, err.Message,
					CodeInvalidContainerSecurityContext, tc.target, tc.msgHas)
			}
		})
	}

	// Init containers are held to the same rules.
	g := minimal()
	g.Properties.InitContainers = []*aci.InitContainerDefinition{{Name: to.Ptr("init"),
		Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr("busybox"), SecurityContext: adding("SYS_PTRACE")}}}
	if err := ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{}); err == nil ||
		err.Target != "properties.initContainers[0].properties.securityContext.capabilities.add[0]" {
		t.Errorf("an init container adding SYS_PTRACE: %v", err)
	}
}

func TestSecurityContextAllowed(t *testing.T) {
	deny := base64.StdEncoding.EncodeToString([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`))
	for name, sc := range map[string]*aci.SecurityContextDefinition{
		"baseline capabilities": adding("chown", "CAP_NET_BIND_SERVICE", "SYS_CHROOT"),
		"drops":                 {Capabilities: &aci.SecurityContextCapabilitiesDefinition{Drop: to.SliceOfPtrs("ALL")}},
		"seccomp profile":       {SeccompProfile: to.Ptr(deny)},
		"not privileged":        {Privileged: to.Ptr(false), RunAsUser: to.Ptr[int32](1000)},
	} {
		if err := ContainerGroup(withSecurity(sc), testLoc, testLim, wire.GroupExtensions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A location may allow more, and less.
	loc := testLoc
	loc.Security = config.Security{AllowedCapabilities: []string{"CAP_NET_ADMIN"}}
	if err := ContainerGroup(withSecurity(adding("NET_ADMIN")), loc, testLim, wire.GroupExtensions{}); err != nil {
		t.Errorf("NET_ADMIN where the location allows it: %v", err)
	}
	if err := ContainerGroup(withSecurity(adding("CHOWN")), loc, testLim, wire.GroupExtensions{}); err == nil {
		t.Error("CHOWN where the location allows only NET_ADMIN")
	}
}

func TestEnvValueWithNUL(t *testing.T) {
	for _, v := range []*aci.EnvironmentVariable{{Name: to.Ptr("A"), Value: to.Ptr("a\x00b")}, {Name: to.Ptr("A"), SecureValue: to.Ptr("\x00")}} {
		g := minimal()
		g.Properties.Containers[0].Properties.EnvironmentVariables = []*aci.EnvironmentVariable{v}
		err := ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{})
		if err == nil || err.Code != CodeInvalidContainerEnvironmentVariable || !strings.Contains(err.Message, "NUL") {
			t.Errorf("a NUL byte in a value: %v", err)
		}
	}
}
