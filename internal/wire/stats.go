package wire

import "time"

// MeteredUsage is the body of the service's metering endpoint,
// GET /subscriptions/{sub}/providers/Microsoft.ContainerInstance/meteredUsage
// (a vnode extension of ACI's API).
type MeteredUsage struct {
	From  time.Time       `json:"from"`
	To    time.Time       `json:"to"`
	Value []MeteredRecord `json:"value"`
}

// MeteredRecord is the usage of one set of grouping values.
type MeteredRecord struct {
	Subscription  string  `json:"subscription,omitempty"`
	ResourceGroup string  `json:"resourceGroup,omitempty"`
	Location      string  `json:"location,omitempty"`
	Name          string  `json:"name,omitempty"`
	Seconds       int64   `json:"seconds"`
	VCPUSeconds   float64 `json:"vcpuSeconds"`
	GBSeconds     float64 `json:"memoryGBSeconds"`
	Cost          float64 `json:"cost"`
	Currency      string  `json:"currency"`
}

// GroupStats is the body of a container group's resource usage endpoint,
// GET .../containerGroups/{name}/stats (a vnode extension of ACI's API).
type GroupStats struct {
	// Time is when the usage was sampled.
	Time       time.Time        `json:"time"`
	Containers []ContainerStats `json:"containers"`
	// Network is the traffic of the group's network interface; absent when
	// the runtime cannot tell.
	Network *NetworkStats `json:"network,omitempty"`
}

// NetworkStats are the counters of a group's network interface since the
// group started.
type NetworkStats struct {
	Interface string `json:"interface"`
	RxBytes   uint64 `json:"rxBytes"`
	RxErrors  uint64 `json:"rxErrors"`
	TxBytes   uint64 `json:"txBytes"`
	TxErrors  uint64 `json:"txErrors"`
}

// ContainerStats is one running container's resource usage.
type ContainerStats struct {
	Name string `json:"name"`
	// CPUUsageNanoCores is the current CPU use in billionths of a core;
	// CPUUsageCoreNanoSeconds the CPU time used since the container started.
	CPUUsageNanoCores       uint64 `json:"cpuUsageNanoCores"`
	CPUUsageCoreNanoSeconds uint64 `json:"cpuUsageCoreNanoSeconds"`
	// MemoryWorkingSetBytes is the memory in use that cannot be reclaimed
	// at once (what the kubelet reports and OOM decisions look at).
	MemoryWorkingSetBytes uint64 `json:"memoryWorkingSetBytes"`
	// MemoryUsageBytes is all memory in use, page cache included;
	// MemoryRSSBytes the anonymous memory and swap cache.
	MemoryUsageBytes uint64 `json:"memoryUsageBytes"`
	MemoryRSSBytes   uint64 `json:"memoryRssBytes"`
	// Probes counts the container's probe results since its group was
	// deployed, across restarts.
	Probes []ProbeCount `json:"probes,omitempty"`
}

// ProbeCount is how many times a container's probe of one type
// ("Liveness", "Readiness", "Startup") had one result ("successful",
// "failed").
type ProbeCount struct {
	Probe  string `json:"probe"`
	Result string `json:"result"`
	Count  uint64 `json:"count"`
}
