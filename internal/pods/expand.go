package pods

import "strings"

// expand replaces $(VAR) references in s with the values that lookup
// finds, as Kubernetes does for command, args and env values: $$ escapes a
// dollar sign, and a reference to an unknown variable stays as written.
// It reports whether any replaced value was secret.
func expand(s string, lookup func(string) (value string, secret, ok bool)) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, false
	}
	var b strings.Builder
	secret := false
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), secret
			}
			name := s[i+2 : i+2+end]
			if v, sec, ok := lookup(name); ok {
				b.WriteString(v)
				secret = secret || sec
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), secret
}
