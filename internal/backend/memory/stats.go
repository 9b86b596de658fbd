package memory

import (
	"context"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
)

// Simulated resource use of a running container: a steady 10 millicores,
// and a working set of 16 MiB that grows by 4 KiB a second.
const (
	statsNanoCores     = 10_000_000
	statsBaseMemory    = 16 << 20
	statsMemoryPerSec  = 4 << 10
	statsMinimumUptime = time.Second
)

// Stats implements backend.ContainerIO: the usage of every running
// container, a deterministic function of how long it has run, never zero.
func (b *Backend) Stats(context.Context) ([]backend.PodStats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Clock.Now()
	var out []backend.PodStats
	for _, wl := range b.workloads {
		ps := backend.PodStats{
			Pod:       backend.PodRef{UID: wl.pod.UID, Namespace: wl.pod.Namespace, Name: wl.pod.Name},
			Time:      now,
			StartTime: wl.state.StartTime,
		}
		for _, c := range wl.state.Containers {
			if c.State == backend.Running {
				ps.Containers = append(ps.Containers, containerStats(c.Name, c.StartedAt, now))
			}
		}
		if len(ps.Containers) > 0 {
			out = append(out, ps)
		}
	}
	return out, nil
}

func containerStats(name string, started, now time.Time) backend.ContainerStats {
	// Counting from a second before the start keeps every value above 0.
	up := max(now.Sub(started), 0) + statsMinimumUptime
	return backend.ContainerStats{
		Name:                 name,
		StartTime:            started,
		UsageNanoCores:       statsNanoCores,
		UsageCoreNanoSeconds: uint64(up.Seconds() * statsNanoCores),
		WorkingSetBytes:      statsBaseMemory + uint64(up/time.Second)*statsMemoryPerSec,
	}
}
