package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
)

const request = `{"location":"local","properties":{"osType":"Linux",
 "hostname":"db-0","fqdn":"db-0.db.default.svc.cluster.local",
 "hostAliases":[{"ip":"10.1.2.3","hostnames":["foo.local","bar"]}],"containers":[
 {"name":"db","properties":{"image":"redis","livenessProbe":{"tcpSocket":{"port":6379},"periodSeconds":5},
  "readinessProbe":{"exec":{"command":["true"]}},
  "startupProbe":{"httpGet":{"path":"/started","port":80},"periodSeconds":1,"failureThreshold":30},
  "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"FallbackToLogsOnError",
  "environmentVariables":[{"name":"A","value":"1"},{"name":"IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}]}},
 {"name":"web","properties":{"image":"hello","readinessProbe":{"tcpSocket":{"port":80}},
  "livenessProbe":{"grpc":{"port":9000,"service":"svc"},"periodSeconds":2},
  "startupProbe":{"grpc":{"port":9000}},"args":["--port","80"]}},
 {"name":"plain","properties":{"image":"x","command":["/bin/sh"],"args":[]}}],
 "initContainers":[{"name":"setup","properties":{"image":"x","args":["-c","echo $MY_IP"],
  "terminationMessagePath":"/tmp/done",
  "environmentVariables":[{"name":"MY_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIPs"}}}]}}]}}`

// An addition survives the SDK's decoding and encoding when applied back,
// and reads the same again.
func TestParseApplyRoundTrip(t *testing.T) {
	ext, err := ParseGroup([]byte(request))
	if err != nil {
		t.Fatal(err)
	}
	want := GroupExtensions{
		Probes: map[string]Probes{"db": {Liveness: &TCPSocket{Port: 6379}},
			"web": {Readiness: &TCPSocket{Port: 80}, LivenessGRPC: &GRPC{Port: 9000, Service: "svc"}}},
		StartupProbes: map[string]Probe{
			"db":  {HTTPGet: &ProbeHTTPGet{Path: "/started", Port: 80}, PeriodSeconds: ptr(int32(1)), FailureThreshold: ptr(int32(30))},
			"web": {GRPC: &GRPC{Port: 9000}}},
		FieldEnv: map[string][]FieldEnv{"db": {{Name: "IP", FieldPath: FieldPodIP}},
			"setup": {{Name: "MY_IP", FieldPath: FieldPodIPs}}},
		Hostname:    "db-0",
		FQDN:        "db-0.db.default.svc.cluster.local",
		HostAliases: []HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar"}}},
		TerminationMessages: map[string]TerminationMessage{
			"db":    {Path: DefaultTerminationMessagePath, Policy: TerminationMessageFallbackToLogsOnError},
			"setup": {Path: "/tmp/done"}},
		Args: map[string][]string{"web": {"--port", "80"}, "setup": {"-c", "echo $MY_IP"}},
	}
	if !reflect.DeepEqual(ext, want) {
		t.Fatalf("Parse = %+v, want %+v", ext, want)
	}
	var g aci.ContainerGroup
	if err := json.Unmarshal([]byte(request), &g); err != nil {
		t.Fatal(err)
	}
	sdk, err := json.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	if lost, _ := ParseGroup(sdk); !lost.IsZero() {
		t.Fatalf("the SDK kept the additions (%+v): the package would not be needed", lost)
	}
	applied, err := ApplyGroup(sdk, GroupAdditions{GroupExtensions: ext})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseGroup(applied)
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("after Apply: %+v, %v", again, err)
	}
	var back aci.ContainerGroup
	if err := json.Unmarshal(applied, &back); err != nil {
		t.Fatal(err)
	}
	db := back.Properties.Containers[0].Properties
	if *db.LivenessProbe.PeriodSeconds != 5 || *db.ReadinessProbe.Exec.Command[0] != "true" ||
		len(db.EnvironmentVariables) != 2 || *db.EnvironmentVariables[0].Value != "1" {
		t.Errorf("Apply changed the rest of the spec: %s", applied)
	}
	if web := back.Properties.Containers[1].Properties; *web.LivenessProbe.PeriodSeconds != 2 {
		t.Errorf("Apply changed the timing of a grpc probe: %s", applied)
	}
	if plain := back.Properties.Containers[2].Properties; len(plain.Command) != 1 || *plain.Command[0] != "/bin/sh" {
		t.Errorf("Apply changed a command beside args: %s", applied)
	}
	if out, err := ApplyGroup(sdk, GroupAdditions{}); err != nil || string(out) != string(sdk) {
		t.Errorf("Apply without additions changed the JSON")
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for what, body := range map[string]string{
		"a port that is not a number": `{"properties":{"containers":[{"name":"a","properties":{"livenessProbe":{"tcpSocket":{"port":"eighty"}}}}]}}`,
		"args that are not strings":   `{"properties":{"containers":[{"name":"a","properties":{"args":["-c",1]}}]}}`,
		"args that are not a list":    `{"properties":{"initContainers":[{"name":"a","properties":{"args":"-c"}}]}}`,
	} {
		if _, err := ParseGroup([]byte(body)); err == nil {
			t.Errorf("%s was accepted", what)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestApplyReadiness(t *testing.T) {
	in := []byte(`{"name":"g","properties":{"containers":[
		{"name":"a","properties":{"image":"x","instanceView":{"restartCount":0}}},
		{"name":"b","properties":{"image":"y","instanceView":{"restartCount":1}}},
		{"name":"c","properties":{"image":"z"}}]}}`)
	out, err := ApplyGroup(in, GroupAdditions{Ready: map[string]bool{"a": true}, Started: map[string]bool{"a": true}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			Containers []struct {
				Name       string
				Properties struct {
					Image        string
					InstanceView *struct {
						Ready        *bool
						Started      *bool
						RestartCount int
					}
				}
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	cs := doc.Properties.Containers
	if *cs[0].Properties.InstanceView.Ready != true || *cs[1].Properties.InstanceView.Ready != false ||
		cs[1].Properties.InstanceView.RestartCount != 1 || cs[2].Properties.InstanceView != nil || cs[2].Properties.Image != "z" {
		t.Errorf("readiness added wrongly: %s", out)
	}
	if *cs[0].Properties.InstanceView.Started != true || *cs[1].Properties.InstanceView.Started != false {
		t.Errorf("started added wrongly: %s", out)
	}
	if _, err := ApplyGroup([]byte("not json"), GroupAdditions{Ready: map[string]bool{}}); err == nil {
		t.Error("a malformed group was accepted")
	}
}

// Termination messages go into the current and previous states of the
// instance views of containers and init containers, and only where a
// state is there to hold them.
// Image IDs go into the instance views of containers and init containers.
func TestApplyImageIDs(t *testing.T) {
	in := []byte(`{"name":"g","properties":{
		"containers":[{"name":"a","properties":{"image":"x","instanceView":{"restartCount":0}}},{"name":"b","properties":{"image":"y"}}],
		"initContainers":[{"name":"i","properties":{"image":"z","instanceView":{}}}]}}`)
	out, err := ApplyGroup(in, GroupAdditions{ImageIDs: map[string]string{"a": "x@sha256:1", "b": "y@sha256:2", "i": "z@sha256:3"}})
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Properties struct {
			InstanceView *struct{ ImageID string }
		}
	}
	var doc struct {
		Properties struct{ Containers, InitContainers []container }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	cs, is := doc.Properties.Containers, doc.Properties.InitContainers
	if cs[0].Properties.InstanceView.ImageID != "x@sha256:1" || cs[1].Properties.InstanceView != nil ||
		is[0].Properties.InstanceView.ImageID != "z@sha256:3" {
		t.Errorf("image IDs added wrongly: %s", out)
	}
}

func TestApplyMessages(t *testing.T) {
	in := []byte(`{"name":"g","properties":{
		"containers":[
			{"name":"a","properties":{"image":"x","instanceView":{"currentState":{"state":"Terminated"},
				"previousState":{"state":"Terminated"}}}},
			{"name":"b","properties":{"image":"y","instanceView":{"currentState":{"state":"Running"}}}},
			{"name":"c","properties":{"image":"z"}}],
		"initContainers":[{"name":"i","properties":{"image":"x","instanceView":{"currentState":{"state":"Terminated"}}}}]}}`)
	out, err := ApplyGroup(in, GroupAdditions{Messages: map[string]StateMessages{
		"a": {Current: "DONE", Previous: "before"}, "b": {Previous: "gone"}, "c": {Current: "nowhere"}, "i": {Current: "init done"}}})
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		State   string
		Message *string
	}
	type container struct {
		Name       string
		Properties struct {
			InstanceView *struct {
				CurrentState, PreviousState *state
			}
		}
	}
	var doc struct {
		Properties struct {
			Containers, InitContainers []container
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	msg := func(s *state) string {
		if s == nil || s.Message == nil {
			return "<none>"
		}
		return *s.Message
	}
	cs, is := doc.Properties.Containers, doc.Properties.InitContainers
	a, b := cs[0].Properties.InstanceView, cs[1].Properties.InstanceView
	if msg(a.CurrentState) != "DONE" || msg(a.PreviousState) != "before" || msg(b.CurrentState) != "<none>" ||
		b.PreviousState != nil || cs[2].Properties.InstanceView != nil ||
		msg(is[0].Properties.InstanceView.CurrentState) != "init done" {
		t.Errorf("messages added wrongly: %s", out)
	}
}
