package aci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// Stats implements backend.ContainerIO with the stats extension, one read
// per running group; without it (Azure: usage lives in Azure Monitor) it
// returns no stats.
func (b *Backend) Stats(ctx context.Context) ([]backend.PodStats, error) {
	if !b.ext.has(wire.ExtStats) {
		return nil, nil
	}
	b.mu.Lock()
	var running []entry
	for _, e := range b.entries {
		if !e.creating && !e.deleting && e.state != nil && anyRunning(e.state) {
			running = append(running, *e)
		}
	}
	b.mu.Unlock()
	var out []backend.PodStats
	for _, e := range running {
		st, err := b.groupStats(ctx, e.group)
		if errors.Is(err, backend.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ps := backend.PodStats{Pod: e.ref(), Time: st.Time, StartTime: e.state.StartTime}
		started := map[string]backend.ContainerState{}
		for _, c := range e.state.Containers {
			started[c.Name] = c
		}
		for _, c := range st.Containers {
			ps.Containers = append(ps.Containers, backend.ContainerStats{Name: c.Name, StartTime: started[c.Name].StartedAt,
				UsageNanoCores: c.CPUUsageNanoCores, UsageCoreNanoSeconds: c.CPUUsageCoreNanoSeconds,
				WorkingSetBytes: c.MemoryWorkingSetBytes, UsageBytes: c.MemoryUsageBytes, RSSBytes: c.MemoryRSSBytes,
				Probes: probeCounts(c.Probes)})
		}
		if n := st.Network; n != nil {
			ps.Network = &backend.NetworkStats{Interface: n.Interface, RxBytes: n.RxBytes, RxErrors: n.RxErrors,
				TxBytes: n.TxBytes, TxErrors: n.TxErrors}
		}
		out = append(out, ps)
	}
	return out, nil
}

// groupStats reads GET …/containerGroups/{name}/stats.
func (b *Backend) groupStats(ctx context.Context, group string) (wire.GroupStats, error) {
	req, err := b.newRequest(ctx, http.MethodGet, b.groupPath(group)+"/stats", nil)
	if err != nil {
		return wire.GroupStats{}, err
	}
	resp, err := b.do(req, "read the stats of "+group, http.StatusOK)
	if err != nil {
		return wire.GroupStats{}, err
	}
	var st wire.GroupStats
	if err := azruntime.UnmarshalAsJSON(resp, &st); err != nil {
		return wire.GroupStats{}, fmt.Errorf("read the stats of %s: %w", group, err)
	}
	return st, nil
}

func anyRunning(st *backend.PodState) bool {
	for _, c := range st.Containers {
		if c.State == backend.Running {
			return true
		}
	}
	return false
}

func probeCounts(in []wire.ProbeCount) []backend.ProbeCount {
	var out []backend.ProbeCount
	for _, p := range in {
		out = append(out, backend.ProbeCount{Probe: p.Probe, Result: p.Result, Count: p.Count})
	}
	return out
}
