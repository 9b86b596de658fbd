package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
)

// The security additions survive the SDK's decoding when applied back, beside
// ACI's own securityContext fields, and read the same again.
func TestSecurityRoundTrip(t *testing.T) {
	const body = `{"location":"l","properties":{
 "securityContext":{"supplementalGroups":[5000,6000],"supplementalGroupsPolicy":"Strict",
  "sysctls":[{"name":"net.ipv4.tcp_syncookies","value":"1"}]},
 "containers":[
  {"name":"app","properties":{"image":"x","securityContext":{"runAsUser":1000,"runAsNonRoot":true,
   "readOnlyRootFilesystem":true,"seccompProfileType":"Unconfined"}}},
  {"name":"plain","properties":{"image":"x","securityContext":{"runAsUser":0}}}],
 "initContainers":[{"name":"setup","properties":{"image":"x","securityContext":{"runAsNonRoot":true}}}]}}`
	ext, err := ParseGroup([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := GroupExtensions{
		Security: map[string]ContainerSecurity{
			"app":   {RunAsNonRoot: true, ReadOnlyRootFilesystem: true, SeccompProfileType: SeccompUnconfined},
			"setup": {RunAsNonRoot: true}},
		PodSecurity: PodSecurity{SupplementalGroups: []int64{5000, 6000}, SupplementalGroupsPolicy: SupplementalGroupsStrict,
			Sysctls: []Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}},
	}
	if !reflect.DeepEqual(ext, want) {
		t.Fatalf("Parse = %+v, want %+v", ext, want)
	}
	var g aci.ContainerGroup
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	sdk, err := json.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	if lost, _ := ParseGroup(sdk); !lost.IsZero() {
		t.Fatalf("the SDK kept the additions (%+v)", lost)
	}
	applied, err := ApplyGroup(sdk, GroupAdditions{GroupExtensions: ext})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ParseGroup(applied); err != nil || !again.Equal(want) {
		t.Errorf("after Apply: %+v, %v", again, err)
	}
	var back aci.ContainerGroup
	if err := json.Unmarshal(applied, &back); err != nil {
		t.Fatal(err)
	}
	if sc := back.Properties.Containers[0].Properties.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1000 {
		t.Errorf("Apply lost ACI's securityContext: %s", applied)
	}
	// A group-level securityContext that holds another addition keeps it.
	withOther := []byte(`{"properties":{"securityContext":{"fsGroup":2000},"containers":[]}}`)
	out, err := ApplyGroup(withOther, GroupAdditions{GroupExtensions: GroupExtensions{PodSecurity: want.PodSecurity}})
	var doc struct {
		Properties struct {
			SecurityContext map[string]any
		}
	}
	if err == nil {
		err = json.Unmarshal(out, &doc)
	}
	if err != nil || doc.Properties.SecurityContext["fsGroup"] != float64(2000) || doc.Properties.SecurityContext["sysctls"] == nil {
		t.Errorf("Apply beside another addition: %s, %v", out, err)
	}
}

func TestSecurityParseRefusesMalformed(t *testing.T) {
	for what, body := range map[string]string{
		"groups that are not numbers": `{"properties":{"securityContext":{"supplementalGroups":["a"]}}}`,
		"runAsNonRoot not a boolean":  `{"properties":{"containers":[{"name":"a","properties":{"securityContext":{"runAsNonRoot":"yes"}}}]}}`,
		"sysctls not a list":          `{"properties":{"securityContext":{"sysctls":{"name":"x"}}}}`,
	} {
		if _, err := ParseGroup([]byte(body)); err == nil {
			t.Errorf("%s was accepted", what)
		}
	}
}
