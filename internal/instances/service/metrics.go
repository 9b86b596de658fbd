package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnode-io/vnode/internal/instances/store"
)

// collector exposes the service's state at scrape time: groups by location
// and state, and the metered usage counters, read from the store so they
// survive restarts without losing or double-counting a second.
type collector struct {
	s        *Service
	groups   *prometheus.Desc
	vcpu     *prometheus.Desc
	memory   *prometheus.Desc
	cost     *prometheus.Desc
	seconds  *prometheus.Desc
	scrapeOK *prometheus.Desc
}

// Collector returns a Prometheus collector for the service.
func (s *Service) Collector() prometheus.Collector {
	dims := []string{"subscription", "resource_group", "location"}
	return &collector{
		s:        s,
		groups:   prometheus.NewDesc("vnode_instances_container_groups", "Container groups by location and state.", []string{"location", "state"}, nil),
		vcpu:     prometheus.NewDesc("vnode_instances_vcpu_seconds_total", "Metered vCPU-seconds of requested CPU.", dims, nil),
		memory:   prometheus.NewDesc("vnode_instances_memory_gb_seconds_total", "Metered GB-seconds of requested memory.", dims, nil),
		cost:     prometheus.NewDesc("vnode_instances_cost_total", "Metered cost at the configured prices.", append(dims, "currency"), nil),
		seconds:  prometheus.NewDesc("vnode_instances_group_seconds_total", "Metered running seconds summed over container groups.", dims, nil),
		scrapeOK: prometheus.NewDesc("vnode_instances_usage_scrape_success", "1 when the metered usage could be read from the store.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.groups, c.vcpu, c.memory, c.cost, c.seconds, c.scrapeOK} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	type locState struct{ loc, state string }
	counts := map[locState]int{}
	c.s.mu.Lock()
	for _, g := range c.s.groups {
		counts[locState{g.location, groupState(g)}]++
	}
	c.s.mu.Unlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.groups, prometheus.GaugeValue, float64(n), k.loc, k.state)
	}
	now := store.UnixSeconds(c.s.clock.Now())
	rows, err := c.s.store.Usage(c.s.ctx, store.UsageQuery{From: 0, To: now, Now: now,
		GroupBy: []string{"subscription", "resourceGroup", "location"}})
	if err != nil {
		c.s.log.Warn("read metered usage for metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.scrapeOK, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeOK, prometheus.GaugeValue, 1)
	for _, r := range rows {
		l := []string{r.Subscription, r.ResourceGroup, r.Location}
		ch <- prometheus.MustNewConstMetric(c.vcpu, prometheus.CounterValue, r.VCPUSeconds, l...)
		ch <- prometheus.MustNewConstMetric(c.memory, prometheus.CounterValue, r.GBSeconds, l...)
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.CounterValue, float64(r.Seconds), l...)
		ch <- prometheus.MustNewConstMetric(c.cost, prometheus.CounterValue, r.Cost, append(l, r.Currency)...)
	}
}
