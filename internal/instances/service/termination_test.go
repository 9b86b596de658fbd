package service

import (
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/wire"
)

// Where containers write their termination messages reaches the runtime,
// and the messages of terminated states come back as additions to the
// instance view, next to the settings, which GET returns as PUT sent them.
func TestTerminationMessages(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "job"}
	body := groupBody("local", "Never", 1, 1, "x")
	body.Properties.Containers[0].Properties.Command = []*string{to.Ptr("exit"), to.Ptr("2")}
	body.Properties.InitContainers = []*aci.InitContainerDefinition{{Name: to.Ptr("init"),
		Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr("busybox"),
			Command: []*string{to.Ptr("sh"), to.Ptr("-c"), to.Ptr("echo -n DONE > /dev/termination-log")}}}}
	ext := wire.GroupExtensions{TerminationMessages: map[string]wire.TerminationMessage{
		"init": {Path: wire.DefaultTerminationMessagePath},
		"main": {Path: wire.DefaultTerminationMessagePath, Policy: wire.TerminationMessageFallbackToLogsOnError}}}
	if _, err := h.s.CreateOrUpdate(h.ctx, ref, body, ext); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	h.sync()
	a := h.s.Additions(ref)
	want := map[string]wire.StateMessages{"init": {Current: "DONE"}, "main": {Current: "container main started\n"}}
	if len(a.Messages) != 2 || a.Messages["init"] != want["init"] || a.Messages["main"] != want["main"] {
		t.Errorf("messages %+v, want %+v", a.Messages, want)
	}
	if !a.GroupExtensions.Equal(ext) {
		t.Errorf("additions' settings %+v, want %+v", a.TerminationMessages, ext.TerminationMessages)
	}
	g, err := h.s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(g)
	if err == nil {
		data, err = wire.ApplyGroup(data, a)
	}
	if err != nil {
		t.Fatal(err)
	}
	if back, err := wire.ParseGroup(data); err != nil || !back.Equal(ext) {
		t.Errorf("GET's settings %+v, %v; want %+v", back.TerminationMessages, err, ext.TerminationMessages)
	}
	var doc struct {
		Properties struct {
			Containers []struct {
				Properties struct {
					InstanceView struct {
						CurrentState struct{ Message string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Properties.Containers[0].Properties.InstanceView.CurrentState.Message != want["main"].Current {
		t.Errorf("GET's instance view: %s (%v)", data, err)
	}
	// A restarted service has the messages from the store.
	h.s.Close()
	h.s = h.open()
	if got := h.s.Additions(ref).Messages; got["init"] != want["init"] || got["main"] != want["main"] {
		t.Errorf("after a restart of the service: %+v", got)
	}
}
