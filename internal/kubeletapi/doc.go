// Package kubeletapi serves the kubelet's HTTP API for a virtual node: the
// routes the API server proxies to a node (container logs, exec, attach,
// port-forward), the node's pods, and the resource usage that metrics-server
// and `kubectl top` read (/stats/summary and /metrics/resource).
//
// Requests are authenticated and authorized as the kubelet does it: client
// certificates signed by the cluster CA and bearer tokens checked with a
// TokenReview, then a SubjectAccessReview on the node's nodes/proxy, log,
// stats or metrics subresource (see requestAttributes). The container
// routes reach into workloads through backend.ContainerIO; a backend that
// lacks it gets 501 there.
//
// The server presents a certificate from files, or one that it obtains
// through a CertificateSigningRequest for the kubernetes.io/kubelet-serving
// signer, as the kubelet does with serverTLSBootstrap. Nothing in the
// cluster approves those requests by default: an administrator (or an
// approver controller) must approve them before the server can complete a
// TLS handshake.
package kubeletapi
