package images

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The stand-ins of Kubernetes' end-to-end test images are built from
// programs of the suite's own module (k8sbin's conformance kit) on the
// busybox userland of the shell image, since the upstream images (Alpine
// with packages) come from a registry outside the machine.

// agnhostPorts are the ports agnhost's image exposes: test-webserver (80),
// netexec and nettest (8080, 8081), serve-hostname (9376) and
// grpc-health-checking (5000).
var agnhostPorts = []string{"80/tcp", "8080/tcp", "8081/tcp", "9376/tcp", "5000/tcp"}

// agnhostPasswd and agnhostGroup add to the shell image's users the ones
// agnhost's image defines for the suite's supplemental-groups tests:
// user-defined-in-image (uid 1000) in group-defined-in-image (gid 50000).
const (
	agnhostPasswd = etcPasswd + "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
	agnhostGroup  = etcGroup + "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"
)

// curlStandIn is the agnhost image's /usr/bin/curl: the suite's network
// checks run `curl -g -q -s URL` in agnhost containers, and busybox has no
// curl, so this GETs the URL with busybox's wget and writes the body to
// stdout; it refuses every other option.
const curlStandIn = `#!/bin/sh
# vnode's stand-in for curl in the agnhost image: curl [-g] [-q] [-s] URL,
# fetched with busybox wget. No other option is supported.
url=""
for a in "$@"; do
  case "$a" in
    -g|-q|-s) ;;
    -*) echo "curl (vnode's stand-in): unsupported option $a" >&2; exit 2 ;;
    *) url="$a" ;;
  esac
done
[ -n "$url" ] || { echo "curl (vnode's stand-in): no URL" >&2; exit 2; }
exec wget -q -O - "$url"
`

// AgnhostFiles are the host files of agnhost's image: its program and the
// TLS pair that porter and netexec's tests use.
type AgnhostFiles struct {
	Binary, Cert, Key string
}

// Agnhost returns a stand-in of the suite's agnhost image: the agnhost
// program at /agnhost with /agnhost-2 linked to it, the busybox userland of
// the shell image (sh, nc, wget, ...; not Alpine's dig, bash or iperf)
// with a curl that only GETs a URL (curlStandIn), /localhost.crt and /localhost.key, an empty /uploads for netexec,
// and user-defined-in-image (uid 1000) in group-defined-in-image (gid
// 50000); entrypoint ["/agnhost"], command ["pause"], ports 80, 8080, 8081,
// 9376 and 5000 exposed, as upstream's Dockerfile has them.
func (b *Builder) Agnhost(ctx context.Context, files AgnhostFiles) (v1.Image, error) {
	entries, err := b.baseEntries(ctx)
	if err != nil {
		return nil, err
	}
	entries = withFile(entries, file("etc/passwd", 0o644, []byte(agnhostPasswd)))
	entries = withFile(entries, file("etc/group", 0o644, []byte(agnhostGroup)))
	for _, f := range []struct{ path, host string }{{"localhost.crt", files.Cert}, {"localhost.key", files.Key}} {
		e, err := hostFile(f.path, 0o644, f.host)
		if err != nil {
			return nil, fmt.Errorf("images: agnhost: %w", err)
		}
		entries = append(entries, e)
	}
	entries = append(entries, dir("uploads", 0o755), symlink("agnhost-2", "agnhost"),
		file("usr/bin/curl", 0o755, []byte(curlStandIn)))
	base, err := newLayer(entries)
	if err != nil {
		return nil, fmt.Errorf("images: agnhost base layer: %w", err)
	}
	app, err := b.binaryLayer("agnhost", files.Binary, "agnhost")
	if err != nil {
		return nil, err
	}
	ports := make(map[string]struct{}, len(agnhostPorts))
	for _, p := range agnhostPorts {
		ports[p] = struct{}{}
	}
	cfg := v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}, Env: []string{searchPath}, ExposedPorts: ports}
	return assemble("agnhost", cfg, base, app)
}

// nonewprivsPath is where the nonewprivs image keeps its program.
const nonewprivsPath = "usr/local/bin/nnp"

// Nonewprivs returns the suite's nonewprivs image: its nnp program, which
// prints its effective uid, at /usr/local/bin/nnp, owned by root with the
// set-user-ID bit, so that it runs as root unless no_new_privs is set;
// command ["nnp"] with /usr/local/bin in PATH. bin is the host's nnp.
func Nonewprivs(bin string) (v1.Image, error) {
	e, err := hostFile(nonewprivsPath, 0o4755, bin)
	if err != nil {
		return nil, fmt.Errorf("images: nonewprivs: %w", err)
	}
	l, err := newLayer([]entry{e})
	if err != nil {
		return nil, fmt.Errorf("images: nonewprivs layer: %w", err)
	}
	return assemble("nonewprivs", v1.Config{Cmd: []string{"nnp"}, Env: []string{searchPath}}, l)
}

// withFile returns entries with e in place of the entry at e's path.
func withFile(entries []entry, e entry) []entry {
	out := make([]entry, 0, len(entries)+1)
	for _, x := range entries {
		if x.path != e.path {
			out = append(out, x)
		}
	}
	return append(out, e)
}
