package aci

import "strings"

// expandVars replaces $(VAR) in s with the container's resolved variables,
// as Kubernetes does for command and args: $$ escapes a dollar sign, and
// an unknown reference stays as written.
func expandVars(s string, env map[string]string) string {
	return expandFunc(s, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
}

// expandFunc replaces $(VAR) in s with what lookup gives for VAR, as
// expandVars does; a reference lookup does not know stays as written.
func expandFunc(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
