package aci

import (
	"strings"
	"testing"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/backend"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func cstate(state, detail string, exit int32) *aci.ContainerState {
	s := &aci.ContainerState{State: ptr(state), StartTime: ptr(t0)}
	if detail != "" {
		s.DetailStatus = ptr(detail)
	}
	if state == "Terminated" {
		s.ExitCode, s.FinishTime = ptr(exit), ptr(t0.Add(time.Second))
	}
	return s
}

func testGroup(prov string, current, previous *aci.ContainerState, events ...*aci.Event) *aci.ContainerGroup {
	var iv *aci.ContainerPropertiesInstanceView
	if current != nil {
		iv = &aci.ContainerPropertiesInstanceView{CurrentState: current, PreviousState: previous, RestartCount: ptr[int32](2), Events: events}
	}
	return &aci.ContainerGroup{
		Name: ptr("default-web"),
		Tags: map[string]*string{TagUID: ptr("u1"), TagNamespace: ptr("default"), TagPodName: ptr("web"), TagNodeName: ptr("vn")},
		Properties: &aci.ContainerGroupPropertiesProperties{
			ProvisioningState: ptr(prov),
			IPAddress:         &aci.IPAddress{IP: ptr("10.241.0.7")},
			Containers: []*aci.Container{{Name: ptr("main"), Properties: &aci.ContainerProperties{Image: ptr("nginx"),
				InstanceView: iv}}},
		},
	}
}

func TestPodState(t *testing.T) {
	pullFailed := testGroup("Failed", nil, nil)
	pullFailed.Properties.InstanceView = &aci.ContainerGroupPropertiesInstanceView{Events: []*aci.Event{{Type: ptr("Warning"), Name: ptr("Failed"),
		Message: ptr(`failed to pull image "x": access denied`), LastTimestamp: ptr(t0)}}}
	otherFailed := testGroup("Failed", nil, nil)
	otherFailed.Properties.InstanceView = &aci.ContainerGroupPropertiesInstanceView{Events: []*aci.Event{{Type: ptr("Warning"), Name: ptr("Failed"),
		Message: ptr("the deployment timed out"), LastTimestamp: ptr(t0)}}}
	tests := []struct {
		name       string
		v          view
		state      backend.State
		reason     string
		exit       int32
		ready      bool
		failed     bool
		wantLast   bool
		wantReason string // the pod's reason
	}{
		{"pending", view{group: testGroup("Pending", nil, nil)}, backend.Waiting, "ContainerCreating", 0, false, false, false, ""},
		{"creating", view{group: testGroup("Creating", cstate("Waiting", "ContainerCreating", 0), nil)}, backend.Waiting, "ContainerCreating", 0, false, false, false, ""},
		{"running without readiness", view{group: testGroup("Succeeded", cstate("Running", "", 0), nil)}, backend.Running, "", 0, true, false, false, ""},
		{"running, not ready", view{group: testGroup("Succeeded", cstate("Running", "", 0), nil), ready: map[string]bool{"main": false}}, backend.Running, "", 0, false, false, false, ""},
		{"running, ready", view{group: testGroup("Succeeded", cstate("Running", "", 0), nil), ready: map[string]bool{"main": true}}, backend.Running, "", 0, true, false, false, ""},
		{"back-off", view{group: testGroup("Succeeded", cstate("Waiting", "CrashLoopBackOff", 0), cstate("Terminated", "Error", 3))}, backend.Waiting, "CrashLoopBackOff", 0, false, false, true, ""},
		{"completed", view{group: testGroup("Succeeded", cstate("Terminated", "Completed", 0), nil)}, backend.Terminated, "Completed", 0, false, false, false, ""},
		{"error", view{group: testGroup("Succeeded", cstate("Terminated", "Error", 2), nil)}, backend.Terminated, "Error", 2, false, false, false, ""},
		{"oom", view{group: testGroup("Succeeded", cstate("Terminated", "OOMKilled", 137), nil)}, backend.Terminated, "OOMKilled", 137, false, false, false, ""},
		{"killed", view{group: testGroup("Succeeded", cstate("Terminated", "Killed", 137), nil)}, backend.Terminated, "Error", 137, false, false, false, ""},
		{"image pull failed", view{group: pullFailed}, backend.Waiting, "ErrImagePull", 0, false, false, false, ""},
		{"deployment failed", view{group: otherFailed}, backend.Waiting, "ContainerCreating", 0, false, true, false, "ProviderFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := podState(tt.v)
			if st.UID != "u1" || st.Namespace != "default" || st.Name != "web" || st.IP != "10.241.0.7" {
				t.Errorf("identity = %s %s/%s %s", st.UID, st.Namespace, st.Name, st.IP)
			}
			c := st.Containers[0]
			if c.State != tt.state || c.Reason != tt.reason || c.ExitCode != tt.exit || c.Ready != tt.ready {
				t.Errorf("container = %+v; want %s %q exit %d ready %v", c, tt.state, tt.reason, tt.exit, tt.ready)
			}
			if st.Failed != tt.failed || st.Reason != tt.wantReason {
				t.Errorf("failed = %v %q, want %v %q", st.Failed, st.Reason, tt.failed, tt.wantReason)
			}
			if (c.Last != nil) != tt.wantLast {
				t.Errorf("last = %+v", c.Last)
			}
			if tt.wantLast && (c.Last.ExitCode != 3 || c.Last.Reason != "Error" || c.RestartCount != 2) {
				t.Errorf("last = %+v restarts %d", c.Last, c.RestartCount)
			}
		})
	}
}

func TestEventLog(t *testing.T) {
	ev := func(count int32, last time.Time) *aci.Event {
		return &aci.Event{Count: ptr(count), Name: ptr("BackOff"), Message: ptr("Back-off restarting"), Type: ptr("Warning"),
			FirstTimestamp: ptr(t0), LastTimestamp: ptr(last)}
	}
	started := &aci.Event{Count: ptr[int32](1), Name: ptr("Started"), Message: ptr("Started container"), Type: ptr("Normal"), LastTimestamp: ptr(t0)}
	log := eventLog{}
	got := log.fresh(view{group: testGroup("Succeeded", cstate("Running", "", 0), nil, started, ev(1, t0))}, false)
	if len(got) != 2 || got[0].Container != "main" || got[1].Type != "Warning" {
		t.Fatalf("first poll: %+v", got)
	}
	if got := log.fresh(view{group: testGroup("Succeeded", cstate("Running", "", 0), nil, started, ev(1, t0))}, false); len(got) != 0 {
		t.Errorf("repeated poll reported again: %+v", got)
	}
	got = log.fresh(view{group: testGroup("Succeeded", cstate("Running", "", 0), nil, started, ev(2, t0.Add(time.Second)))}, false)
	if len(got) != 1 || got[0].Reason != "BackOff" {
		t.Errorf("a repeat should be reported once: %+v", got)
	}
	primed := eventLog{}
	if got := primed.fresh(view{group: testGroup("Succeeded", cstate("Running", "", 0), nil, started)}, true); len(got) != 0 {
		t.Errorf("priming reported %+v", got)
	}
	if got := primed.fresh(view{group: testGroup("Succeeded", cstate("Running", "", 0), nil, started)}, false); len(got) != 0 {
		t.Errorf("after priming: %+v", got)
	}
}

func TestPollInterval(t *testing.T) {
	fast, slow := 250*time.Millisecond, 5*time.Second
	for _, tt := range []struct {
		busy     bool
		failures int
		want     time.Duration
	}{
		{false, 0, slow}, {true, 0, fast}, {true, 1, 500 * time.Millisecond}, {false, 3, 2 * time.Second},
		{false, 10, maxPollBackOff},
	} {
		if got := pollInterval(tt.busy, tt.failures, fast, slow); got != tt.want {
			t.Errorf("pollInterval(%v, %d) = %s, want %s", tt.busy, tt.failures, got, tt.want)
		}
	}
}

func TestInTransition(t *testing.T) {
	now := t0.Add(time.Hour)
	running := &backend.PodState{Containers: []backend.ContainerState{{State: backend.Running, Ready: true, StartedAt: t0}}}
	if inTransition(running, "Succeeded", now) {
		t.Errorf("a ready running group is steady")
	}
	if !inTransition(running, "Creating", now) {
		t.Errorf("a provisioning group is in transition")
	}
	waiting := &backend.PodState{Containers: []backend.ContainerState{{State: backend.Waiting, Reason: "ContainerCreating"}}}
	if !inTransition(waiting, "Succeeded", now) {
		t.Errorf("a creating container is in transition")
	}
	backoff := &backend.PodState{Containers: []backend.ContainerState{{State: backend.Waiting, Reason: "CrashLoopBackOff"}}}
	if inTransition(backoff, "Succeeded", now) {
		t.Errorf("a container in back-off is steady")
	}
	initFailed := &backend.PodState{
		InitContainers: []backend.ContainerState{{State: backend.Terminated, ExitCode: 1}, {State: backend.Waiting, Reason: "PodInitializing"}},
		Containers:     []backend.ContainerState{{State: backend.Waiting, Reason: "PodInitializing"}}}
	if inTransition(initFailed, "Succeeded", now) {
		t.Errorf("containers behind a failed init container are steady")
	}
	initFailed.InitContainers[0] = backend.ContainerState{State: backend.Waiting, Reason: "CrashLoopBackOff"}
	if inTransition(initFailed, "Succeeded", now) {
		t.Errorf("containers behind an init container in back-off are steady")
	}
	initFailed.InitContainers[0] = backend.ContainerState{State: backend.Running, StartedAt: now}
	if !inTransition(initFailed, "Succeeded", now) {
		t.Errorf("containers behind a running init container are in transition")
	}
}

func TestWriteFiltered(t *testing.T) {
	log := t0.Format(time.RFC3339Nano) + " one\n" + t0.Add(2*time.Second).Format(time.RFC3339Nano) + " two\n"
	var b strings.Builder
	limit := int64(2)
	if err := writeFiltered(&b, log, backend.LogOptions{SinceTime: t0.Add(time.Second), LimitBytes: &limit}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "tw" {
		t.Errorf("got %q", b.String())
	}
}

func TestExitCode(t *testing.T) {
	if n, ok := exitCode("exit code 3"); !ok || n != 3 {
		t.Errorf("exitCode = %d %v", n, ok)
	}
	if _, ok := exitCode("bye"); ok {
		t.Errorf("no code expected")
	}
}

// ACI's log of a container whose last output has no newline ends so, and
// filtering keeps it.
func TestWriteFilteredKeepsAnUnendedLastLine(t *testing.T) {
	log := t0.Format(time.RFC3339Nano) + " one\n" + t0.Add(2*time.Second).Format(time.RFC3339Nano) + " no-newline-at-end"
	var b strings.Builder
	if err := writeFiltered(&b, log, backend.LogOptions{SinceTime: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if b.String() != "no-newline-at-end" {
		t.Errorf("got %q", b.String())
	}
}
