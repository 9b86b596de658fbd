package validate

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// Granularity of requests and limits, and the tolerance for float error.
const (
	cpuStep    = 0.01
	memoryStep = 0.1
	tolerance  = 1e-6
)

// checkResources checks one container's requests and limits.
func checkResources(r *aci.ResourceRequirements, name, at string) *errdefs.Error {
	if r == nil || r.Requests == nil {
		return errdefs.InvalidField(CodeMissingContainerResourceRequests, at+".requests",
			"The container '%s' has no resource requests. Set resources.requests.cpu and resources.requests.memoryInGB.", name)
	}
	rq := r.Requests
	err := first(
		func() *errdefs.Error { return checkRequest(rq.CPU, "cpu", cpuStep, name, at+".requests") },
		func() *errdefs.Error {
			return checkRequest(rq.MemoryInGB, "memoryInGB", memoryStep, name, at+".requests")
		},
		func() *errdefs.Error { return checkGPU(rq.Gpu, name, at+".requests.gpu") },
	)
	if err != nil || r.Limits == nil {
		return err
	}
	l := r.Limits
	return first(
		func() *errdefs.Error { return checkLimit(l.CPU, "cpu", cpuStep, name, at+".limits") },
		func() *errdefs.Error { return checkLimit(l.MemoryInGB, "memoryInGB", memoryStep, name, at+".limits") },
		func() *errdefs.Error { return checkGPU(l.Gpu, name, at+".limits.gpu") },
	)
}

// checkRequest checks requests.<field> of a container; at is the path of
// requests.
func checkRequest(v *float64, field string, step float64, name, at string) *errdefs.Error {
	if v == nil {
		return errdefs.InvalidField(CodeMissingContainerResourceRequests, at+"."+field,
			"The container '%s' has no %s request. Set resources.requests.%s.", name, field, field)
	}
	if p := amountProblem(*v, step); p != "" {
		return errdefs.InvalidField(CodeInvalidContainerResourceRequests, at+"."+field,
			"The %s request %s of container '%s' is invalid: it %s.", field, amount(*v), name, p)
	}
	return nil
}

// checkLimit checks limits.<field> of a container, which may be absent; at
// is the path of limits.
func checkLimit(v *float64, field string, step float64, name, at string) *errdefs.Error {
	if v == nil {
		return nil
	}
	if p := amountProblem(*v, step); p != "" {
		return errdefs.InvalidField(CodeInvalidContainerResourceLimits, at+"."+field,
			"The %s limit %s of container '%s' is invalid: it %s.", field, amount(*v), name, p)
	}
	return nil
}

// amountProblem says why v is not a positive multiple of step, "" if it is.
func amountProblem(v, step float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return "must be greater than 0"
	}
	if q := v / step; math.Abs(q-math.Round(q)) > tolerance {
		return fmt.Sprintf("must be a multiple of %g", step)
	}
	return ""
}

func checkGPU(g *aci.GpuResource, name, at string) *errdefs.Error {
	if g == nil {
		return nil
	}
	if g.Count == nil || *g.Count <= 0 {
		return errdefs.InvalidField(CodeInvalidGpuResource, at+".count",
			"The GPU resource of container '%s' needs a count of at least 1.", name)
	}
	if g.SKU != nil {
		for _, s := range aci.PossibleGpuSKUValues() {
			if strings.EqualFold(string(*g.SKU), string(s)) {
				return nil
			}
		}
	}
	return errdefs.InvalidField(CodeInvalidGpuResource, at+".sku",
		"The GPU SKU '%s' of container '%s' is invalid. Use one of %s.", gpuSKU(g), name, gpuSKUs())
}

func gpuSKU(g *aci.GpuResource) string {
	if g == nil || g.SKU == nil {
		return ""
	}
	return string(*g.SKU)
}

func gpuSKUs() string {
	var s []string
	for _, v := range aci.PossibleGpuSKUValues() {
		s = append(s, "'"+string(v)+"'")
	}
	return strings.Join(s, ", ")
}

// totals are a group's summed requests.
type totals struct {
	cpu, memory float64
	gpu         int64
}

// sumRequests adds up the requests of containers that checkResources passed.
func sumRequests(cs []*aci.Container) totals {
	var t totals
	for _, ct := range cs {
		rq := requests(ct)
		if rq == nil {
			continue
		}
		t.cpu += deref(rq.CPU)
		t.memory += deref(rq.MemoryInGB)
		t.gpu += gpuCount(rq.Gpu)
	}
	return t
}

// groupResources checks the group's total requests against the containers'
// limits, the minimum per group and the location's capabilities.
func (c *checker) groupResources(cs []*aci.Container) *errdefs.Error {
	t := sumRequests(cs)
	for i, ct := range cs {
		if err := limitsWithin(ct, t, fmt.Sprintf("properties.containers[%d].properties.resources.limits", i)); err != nil {
			return err
		}
	}
	if err := c.minimum(t); err != nil {
		return err
	}
	return c.capabilities(t, cs)
}

// limitsWithin checks that a container's limits do not exceed the group's
// total requests (ACI's wording).
func limitsWithin(ct *aci.Container, t totals, at string) *errdefs.Error {
	if ct == nil || ct.Properties == nil || ct.Properties.Resources == nil || ct.Properties.Resources.Limits == nil {
		return nil
	}
	l := ct.Properties.Resources.Limits
	name := str(ct.Name)
	over := func(what, field string, limit, total float64) *errdefs.Error {
		return errdefs.InvalidField(CodeContainerLimitGreaterThanContainerGroupTotalRequest, at+"."+field,
			"The '%s' limit '%s' in container '%s' is greater than the total request '%s' of the container group. "+
				"Lower the limit to at most %s or raise the requests.", what, amount(limit), name, amount(total), amount(total))
	}
	switch {
	case l.CPU != nil && *l.CPU > t.cpu+tolerance:
		return over("Cpu", "cpu", *l.CPU, t.cpu)
	case l.MemoryInGB != nil && *l.MemoryInGB > t.memory+tolerance:
		return over("MemoryInGB", "memoryInGB", *l.MemoryInGB, t.memory)
	case gpuCount(l.Gpu) > t.gpu:
		return over("Gpu", "gpu.count", float64(gpuCount(l.Gpu)), float64(t.gpu))
	}
	return nil
}

func (c *checker) minimum(t totals) *errdefs.Error {
	below := func(what string, total, lowest float64) *errdefs.Error {
		return errdefs.InvalidField(CodeContainerGroupResourceRequestBelowMinimum, "properties.containers",
			"The containers request %s %s in total; a container group must request at least %s %s. "+
				"Raise the containers' requests.", amount(total), what, amount(lowest), what)
	}
	if m := c.lim.MinGroupCPU; m > 0 && t.cpu < m-tolerance {
		return below("CPU", t.cpu, m)
	}
	if m := c.lim.MinGroupMemoryInGB; m > 0 && t.memory < m-tolerance {
		return below("GB of memory", t.memory, m)
	}
	return nil
}

func (c *checker) capabilities(t totals, cs []*aci.Container) *errdefs.Error {
	caps := c.loc.Capabilities
	above := func(target, what string, total, allowed float64) *errdefs.Error {
		return errdefs.InvalidField(CodeContainerGroupResourceRequestExceedsCapabilities, target,
			"The containers request %s %s in total, but a container group in location '%s' may request at most %s %s. "+
				"Lower the containers' requests.", amount(total), what, c.loc.Name, amount(allowed), what)
	}
	if caps.MaxCPU > 0 && t.cpu > caps.MaxCPU+tolerance {
		return above("properties.containers", "CPU", t.cpu, caps.MaxCPU)
	}
	if caps.MaxMemoryInGB > 0 && t.memory > caps.MaxMemoryInGB+tolerance {
		return above("properties.containers", "GB of memory", t.memory, caps.MaxMemoryInGB)
	}
	if t.gpu > int64(caps.MaxGPUCount) {
		return above(firstGPU(cs), "GPU", float64(t.gpu), float64(caps.MaxGPUCount))
	}
	return nil
}

// firstGPU is the path of the first container's GPU request.
func firstGPU(cs []*aci.Container) string {
	for i, ct := range cs {
		if rq := requests(ct); rq != nil && rq.Gpu != nil {
			return fmt.Sprintf("properties.containers[%d].properties.resources.requests.gpu", i)
		}
	}
	return "properties.containers"
}

func requests(ct *aci.Container) *aci.ResourceRequests {
	if ct == nil || ct.Properties == nil || ct.Properties.Resources == nil {
		return nil
	}
	return ct.Properties.Resources.Requests
}

func gpuCount(g *aci.GpuResource) int64 {
	if g == nil || g.Count == nil {
		return 0
	}
	return int64(*g.Count)
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

// amount formats a CPU or memory amount without float noise.
func amount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
