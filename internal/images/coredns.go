package images

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CoreDNSRepository is the repository of the cluster DNS image.
const CoreDNSRepository = "vnode/coredns"

// CoreDNSVersion is the release of CoreDNS (module github.com/coredns/coredns)
// that the cluster DNS image is built from. It is pinned, rather than
// resolved to the latest release at build time, so that the image, its cache
// key and its digest depend on vnode's source alone. v1.15.0 is the newest
// release at the time of writing; it requires Go 1.26.
const CoreDNSVersion = "v1.15.0"

// coreDNSModule is the module path of CoreDNS.
const coreDNSModule = "github.com/coredns/coredns"

// coreDNSProgram names the CoreDNS build in the cache and in messages.
const coreDNSProgram = "coredns"

// coreDNSGoVersion is the go directive of the CoreDNS build's module: the
// minimum that CoreDNSVersion declares.
const coreDNSGoVersion = "1.26.0"

// coreDNSPlugin is a plugin compiled into the CoreDNS image: its Corefile
// directive and its package under github.com/coredns/coredns/plugin.
type coreDNSPlugin struct {
	directive, pkg string
}

// coreDNSPlugins are the plugins of the CoreDNS image, sorted by package:
// those of the Corefile that kubeadm deploys (errors, health, ready,
// kubernetes, prometheus, forward, cache, loop, reload, loadbalance), those
// a cluster DNS commonly adds (log, hosts, autopath, rewrite, template,
// bind, bufsize), and whoami for tests. The cloud and storage plugins of a
// full CoreDNS build (route53, azure, clouddns, etcd, ...) are left out: they
// dominate its size and compile time. Packages these plugins import may
// register a few more (debug, dnstap, metadata, transfer).
var coreDNSPlugins = []coreDNSPlugin{
	{"autopath", "autopath"},
	{"bind", "bind"},
	{"bufsize", "bufsize"},
	{"cache", "cache"},
	{"errors", "errors"},
	{"forward", "forward"},
	{"health", "health"},
	{"hosts", "hosts"},
	{"kubernetes", "kubernetes"},
	{"loadbalance", "loadbalance"},
	{"log", "log"},
	{"loop", "loop"},
	{"prometheus", "metrics"},
	{"ready", "ready"},
	{"reload", "reload"},
	{"rewrite", "rewrite"},
	{"template", "template"},
	{"whoami", "whoami"},
}

// CoreDNSPlugins returns the Corefile directives of the plugins compiled into
// the CoreDNS image, in the order of their packages: what a Corefile for the
// image may name, besides the few that these plugins' packages register
// (debug, dnstap, metadata, transfer). The slice is the caller's.
func CoreDNSPlugins() []string {
	directives := make([]string, len(coreDNSPlugins))
	for i, p := range coreDNSPlugins {
		directives[i] = p.directive
	}
	return directives
}

// Where the CoreDNS image keeps its program and configuration.
const (
	coreDNSBinary   = "/coredns"
	coreDNSConfDir  = "/etc/coredns"
	coreDNSCorefile = coreDNSConfDir + "/Corefile"
)

// coreDNSPorts are the ports the CoreDNS image exposes: DNS, and the
// prometheus plugin's metrics port.
var coreDNSPorts = []string{"53/udp", "53/tcp", "9153/tcp"}

// CoreDNS returns the cluster DNS image: CoreDNS CoreDNSVersion, built from
// its Go module with the plugins a Kubernetes cluster DNS needs, at /coredns,
// and an empty /etc/coredns for the Corefile (typically a mounted
// ConfigMap); entrypoint ["/coredns"], command ["-conf",
// "/etc/coredns/Corefile"], ports 53/udp, 53/tcp and 9153/tcp (metrics)
// exposed. The first build fetches CoreDNS's dependencies through the Go
// module proxy unless the module cache holds them, and takes minutes; later
// calls reuse the cached binary.
func (b *Builder) CoreDNS(ctx context.Context) (v1.Image, error) {
	bin, err := b.coreDNSBinary(ctx)
	if err != nil {
		return nil, err
	}
	l, err := b.binaryLayer(coreDNSProgram, bin, strings.TrimPrefix(coreDNSBinary, "/"), strings.TrimPrefix(coreDNSConfDir, "/"))
	if err != nil {
		return nil, err
	}
	ports := make(map[string]struct{}, len(coreDNSPorts))
	for _, p := range coreDNSPorts {
		ports[p] = struct{}{}
	}
	cfg := v1.Config{
		Entrypoint:   []string{coreDNSBinary},
		Cmd:          []string{"-conf", coreDNSCorefile},
		ExposedPorts: ports,
	}
	return assemble(coreDNSProgram, cfg, l)
}

// coreDNSBinary returns the path of the CoreDNS binary in the cache,
// building it first when the cache lacks it.
func (b *Builder) coreDNSBinary(ctx context.Context) (string, error) {
	return b.moduleBinary(ctx, coreDNSModuleFiles())
}

// coreDNSModuleFiles is the temporary module of the CoreDNS build: a go.mod
// requiring CoreDNSVersion, completed by go mod tidy, and a main package
// importing coremain, dnsserver and coreDNSPlugins.
func coreDNSModuleFiles() module {
	goMod := fmt.Sprintf("module vnode.local/%s\n\ngo %s\n\nrequire %s %s\n",
		coreDNSProgram, coreDNSGoVersion, coreDNSModule, CoreDNSVersion)
	return module{program: coreDNSProgram, goMod: []byte(goMod), main: coreDNSMain(), tidy: true}
}

// coreDNSMain is the source of the CoreDNS build's main package, the
// counterpart of CoreDNS's own coredns.go and core/plugin/zplugin.go with
// fewer plugins. Each plugin registers itself with caddy when imported;
// dnsserver.Directives, CoreDNS's list of every directive in execution
// order, is left as it is, so the compiled plugins run in CoreDNS's order and
// a Corefile naming a plugin that is not compiled in fails at startup with
// "no action found for directive ... (missing a plugin?)".
func coreDNSMain() []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "// Code generated by vnode's internal/images; DO NOT EDIT.\n\n")
	fmt.Fprintf(&s, "// Command coredns is CoreDNS %s with the plugins of a Kubernetes cluster DNS.\n", CoreDNSVersion)
	s.WriteString("package main\n\nimport (\n")
	fmt.Fprintf(&s, "\t_ %q // The DNS server type and its directive order.\n", coreDNSModule+"/core/dnsserver")
	fmt.Fprintf(&s, "\t%q\n\n", coreDNSModule+"/coremain")
	for _, p := range coreDNSPlugins {
		fmt.Fprintf(&s, "\t_ %q\n", coreDNSModule+"/plugin/"+p.pkg)
	}
	s.WriteString(")\n\nfunc main() {\n\tcoremain.Run()\n}\n")
	return []byte(s.String())
}
