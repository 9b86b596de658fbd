package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
)

const hooksRequest = `{"location":"local","properties":{"osType":"Linux","terminationGracePeriodSeconds":45,"containers":[
 {"name":"web","properties":{"image":"hello","lifecycle":{
  "postStart":{"exec":{"command":["sh","-c","echo started > /tmp/started"]}},
  "preStop":{"httpGet":{"path":"/drain","port":8080,"host":"10.241.0.7","scheme":"HTTPS",
   "httpHeaders":[{"name":"X-Drain","value":"now"},{"name":"X-Drain","value":"again"}]}}}}},
 {"name":"slow","properties":{"image":"hello","lifecycle":{"preStop":{"sleep":{"seconds":5}},
  "postStart":{"tcpSocket":{"port":80}}}}},
 {"name":"plain","properties":{"image":"x","lifecycle":{}}}]}}`

// Hooks and the grace period survive the SDK's decoding and encoding when
// applied back, and read the same again; an empty lifecycle is none.
func TestLifecycleRoundTrip(t *testing.T) {
	ext, err := ParseGroup([]byte(hooksRequest))
	if err != nil {
		t.Fatal(err)
	}
	grace := int64(45)
	want := GroupExtensions{TerminationGracePeriodSeconds: &grace, Lifecycle: map[string]Lifecycle{
		"web": {
			PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"sh", "-c", "echo started > /tmp/started"}}},
			PreStop: &LifecycleHandler{HTTPGet: &HTTPGetAction{Path: "/drain", Port: 8080, Host: "10.241.0.7", Scheme: "HTTPS",
				HTTPHeaders: []HTTPHeader{{Name: "X-Drain", Value: "now"}, {Name: "X-Drain", Value: "again"}}}},
		},
		"slow": {PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 5}},
			PostStart: &LifecycleHandler{TCPSocket: &TCPSocket{Port: 80}}},
	}}
	if !reflect.DeepEqual(ext, want) {
		t.Fatalf("Parse = %+v, want %+v", ext, want)
	}
	var g aci.ContainerGroup
	if err := json.Unmarshal([]byte(hooksRequest), &g); err != nil {
		t.Fatal(err)
	}
	sdk, err := json.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	if lost, _ := ParseGroup(sdk); !lost.IsZero() {
		t.Fatalf("the SDK kept the hooks (%+v)", lost)
	}
	applied, err := ApplyGroup(sdk, GroupAdditions{GroupExtensions: ext})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ParseGroup(applied); err != nil || !reflect.DeepEqual(again, want) || !again.Equal(want) {
		t.Errorf("after Apply: %+v, %v", again, err)
	}
	if (GroupExtensions{TerminationGracePeriodSeconds: &grace}).IsZero() ||
		(GroupExtensions{Lifecycle: map[string]Lifecycle{"a": {}}}).IsZero() {
		t.Error("IsZero misses the hooks or the grace period")
	}
}
