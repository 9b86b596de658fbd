// Package pods is the node agent's pod controller. It watches the pods
// bound to its node, runs them through a backend, writes their status from
// the states the backend pushes, records the kubelet's events, and deletes
// them from the API as soon as the backend has stopped their containers.
//
// One work queue keyed by pod coalesces API and backend notifications; the
// informer's store is the only source of pods (no GETs on the hot path),
// the last pushed state is the only source of backend state (no polling),
// and status is written only when it differs from what the API holds.
package pods
