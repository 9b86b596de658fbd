// Package wire is the contract between vnode's node agent and its container
// instances service beyond the REST API of Azure Container Instances: what
// both sides must agree on for the agent to use the service's additions and
// still drive real Azure with the same code.
//
// It holds the api-version whose wire format both speak (APIVersion); the
// response header in which the service announces its extensions and the
// names of those extensions (ExtensionsHeader, Ext…, Extensions,
// FormatExtensions, ParseExtensions); vnode's additions to the JSON of a
// container group (GroupExtensions, GroupAdditions, ParseGroup,
// ApplyGroup); the extension of the exec request body (ExecExtension); the
// bodies of the service's own endpoints for stats and metered usage
// (GroupStats, MeteredUsage); and the client files with which a client
// reaches the service (ClientFiles).
//
// The package has no state: both the agent and the service import it, and
// neither imports the other.
package wire

import "strings"

// APIVersion is the api-version of ACI's REST API whose wire format the
// service speaks and the agent sends. The service accepts it and later
// versions of the same shape.
const APIVersion = "2023-05-01"

// ExtensionsHeader names the response header in which every ARM answer of
// vnode's service lists the extensions of ACI's API it offers, so that a
// client such as the node agent uses them there and falls back to plain ACI
// against Azure, which sends no such header.
const ExtensionsHeader = "X-Vnode-Extensions"

// The names of the service's extensions of ACI's API.
const (
	// ExtListInstanceView: lists with $expand=instanceView carry each
	// group's instance view and readiness, as GET does.
	ExtListInstanceView = "list-instance-view"
	// ExtExecArgv: exec bodies may carry argv instead of one command string.
	ExtExecArgv = "exec-argv"
	// ExtRemoteCommand: session URIs also speak Kubernetes' remote command
	// protocol (SPDY, channel.k8s.io websockets).
	ExtRemoteCommand = "remote-command"
	// ExtLogsFollow: logs?follow=true streams the log as plain text.
	ExtLogsFollow = "logs-follow"
	// ExtLogsPrevious: logs take previous=true, sinceTime and limitBytes.
	ExtLogsPrevious = "logs-previous"
	// ExtStats: GET …/containerGroups/{name}/stats.
	ExtStats = "stats"
	// ExtGracePeriod: DELETE and stop take gracePeriodSeconds, from 0 to MaxGracePeriodSeconds.
	ExtGracePeriod = "grace-period"
	// ExtTCPSocket: probes may have a tcpSocket action.
	ExtTCPSocket = "tcp-socket"
	// ExtGroupHosts: properties.hostname, fqdn and hostAliases set the
	// group's hostname and /etc/hosts.
	ExtGroupHosts = "group-hosts"
	// ExtFieldEnv: environment variables may take the group's IP from
	// valueFrom.fieldRef (status.podIP, status.podIPs).
	ExtFieldEnv = "field-env"
	// ExtRefreshVolumes: POST …/containerGroups/{name}/refreshVolumes
	// replaces the files of secret volumes while the group runs.
	ExtRefreshVolumes = "refresh-volumes"
	// ExtTerminationMessage: terminationMessagePath and terminationMessagePolicy; "message" in terminated states.
	ExtTerminationMessage = "termination-message"
	// ExtEnvNames: environment variable names may be any printable ASCII but '=', as in Kubernetes.
	ExtEnvNames = "env-names"
	// ExtContainerArgs: (init) containers may carry args, which follow the image's entrypoint or the command.
	ExtContainerArgs = "container-args"
	// ExtSecurityContext: runAsNonRoot, readOnlyRootFilesystem and seccompProfileType in a (init) container's
	// securityContext; supplementalGroups, supplementalGroupsPolicy and sysctls in the group's.
	ExtSecurityContext = "security-context"
	// ExtStartupProbe: containers may carry a startupProbe, run before their liveness and readiness probes;
	// instance views say whether each container has "started".
	ExtStartupProbe = "startup-probe"
	// ExtGRPCProbe: probes may have a grpc action (the gRPC health checking protocol).
	ExtGRPCProbe = "grpc-probe"
	// ExtVolumeFiles: the files of secret volumes have modes (fileModes), emptyDir volumes a medium and a
	// sizeLimit, and the group a securityContext.fsGroup (and fsGroupChangePolicy) that owns its volumes.
	ExtVolumeFiles = "volume-files"
	// ExtSubPath: volume mounts may carry a subPath, the file or directory of the volume to mount.
	ExtSubPath = "subpath-mounts"
	// ExtLifecycleHooks: containers may carry lifecycle (postStart, preStop hooks), the group terminationGracePeriodSeconds.
	ExtLifecycleHooks = "lifecycle-hooks"
	// ExtNestedFiles: the file names of a secret volume may be relative paths ("path/to/file"), written as a tree.
	ExtNestedFiles = "nested-files"
)

// MaxGracePeriodSeconds is the longest grace period DELETE and stop take
// (ExtGracePeriod). Kubernetes allows longer ones; the agent sends those as
// this.
const MaxGracePeriodSeconds = 3600

// Extensions returns the names of all extensions, in the order the service
// announces them; the slice is the caller's.
func Extensions() []string {
	return []string{
		ExtListInstanceView, ExtExecArgv, ExtRemoteCommand, ExtLogsFollow, ExtLogsPrevious, ExtStats,
		ExtGracePeriod, ExtTCPSocket, ExtGroupHosts, ExtFieldEnv, ExtRefreshVolumes,
		ExtTerminationMessage, ExtEnvNames, ExtContainerArgs, ExtSecurityContext, ExtStartupProbe, ExtGRPCProbe,
		ExtVolumeFiles, ExtSubPath, ExtLifecycleHooks, ExtNestedFiles,
	}
}

// FormatExtensions returns the value of ExtensionsHeader that announces
// names: the names joined by commas.
func FormatExtensions(names []string) string {
	return strings.Join(names, ",")
}

// ParseExtensions returns the names that the values of ExtensionsHeader
// announce (the header may come more than once), in order, without blanks
// and repeats.
func ParseExtensions(values ...string) []string {
	var names []string
	seen := map[string]bool{}
	for _, v := range values {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}
