package validate

import (
	"path"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// maxTerminationMessagePath bounds a termination message path, as
// Kubernetes bounds the paths of a pod.
const maxTerminationMessagePath = 4096

// terminationMessage checks where a (init) container writes its
// termination message (vnode's terminationMessagePath and
// terminationMessagePolicy): an absolute, clean path of at most 4096
// characters without '..' or NUL, apart from the container's volume
// mounts and /etc/hosts, whose files it would hide or be hidden by; and a
// policy Kubernetes knows. at is the container's properties.
func (c *checker) terminationMessage(ms []*aci.VolumeMount, name, at string) *errdefs.Error {
	t, ok := c.ext.TerminationMessages[name]
	if !ok {
		return nil
	}
	if p := terminationPathProblem(t.Path, ms); p != "" {
		return errdefs.InvalidField(CodeInvalidTerminationMessage, at+".terminationMessagePath",
			"The terminationMessagePath '%s' of container '%s' %s. Use an absolute file path outside the container's "+
				"volume mounts, such as '%s'.", clip(t.Path), name, p, wire.DefaultTerminationMessagePath)
	}
	switch t.Policy {
	case "", wire.TerminationMessageFile, wire.TerminationMessageFallbackToLogsOnError:
		return nil
	}
	return errdefs.InvalidField(CodeInvalidTerminationMessage, at+".terminationMessagePolicy",
		"The terminationMessagePolicy '%s' of container '%s' is not supported. Use '%s' or '%s'.",
		clip(t.Policy), name, wire.TerminationMessageFile, wire.TerminationMessageFallbackToLogsOnError)
}

// terminationPathProblem says what is wrong with a termination message
// path ("" for nothing; an empty path means no file).
func terminationPathProblem(p string, ms []*aci.VolumeMount) string {
	switch {
	case p == "":
		return ""
	case len(p) > maxTerminationMessagePath:
		return "is longer than 4096 characters"
	case strings.ContainsRune(p, 0):
		return "contains a NUL byte"
	case !strings.HasPrefix(p, "/"):
		return "is not an absolute path"
	case hasElement(p, ".."):
		return "contains '..'"
	case path.Clean(p) != p:
		return "is not a clean path (it would be '" + clip(path.Clean(p)) + "')"
	case p == "/":
		return "is the root directory"
	case p == etcHosts:
		return "is where the group's hosts file is mounted"
	}
	for _, m := range ms {
		if m == nil {
			continue
		}
		mp := path.Clean(str(m.MountPath))
		if p == mp || strings.HasPrefix(p, mp+"/") || strings.HasPrefix(mp, p+"/") {
			return "collides with the mount path '" + mp + "' of volume '" + str(m.Name) + "'"
		}
	}
	return ""
}

// etcHosts is where every container of a group finds the group's hosts file.
const etcHosts = "/etc/hosts"

// hasElement reports whether the slash-separated path p has the element e.
func hasElement(p, e string) bool {
	for el := range strings.SplitSeq(p, "/") {
		if el == e {
			return true
		}
	}
	return false
}

// maxRepeated bounds how much of a client's value a message repeats.
const maxRepeated = 100

// clip is s as a message repeats it: at most maxRepeated characters.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= maxRepeated {
		return s
	}
	return string(r[:maxRepeated]) + "…"
}
