package service

import (
	"math"
	"strings"
)

// accounting keeps what admission needs — groups and active cores per
// subscription and location, active compute per location — up to date as
// groups change, so admitting a group costs the same with 10 groups or
// 10,000. Quantities are integers (milli-CPU, MB) so additions and
// subtractions never drift.
type accounting struct {
	bySub map[subLoc]*subUsage
	byLoc map[string]*locUsage
}

type subLoc struct{ sub, location string }

type subUsage struct {
	groups     int
	milliCores int64
}

type locUsage struct {
	milliCPU int64
	memoryMB int64
}

// share is what one group contributes to the totals.
type share struct {
	counted  bool
	active   bool
	milliCPU int64
	memoryMB int64
}

func newAccounting() *accounting {
	return &accounting{bySub: map[subLoc]*subUsage{}, byLoc: map[string]*locUsage{}}
}

func milli(f float64) int64 { return int64(math.Round(f * 1000)) }

func (a *accounting) sub(sub, location string) *subUsage {
	k := subLoc{strings.ToLower(sub), location}
	u := a.bySub[k]
	if u == nil {
		u = &subUsage{}
		a.bySub[k] = u
	}
	return u
}

func (a *accounting) loc(location string) *locUsage {
	u := a.byLoc[location]
	if u == nil {
		u = &locUsage{}
		a.byLoc[location] = u
	}
	return u
}

// apply adds (sign 1) or removes (sign -1) a group's share.
func (a *accounting) apply(g *group, s share, sign int64) {
	if !s.counted {
		return
	}
	su := a.sub(g.sub, g.location)
	su.groups += int(sign)
	if s.active {
		su.milliCores += sign * s.milliCPU
		lu := a.loc(g.location)
		lu.milliCPU += sign * s.milliCPU
		lu.memoryMB += sign * s.memoryMB
	}
}

// recount brings g's share up to date after any change. Callers hold s.mu.
func (s *Service) recount(g *group) {
	s.acct.apply(g, g.share, -1)
	cpu, mem := totals(g.spec)
	g.share = share{counted: true, active: holdsCompute(g), milliCPU: milli(cpu), memoryMB: milli(mem)}
	s.acct.apply(g, g.share, 1)
}

// uncount removes a deleted group's share. Callers hold s.mu.
func (s *Service) uncount(g *group) {
	s.acct.apply(g, g.share, -1)
	g.share = share{}
}
