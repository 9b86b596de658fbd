package aci

import (
	"encoding/json"
	"reflect"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// With the extension every (init) container tells the service where it
// writes its termination message, Kubernetes' defaults filling what the
// pod leaves empty; without it (Azure) nothing is sent.
func TestConvertTerminationMessages(t *testing.T) {
	pod := testPod(
		corev1.Container{Name: "app", Image: "img", TerminationMessagePath: "/var/run/done",
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError},
		corev1.Container{Name: "plain", Image: "img"})
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "img",
		TerminationMessagePath: corev1.TerminationMessagePathDefault, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}
	o := testOptions()
	s, err := convert(&backend.Workload{Pod: pod}, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.ext.TerminationMessages != nil {
		t.Errorf("without the extension: %+v", s.ext.TerminationMessages)
	}
	o.termination = true
	if s, err = convert(&backend.Workload{Pod: pod}, o); err != nil {
		t.Fatal(err)
	}
	want := map[string]wire.TerminationMessage{
		"app":   {Path: "/var/run/done", Policy: wire.TerminationMessageFallbackToLogsOnError},
		"plain": {Path: wire.DefaultTerminationMessagePath, Policy: wire.TerminationMessageFile},
		"setup": {Path: wire.DefaultTerminationMessagePath, Policy: wire.TerminationMessageFile},
	}
	if !reflect.DeepEqual(s.ext.TerminationMessages, want) {
		t.Errorf("settings %+v, want %+v", s.ext.TerminationMessages, want)
	}
	if corev1.TerminationMessagePathDefault != wire.DefaultTerminationMessagePath ||
		string(corev1.TerminationMessageReadFile) != wire.TerminationMessageFile ||
		string(corev1.TerminationMessageFallbackToLogsOnError) != wire.TerminationMessageFallbackToLogsOnError {
		t.Error("the wire's names differ from Kubernetes'")
	}
}

// The service's messages read from a group's JSON become the terminated
// states' messages, after the service's detail; a running state has none.
func TestTerminationMessageStates(t *testing.T) {
	body := []byte(`{"name":"default-web","properties":{
		"initContainers":[{"name":"setup","properties":{"instanceView":{"currentState":{"state":"Terminated","message":"set up"}}}}],
		"containers":[{"name":"main","properties":{"instanceView":{"ready":false,
			"currentState":{"state":"Terminated","message":"DONE"},"previousState":{"state":"Terminated","message":"before"}}}}]}}`)
	var r additionsJSON
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var v view
	r.apply(&v)
	if want := map[string]wire.StateMessages{"setup": {Current: "set up"}, "main": {Current: "DONE", Previous: "before"}}; !reflect.DeepEqual(v.messages, want) ||
		!reflect.DeepEqual(v.ready, map[string]bool{"main": false}) {
		t.Fatalf("additions: messages %+v, ready %+v", v.messages, v.ready)
	}
	g := testGroup("Succeeded", cstate("Terminated", "Completed", 0), cstate("Terminated", "Killed", 137))
	g.Properties.InitContainers = []*aci.InitContainerDefinition{{Name: ptr("setup"), Properties: &aci.InitContainerPropertiesDefinition{
		Image: ptr("img"), InstanceView: &aci.InitContainerPropertiesDefinitionInstanceView{CurrentState: cstate("Terminated", "Completed", 0)}}}}
	v.group = g
	st := podState(v)
	c := st.Containers[0]
	if c.Message != "DONE" || c.Last == nil || c.Last.Message != "Killed: before" || st.InitContainers[0].Message != "set up" {
		t.Errorf("messages: current %q, last %+v, init %q", c.Message, c.Last, st.InitContainers[0].Message)
	}
	v.group = testGroup("Succeeded", cstate("Running", "", 0), nil)
	if c := podState(v).Containers[0]; c.State != backend.Running || c.Message != "" {
		t.Errorf("a running state: %+v", c)
	}
}
