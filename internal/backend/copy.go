package backend

// DeepCopy returns a copy of s that shares nothing with it.
func (s *PodState) DeepCopy() *PodState {
	if s == nil {
		return nil
	}
	out := *s
	out.InitContainers = copyContainers(s.InitContainers)
	out.Containers = copyContainers(s.Containers)
	out.Events = append([]Event(nil), s.Events...)
	return &out
}

func copyContainers(in []ContainerState) []ContainerState {
	if in == nil {
		return nil
	}
	out := make([]ContainerState, len(in))
	for i, c := range in {
		out[i] = c
		if c.Last != nil {
			last := *c.Last
			last.Last = nil
			out[i].Last = &last
		}
	}
	return out
}
