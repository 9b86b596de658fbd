package localcluster

import (
	"context"
	"net"

	"github.com/vnode-io/vnode/internal/process"
)

// ComponentStatus is the state of one component of a cluster.
type ComponentStatus struct {
	Name    string `json:"name"`
	Pid     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Ready   bool   `json:"ready"`
	// Reason says why the component is not ready.
	Reason  string `json:"reason,omitempty"`
	LogPath string `json:"log"`
}

// Status is the state of the cluster in a state directory.
type Status struct {
	StateDir   string `json:"stateDir"`
	Kubeconfig string `json:"kubeconfig"`
	// SupervisorPid is the vnode process that runs the cluster; 0 when
	// none does.
	SupervisorPid int               `json:"supervisorPid,omitempty"`
	Components    []ComponentStatus `json:"components"`
}

// Ready reports whether a supervisor runs the cluster and every component
// is ready.
func (s Status) Ready() bool {
	if s.SupervisorPid == 0 {
		return false
	}
	for _, c := range s.Components {
		if !c.Ready {
			return false
		}
	}
	return true
}

// GetStatus inspects the cluster in stateDir: which processes run and
// whether each answers its readiness probe.
func GetStatus(ctx context.Context, stateDir string) (Status, error) {
	cfg, err := LoadConfig(stateDir)
	if err != nil {
		return Status{}, err
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return Status{}, err
	}
	l := layout{cfg.StateDir}
	st := Status{StateDir: l.root, Kubeconfig: l.adminKubeconfig()}
	if locked(l) {
		st.SupervisorPid, _ = process.ReadPid(l.supervisorPid())
	}
	for _, comp := range components(l, cfg, net.ParseIP(cfg.AdvertiseAddress)) {
		cs := ComponentStatus{Name: comp.name, LogPath: l.logFile(comp.name)}
		pid, err := process.ReadPid(l.pidFile(comp.name))
		switch {
		case err != nil:
			cs.Reason = err.Error()
		case !process.Running(pid, l.root):
			cs.Reason = "not running"
		default:
			cs.Pid, cs.Running = pid, true
			cs.Reason = probeOnce(ctx, comp.probe)
			cs.Ready = cs.Reason == ""
		}
		st.Components = append(st.Components, cs)
	}
	return st, nil
}

// probeOnce runs a probe and returns why it failed, or "".
func probeOnce(ctx context.Context, p probe) string {
	client, err := p.client()
	if err == nil {
		err = p.check(ctx, client)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
