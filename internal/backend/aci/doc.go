// Package aci is the node agent's backend for Azure Container Instances:
// one container group per pod, driven through the official Azure SDK client
// (armcontainerinstance/v2), against vnode's container instances service or
// real Azure alike.
//
// The backend converts a pod's workload into a group (names.go, convert.go,
// resources.go, volumes.go, probes.go, dns.go, entrypoints.go), creates and deletes groups
// without waiting for their long-running operations (create.go, delete.go),
// and learns their states by polling (poll.go), turning each group into a
// backend.PodState (state.go) and its instance-view events into pod events
// reported once (events.go).
//
// vnode's service announces what it adds to ACI's API in the response header
// X-Vnode-Extensions (package wire; extensions.go): a list with instance
// views, exec with an argv, Kubernetes' remote command protocol for exec and
// attach, followed and previous logs, stats, grace periods, tcpSocket probes,
// the group's hosts, variables from the group's IP, refreshed volumes and
// args apart from the command (KnownExtensions). The backend uses an
// extension only once the service has announced it, and falls back to what
// ACI offers otherwise, so the same code drives real Azure: without
// container args, the entrypoint of an image whose container sets args
// without a command is read from its registry (entrypoints.go, package
// imageconfig) and put before the args.
package aci
