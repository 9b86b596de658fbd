package memory

import (
	"context"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
)

// Simulated resource use of a running container: a steady 10 millicores,
// a working set of 16 MiB that grows by 4 KiB a second (half of it
// anonymous, and 1 MiB of page cache beside it); and of a workload's
// interface, 1 KiB received and 512 bytes sent per second.
const (
	statsNanoCores     = 10_000_000
	statsBaseMemory    = 16 << 20
	statsMemoryPerSec  = 4 << 10
	statsPageCache     = 1 << 20
	statsMinimumUptime = time.Second
	statsRxPerSec      = 1 << 10
	statsTxPerSec      = 512
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
			up := uint64((max(now.Sub(wl.state.StartTime), 0) + statsMinimumUptime) / time.Second)
			ps.Network = &backend.NetworkStats{Interface: "eth0", RxBytes: up * statsRxPerSec, TxBytes: up * statsTxPerSec}
			out = append(out, ps)
		}
	}
	return out, nil
}

func containerStats(name string, started, now time.Time) backend.ContainerStats {
	// Counting from a second before the start keeps every value above 0.
	up := max(now.Sub(started), 0) + statsMinimumUptime
	working := statsBaseMemory + uint64(up/time.Second)*statsMemoryPerSec
	return backend.ContainerStats{
		Name:                 name,
		StartTime:            started,
		UsageNanoCores:       statsNanoCores,
		UsageCoreNanoSeconds: uint64(up.Seconds() * statsNanoCores),
		WorkingSetBytes:      working,
		UsageBytes:           working + statsPageCache,
		RSSBytes:             working / 2,
	}
}
