package pods

import "testing"

func TestPodAndPodsReadTheInformerCache(t *testing.T) {
	f := newFixture(t, nil, newPod("a"), newPod("b"))
	if _, ok := f.ctrl.Pod("ns", "a"); ok {
		t.Fatal("Pod found a pod before the informer started")
	}
	f.run()
	// Running pods prove that the informers synced.
	f.waitInformer("a", running)
	f.waitInformer("b", running)
	if p, ok := f.ctrl.Pod("ns", "a"); !ok || p.UID != "uid-a" {
		t.Errorf("Pod(ns, a) = %v, %v", p, ok)
	}
	if _, ok := f.ctrl.Pod("ns", "missing"); ok {
		t.Error("Pod found a missing pod")
	}
	if _, ok := f.ctrl.Pod("other", "a"); ok {
		t.Error("Pod ignored the namespace")
	}
	if got := len(f.ctrl.Pods()); got != 2 {
		t.Errorf("Pods returned %d pods, want 2", got)
	}
}
