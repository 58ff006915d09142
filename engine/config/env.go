package config

import (
	"fmt"
	"strings"
)

// Lookup finds an environment variable; it has os.LookupEnv's shape so tests
// can pass a map instead of mutating the process environment.
type Lookup func(name string) (string, bool)

// Expand replaces ${VAR} and ${VAR:-default} in s and turns $$ into a single
// $. A default applies when VAR is unset or empty, as in the shell. A $ not
// followed by { or $ is kept as it is, so values such as bcrypt hashes
// survive without escaping. An unset ${VAR} without a default is an error:
// a silently empty address or password is worse than refusing to start.
func Expand(s string, lookup Lookup) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in %q", s)
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !validVarName(name) {
				return "", fmt.Errorf("bad variable reference ${%s}: use ${NAME} or ${NAME:-default}", ref)
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to make it optional)", name, name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
