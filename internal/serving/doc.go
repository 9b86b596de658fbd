// Package serving bounds what a client may hold of vnode's HTTP servers
// (the container instances service, the kubelet API, the agent's metrics):
// how long headers, bodies and idle keep-alive connections may take, how
// large headers may be, and TLS limited to 1.2 and later with ECDHE AEAD
// suites only.
package serving
