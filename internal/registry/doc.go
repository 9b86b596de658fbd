// Package registry runs a local OCI image registry for the local cluster
// and the end-to-end tests: Debian's docker-registry (distribution 2.8)
// with filesystem storage under a directory of its own, listening on a
// loopback address, optionally behind htpasswd basic authentication
// (the bcrypt entry is made by the htpasswd tool of apache2-utils).
//
// Config.Addr may give port 0: the registry then binds a port the kernel
// picks, logs it, and Start reads it back from the log, so there is no
// window in which another process can take the port. FreeAddr serves
// callers that must know the port before Start.
//
// The registry runs as a child process through internal/process: its own
// process group, a log file and a pid file in Config.Dir, killed by the
// kernel if the parent dies, stopped with SIGTERM and then SIGKILL.
//
// Images are referenced as Host()+"/repository:tag". containerd's CRI
// plugin pulls 127.0.0.1:PORT/… and localhost:PORT/… references from such
// a registry over plain HTTP without any extra configuration (see
// "Verified here" in the design brief), so container groups can use
// images pushed here directly. Clients of go-containerregistry need
// name.Insecure (or crane.Insecure) to talk plain HTTP, and Auth for
// credentials.
package registry
