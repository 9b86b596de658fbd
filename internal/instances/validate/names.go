package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// labelProblem says why s is not a name of shortest to longest lowercase letters,
// digits and '-' that does not start or end with '-' (and, unless
// allowDoubleHyphen, has no "--"); it returns "" for a good name. The
// phrase completes "it ...".
func labelProblem(s string, shortest, longest int, allowDoubleHyphen bool) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) < shortest || len(s) > longest:
		return fmt.Sprintf("has %d characters, not %d to %d", len(s), shortest, longest)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return "contains characters other than lowercase letters, digits and '-'"
		}
	}
	switch {
	case s[0] == '-' || s[len(s)-1] == '-':
		return "starts or ends with '-'"
	case !allowDoubleHyphen && containsDoubleHyphen(s):
		return "contains '--'"
	}
	return ""
}

func containsDoubleHyphen(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '-' && s[i-1] == '-' {
			return true
		}
	}
	return false
}

// subdomainProblem says why s is not a DNS subdomain (RFC 1123) of at
// most longest characters: labels as for labelProblem (of 1 to 63
// characters) joined by '.'; "" for a good name.
func subdomainProblem(s string, longest int) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > longest {
		return fmt.Sprintf("has %d characters, more than %d", len(s), longest)
	}
	for _, label := range strings.Split(s, ".") {
		if p := labelProblem(label, 1, 63, true); p != "" {
			return fmt.Sprintf("has a label '%s' that %s", label, p)
		}
	}
	return ""
}

// containerNameProblem checks a container or init container name. ACI
// matches them against '[a-z0-9]([-a-z0-9]*[a-z0-9])?', which allows "--"
// (its own error message says so, and names such as 'single--container--aci'
// pass it).
func containerNameProblem(name string) string {
	return labelProblem(name, 1, 63, true)
}

// volumeNameProblem checks a volume name: like a container name, 5 to 63
// characters.
func volumeNameProblem(name string) string {
	return labelProblem(name, 5, 63, true)
}

// dnsLabel is ACI's rule for ipAddress.dnsNameLabel: lowercase letters,
// digits and '-', first a letter, last a letter or digit, 5 to 63 long.
var dnsLabel = regexp.MustCompile(`^[a-z][a-z0-9-]{3,61}[a-z0-9]$`)

// envNameRule says what envNameProblem accepts, for error messages.
const envNameRule = "one or more printable ASCII characters other than '=' (e.g. 'MY_NAME', 'data-1' or 'a.b')"

// envNameProblem says why n is not an environment variable name as
// Kubernetes accepts them (the API server's rule since 1.34,
// k8s.io/apimachinery's IsRelaxedEnvVarName): one or more printable ASCII
// characters other than '='. ACI's own rule, a letter or '_' followed by
// letters, digits and '_', is narrower; the service announces the wider one
// as the env-names extension. It returns "" for a good name; the phrase
// completes "it ...".
func envNameProblem(n string) string {
	if n == "" {
		return "is empty"
	}
	for i := 0; i < len(n); i++ {
		switch b := n[i]; {
		case b == '=':
			return "contains '='"
		case b < ' ' || b > '~':
			return fmt.Sprintf("contains the byte 0x%02x at offset %d, which is not a printable ASCII character", b, i)
		}
	}
	return ""
}

// maxShownEnvName is how much of an environment variable name an error
// message repeats.
const maxShownEnvName = 100

// shownEnvName is n as an error message shows it: in single quotes, or Go
// quoted when it holds other than printable ASCII, and cut to
// maxShownEnvName bytes.
func shownEnvName(n string) string {
	cut := len(n) > maxShownEnvName
	if cut {
		n = n[:maxShownEnvName]
	}
	s := "'" + n + "'"
	for i := 0; i < len(n); i++ {
		if n[i] < ' ' || n[i] > '~' {
			s = strconv.Quote(n)
			break
		}
	}
	if cut {
		s += "…"
	}
	return s
}
