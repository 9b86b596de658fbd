// Package images builds vnode's own small container images from source, so
// that running container groups on containerd needs no registry outside the
// machine.
//
// Four images exist:
//
//   - [PauseRepository]: a static pause program at /pause, the sandbox image
//     of every pod sandbox (it sleeps, reaps zombies and exits 0 on SIGTERM);
//   - [HelloRepository]: a static web server at /hello (the vnode counterpart
//     of aci-helloworld) on port 80, plus busybox for exec when the host has it;
//   - [ShellRepository]: busybox-static with every applet linked in /bin and a
//     minimal /etc/passwd and /etc/group, for exec and debugging;
//   - [CoreDNSRepository]: CoreDNS [CoreDNSVersion] at /coredns, the cluster
//     DNS, with only the plugins a Kubernetes cluster DNS needs (kubernetes,
//     forward, cache, hosts, health, ready, prometheus metrics, ...), reading
//     /etc/coredns/Corefile, on ports 53 and 9153 (metrics).
//
// The programs' sources are embedded in the package (src/pause, src/hello)
// and compiled by [Builder] with the host's Go toolchain
// (CGO_ENABLED=0 go build -trimpath -ldflags="-s -w"); the binaries are cached
// by a key of source, Go release and architecture. CoreDNS is compiled the
// same way from a generated main package that imports CoreDNS's Go module at
// the pinned [CoreDNSVersion] and the chosen plugins; its first build
// resolves the module's dependencies with go mod tidy (through the Go module
// proxy unless the module cache holds them) and takes a few minutes, after
// which the cached binary is reused. busybox comes from the host's
// /bin/busybox (Debian package busybox-static).
//
// Images are reproducible: layer tars carry fixed timestamps (the Unix epoch)
// and root ownership, gzip headers carry no time or name, and the config's
// created time is the epoch, so the same inputs give the same digest. They
// use Docker image manifest v2 schema 2 media types throughout (manifest,
// config and gzip layers), which containerd, go-containerregistry and the
// Debian docker-registry (distribution 2.8) all handle. Images are for
// linux on the host's architecture (runtime.GOARCH).
//
// Every image is tagged [Tag], a fixed version: a configuration such as
// containerd's sandbox_image needs a stable name, while the digest
// (v1.Image.Digest) pins the exact content for pulls by digest. [Tag] changes
// only when an image's layout changes incompatibly.
package images
