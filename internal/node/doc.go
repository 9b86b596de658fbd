// Package node keeps a virtual node's Node object and Lease: it registers
// the node, keeps its labels, taint, capacity, conditions, addresses and
// node info, renews its lease, and flips Ready with the backend's health.
// What other actors set on the Node (labels, taints, conditions,
// annotations) is never removed.
package node
