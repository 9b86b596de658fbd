package localcluster

import "path/filepath"

// layout names the files of a state directory.
type layout struct {
	root string
}

func (l layout) path(parts ...string) string {
	return filepath.Join(append([]string{l.root}, parts...)...)
}

func (l layout) configFile() string      { return l.path("cluster.json") }
func (l layout) adminKubeconfig() string { return l.path("kubeconfig") }
func (l layout) pki() string             { return l.path("pki") }
func (l layout) etcdPKI() string         { return l.path("pki", "etcd") }
func (l layout) etcdData() string        { return l.path("etcd") }
func (l layout) run() string             { return l.path("run") }
func (l layout) lockFile() string        { return l.path("run", "vnode.lock") }
func (l layout) supervisorPid() string   { return l.path("run", "vnode.pid") }

func (l layout) logFile(component string) string { return l.path("logs", component+".log") }
func (l layout) pidFile(component string) string { return l.path("run", component+".pid") }
func (l layout) kubeconfig(user string) string   { return l.path("pki", user+".kubeconfig") }
func (l layout) certDir(component string) string { return l.path("pki", component) }

// The container instances service's files: its configuration, data and
// tokens live in instances/, beside the client files of package wire.
func (l layout) instances() string       { return l.path("instances") }
func (l layout) instancesConfig() string { return l.path("instances", "config.yaml") }
func (l layout) instancesData() string   { return l.path("instances", "data") }
func (l layout) instancesTokens() string { return l.path("instances", "tokens") }

// The local registries keep their storage and configuration in
// registry/<name>/; registries.json tells clients about them.
func (l layout) registryDir(name string) string { return l.path("registry", name) }
func (l layout) registriesFile() string         { return l.path("registry", "registries.json") }
func (l layout) registryPassword() string       { return l.path("registry", "password") }
