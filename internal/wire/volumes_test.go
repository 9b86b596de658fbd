package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
)

const volumesRequest = `{"location":"local","properties":{"osType":"Linux",
 "securityContext":{"fsGroup":2000,"fsGroupChangePolicy":"OnRootMismatch"},
 "volumes":[{"name":"config","secret":{"run.sh":"ZWNobw==","key":"eA=="},"fileModes":{"run.sh":493,"key":256}},
  {"name":"cache","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},
  {"name":"plain","emptyDir":{}}],
 "containers":[{"name":"app","properties":{"image":"x","volumeMounts":[
  {"name":"config","mountPath":"/etc/app/run.sh","subPath":"run.sh"},{"name":"cache","mountPath":"/cache"}]}}],
 "initContainers":[{"name":"setup","properties":{"image":"x","volumeMounts":[
  {"name":"cache","mountPath":"/work","subPath":"setup/dir"}]}}]}}`

// The volume additions survive the SDK's decoding and encoding when
// applied back, and read the same again.
func TestVolumeAdditionsRoundTrip(t *testing.T) {
	ext, err := ParseGroup([]byte(volumesRequest))
	if err != nil {
		t.Fatal(err)
	}
	fsGroup := int64(2000)
	want := GroupExtensions{
		FileModes:           map[string]map[string]int32{"config": {"run.sh": 0o755, "key": 0o400}},
		EmptyDirs:           map[string]EmptyDir{"cache": {Medium: MediumMemory, SizeLimit: 64 << 20}},
		FSGroup:             &fsGroup,
		FSGroupChangePolicy: FSGroupChangeOnRootMismatch,
		SubPaths:            map[string]map[string]string{"app": {"/etc/app/run.sh": "run.sh"}, "setup": {"/work": "setup/dir"}},
	}
	if !reflect.DeepEqual(ext, want) {
		t.Fatalf("Parse = %+v, want %+v", ext, want)
	}
	var g aci.ContainerGroup
	if err := json.Unmarshal([]byte(volumesRequest), &g); err != nil {
		t.Fatal(err)
	}
	g.Properties.Volumes[1].EmptyDir = map[string]any{} // as the agent's SDK body has it
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
	if again, err := ParseGroup(applied); err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("after Apply: %+v, %v\n%s", again, err, applied)
	}
	if ext.IsZero() || !ext.Equal(want) {
		t.Errorf("IsZero or Equal ignore the volume additions")
	}
}

// The group's securityContext keeps what else it holds when fsGroup is
// written into it.
func TestApplyFSGroupKeepsSecurityContext(t *testing.T) {
	fsGroup := int64(7)
	out, err := ApplyGroup([]byte(`{"properties":{"securityContext":{"other":1}}}`),
		GroupAdditions{GroupExtensions: GroupExtensions{FSGroup: &fsGroup}})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"properties":{"securityContext":{"fsGroup":7,"other":1}}}` {
		t.Errorf("Apply = %s", out)
	}
}

// The file modes of a refreshVolumes body round-trip.
func TestRefreshModesRoundTrip(t *testing.T) {
	body := []byte(`{"volumes":[{"name":"config","secret":{"a":"eA=="}},{"name":"other","secret":{}}]}`)
	modes := map[string]map[string]int32{"config": {"a": 0o600}}
	out, err := ApplyRefreshModes(body, modes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRefreshModes(out)
	if err != nil || !reflect.DeepEqual(got, modes) {
		t.Errorf("ParseRefreshModes = %v, %v from %s", got, err, out)
	}
	if same, _ := ApplyRefreshModes(body, nil); string(same) != string(body) {
		t.Errorf("no modes changed the body")
	}
	if _, err := ParseRefreshModes([]byte(`{"volumes":[{"name":"a","fileModes":{"x":"rw"}}]}`)); err == nil {
		t.Errorf("a mode that is no number was read")
	}
}

// Malformed volume additions are refused.
func TestParseRefusesMalformedVolumeAdditions(t *testing.T) {
	for _, raw := range []string{
		`{"properties":{"volumes":[{"name":"a","emptyDir":{"sizeLimit":"lots"}}]}}`,
		`{"properties":{"volumes":[{"name":"a","fileModes":{"x":4294967296}}]}}`,
		`{"properties":{"securityContext":{"fsGroup":"root"}}}`,
	} {
		if _, err := ParseGroup([]byte(raw)); err == nil {
			t.Errorf("ParseGroup(%s) succeeded", raw)
		}
	}
}
