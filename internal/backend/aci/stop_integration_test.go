package aci_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci"
)

// requestLog counts the requests a proxy passes on, by method and the
// path's last segment, and keeps the queries of the stops.
type requestLog struct {
	mu     sync.Mutex
	counts map[string]int
	stops  []string
}

func (l *requestLog) observe(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	l.counts[r.Method+" "+last]++
	if r.Method == http.MethodPost && last == "stop" {
		l.stops = append(l.stops, r.URL.Query().Get("gracePeriodSeconds"))
	}
}

func (l *requestLog) count(what string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[what]
}

func (l *requestLog) stopGraces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.stops...)
}

// Stop stops a group's containers with the grace period and keeps the
// group: the backend pushes every container terminated, and the group
// stays stopped (listed, its logs readable, never deployed again) until
// Delete removes it.
func TestBackendStopKeepsTheGroup(t *testing.T) {
	requests := &requestLog{counts: map[string]int{}}
	files := proxied(t, startService(t, nil), requests.observe, nil)
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	w := workload("job", "1")
	uid := w.Pod.UID
	if err := b.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, uid, "Running", running)

	if err := b.Stop(ctx, uid, 3*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	st := rec.waitFor(t, uid, "every container terminated", (*backend.PodState).AllTerminated)
	if c := st.Containers[0]; c.State != backend.Terminated || c.Reason != backend.ReasonCompleted || c.FinishedAt.IsZero() || st.Failed {
		t.Errorf("stopped container %+v (workload failed: %v)", c, st.Failed)
	}
	rec.waitFor(t, uid, "a Killing event", func(st *backend.PodState) bool {
		for _, e := range st.Events {
			if e.Reason == backend.EventKilling && e.Container == "main" {
				return true
			}
		}
		return false
	})
	if err := b.Stop(ctx, uid, time.Second); err != nil {
		t.Errorf("stopping again: %v", err)
	}
	if got := requests.stopGraces(); len(got) != 1 || got[0] != "3" {
		t.Errorf("stop requests with gracePeriodSeconds %q, want one with 3", got)
	}

	// Polls go on (the list is read at least every slow poll) and
	// nothing deploys the group again.
	lists := requests.count("GET containerGroups")
	deadline := time.Now().Add(30 * time.Second)
	for requests.count("GET containerGroups") < lists+5 {
		if time.Now().After(deadline) {
			t.Fatal("the backend stopped polling")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := requests.count("POST start"); n != 0 {
		t.Errorf("the stopped group was deployed again (%d starts)", n)
	}
	groups, err := files.ClientFactory(-1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := groups.NewContainerGroupsClient().Get(ctx, "rg", aci.GroupName("default", "job"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := g.Properties; p == nil || p.InstanceView == nil || p.InstanceView.State == nil || *p.InstanceView.State != "Stopped" {
		t.Errorf("group properties %+v, want the instance view's state Stopped", p)
	}
	states, err := b.List(ctx)
	if err != nil || len(states) != 1 || !states[0].AllTerminated() {
		t.Errorf("List = %+v (%v), want the stopped group", states, err)
	}
	var logs bytes.Buffer
	if err := b.Logs(ctx, backend.PodRef{UID: uid, Namespace: "default", Name: "job"}, "main", backend.LogOptions{}, &logs); err != nil ||
		!strings.Contains(logs.String(), "started") {
		t.Errorf("logs of the stopped container: %q, %v", logs.String(), err)
	}

	if err := b.Stop(ctx, "no-such-uid", 0); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stop of an unknown pod: %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, uid, time.Second); err != nil {
		t.Fatalf("delete: %v", err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		states, err := b.List(ctx)
		if err == nil && len(states) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped group is still listed after its delete: %+v, %v", states, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := groups.NewContainerGroupsClient().Get(ctx, "rg", aci.GroupName("default", "job"), nil); err == nil {
		t.Error("the group still exists after the delete")
	}
}
