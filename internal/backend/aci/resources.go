package aci

import (
	"fmt"
	"math"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ACI's granularity of requests and limits.
const (
	cpuStep    = 0.01
	memoryStep = 0.1
	bytesPerGB = 1e9
)

// Requests given to a container that states none; the group minimum then
// lifts the first container.
const (
	defaultCPU      = 0.1
	defaultMemoryGB = 0.1
)

// Limits is what a location and the service allow a group to request.
type Limits struct {
	// MinCPU and MinMemoryGB are the least a group requests in total (ACI:
	// 1 and 1); the first container is raised to reach them.
	MinCPU, MinMemoryGB float64
	// MaxCPU and MaxMemoryGB are the location's capabilities; zero: unknown.
	MaxCPU, MaxMemoryGB float64
}

// ceilTo rounds v up to a multiple of step, ignoring float noise.
func ceilTo(v, step float64) float64 {
	n := math.Ceil(v/step - 1e-9)
	return math.Round(n*step*1000) / 1000
}

func cpuOf(q resource.Quantity) float64 {
	return ceilTo(float64(q.MilliValue())/1000, cpuStep)
}

func memoryOf(q resource.Quantity) float64 {
	return ceilTo(float64(q.Value())/bytesPerGB, memoryStep)
}

// containerRequests returns a container's CPU and memory requests in ACI's
// units, rounded up: the request, else the limit, else the defaults.
func containerRequests(r corev1.ResourceRequirements) (cpu, mem float64) {
	cpu, mem = defaultCPU, defaultMemoryGB
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		cpu = cpuOf(q)
	}
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		cpu = cpuOf(q)
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; ok {
		mem = memoryOf(q)
	}
	if q, ok := r.Requests[corev1.ResourceMemory]; ok {
		mem = memoryOf(q)
	}
	return max(cpu, cpuStep), max(mem, memoryStep)
}

// setResources fills the resources of a group's containers from the pod's
// containers (same order): requests rounded up to ACI's steps, the first
// container raised to the group minimum, and limits no higher than the
// group's total request, as ACI requires. A container without limits gets
// the group's total, so that it may use what the pod requested, as in
// Kubernetes. It fails when the group exceeds the location's capabilities.
func setResources(ctrs []*aci.Container, spec []corev1.Container, lim Limits, location string) error {
	var totalCPU, totalMem float64
	reqs := make([]*aci.ResourceRequests, len(ctrs))
	for i, c := range spec {
		cpu, mem := containerRequests(c.Resources)
		reqs[i] = &aci.ResourceRequests{CPU: ptr(cpu), MemoryInGB: ptr(mem)}
		totalCPU += cpu
		totalMem += mem
	}
	if len(reqs) > 0 {
		if short := lim.MinCPU - totalCPU; short > 1e-9 {
			*reqs[0].CPU = ceilTo(*reqs[0].CPU+short, cpuStep)
			totalCPU = lim.MinCPU
		}
		if short := lim.MinMemoryGB - totalMem; short > 1e-9 {
			*reqs[0].MemoryInGB = ceilTo(*reqs[0].MemoryInGB+short, memoryStep)
			totalMem = lim.MinMemoryGB
		}
	}
	totalCPU, totalMem = ceilTo(totalCPU, cpuStep), ceilTo(totalMem, memoryStep)
	if lim.MaxCPU > 0 && totalCPU > lim.MaxCPU+1e-9 {
		return fmt.Errorf("the pod requests %g CPU in total, but a container group in location %q may request at most %g (capabilities maxCpu)",
			totalCPU, location, lim.MaxCPU)
	}
	if lim.MaxMemoryGB > 0 && totalMem > lim.MaxMemoryGB+1e-9 {
		return fmt.Errorf("the pod requests %g GB of memory in total, but a container group in location %q may request at most %g GB (capabilities maxMemoryInGB)",
			totalMem, location, lim.MaxMemoryGB)
	}
	for i, c := range spec {
		limits := &aci.ResourceLimits{CPU: ptr(totalCPU), MemoryInGB: ptr(totalMem)}
		if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
			limits.CPU = ptr(min(max(cpuOf(q), *reqs[i].CPU), totalCPU))
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			limits.MemoryInGB = ptr(min(max(memoryOf(q), *reqs[i].MemoryInGB), totalMem))
		}
		ctrs[i].Properties.Resources = &aci.ResourceRequirements{Requests: reqs[i], Limits: limits}
	}
	return nil
}
