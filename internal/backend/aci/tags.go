package aci

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Tags identify the pod of a container group, as the AKS provider names
// them, plus AcceptedTime (when the backend first created the group).
const (
	TagPodName           = "PodName"
	TagNamespace         = "Namespace"
	TagUID               = "UID"
	TagNodeName          = "NodeName"
	TagCreationTimestamp = "CreationTimestamp"
	TagAcceptedTime      = "AcceptedTime"
)

// podTags returns the tags of a pod's group.
func podTags(namespace, name string, uid types.UID, node string, created, accepted time.Time) map[string]*string {
	tags := map[string]*string{
		TagPodName:      ptr(name),
		TagNamespace:    ptr(namespace),
		TagUID:          ptr(string(uid)),
		TagNodeName:     ptr(node),
		TagAcceptedTime: ptr(accepted.UTC().Format(time.RFC3339)),
	}
	if !created.IsZero() {
		tags[TagCreationTimestamp] = ptr(created.UTC().Format(time.RFC3339))
	}
	return tags
}

// tag returns a tag's value, "" when it is absent.
func tag(tags map[string]*string, key string) string {
	if v := tags[key]; v != nil {
		return *v
	}
	return ""
}

// tagTime parses a time tag, zero when absent or malformed.
func tagTime(tags map[string]*string, key string) time.Time {
	t, err := time.Parse(time.RFC3339, tag(tags, key))
	if err != nil {
		return time.Time{}
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
