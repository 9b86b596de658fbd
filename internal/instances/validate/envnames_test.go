package validate

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/vnode-io/vnode/internal/wire"
)

// Names that Kubernetes allows and ACI does not are accepted everywhere a
// variable is named: plain and secure values, init containers and
// variables filled from the group.
func TestKubernetesEnvNames(t *testing.T) {
	names := []string{"data-1", "a.b", "1st", "-x", "with space", "!#$%&'()*+,-./:;<>?@[\\]^_`{|}~", "MY_NAME"}
	g := maximal()
	web, ic := ctr(g, 0), initc(g)
	for _, n := range names {
		web.EnvironmentVariables = append(web.EnvironmentVariables,
			&aci.EnvironmentVariable{Name: to.Ptr(n), Value: to.Ptr("v")},
			&aci.EnvironmentVariable{Name: to.Ptr("secure." + n), SecureValue: to.Ptr("s")})
		ic.EnvironmentVariables = append(ic.EnvironmentVariables, &aci.EnvironmentVariable{Name: to.Ptr(n), Value: to.Ptr("v")})
	}
	web.EnvironmentVariables = append(web.EnvironmentVariables, &aci.EnvironmentVariable{Name: to.Ptr("pod.ip")})
	ext := wire.GroupExtensions{FieldEnv: map[string][]wire.FieldEnv{"web": {{Name: "pod.ip", FieldPath: wire.FieldPodIP}}}}
	if err := ContainerGroup(g, testLoc, testLim, ext); err != nil {
		t.Fatalf("Kubernetes' names were refused: %v", err)
	}
}

// The rule is Kubernetes' own: every name of one or two bytes, and a few
// longer ones, is accepted exactly when IsRelaxedEnvVarName accepts it.
func TestEnvNameRuleIsKubernetes(t *testing.T) {
	check := func(n string) {
		t.Helper()
		ours := envNameProblem(n) == ""
		theirs := len(validation.IsRelaxedEnvVarName(n)) == 0
		if ours != theirs {
			t.Errorf("name %q: accepted = %v, Kubernetes accepts it = %v (problem %q)", n, ours, theirs, envNameProblem(n))
		}
	}
	check("")
	for a := range 256 {
		check(string([]byte{byte(a)}))
		for _, b := range []byte{'A', '=', 0, 0x7f, 0xc3} {
			check(string([]byte{byte(a), b}))
		}
	}
	for _, n := range []string{"größe", "data-1", "a.b", "x=", strings.Repeat("long", 1000), "tab\there", "\u00a0"} {
		check(n)
	}
}

// Error messages show a name within bounds and readable.
func TestShownEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"data-1":                          "'data-1'",
		"a\tb":                            `"a\tb"`,
		strings.Repeat("x", 150):          "'" + strings.Repeat("x", 100) + "'…",
		"\x00" + strings.Repeat("y", 120): `"\x00` + strings.Repeat("y", 99) + `"…`,
	} {
		if got := shownEnvName(in); got != want {
			t.Errorf("shownEnvName(%q) = %s, want %s", in, got, want)
		}
	}
}
