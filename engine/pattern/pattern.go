// Package pattern holds the "schema.table" patterns that choose tables:
// source.include and source.exclude in conf.d, a listener's subscribe list,
// `moontide tail --tables`. They share one syntax, so that a pattern means
// the same table wherever it is written.
//
// A pattern is two parts joined by a dot. A bare part may hold '*', which
// matches any run of characters, the empty one included; it never matches
// across the dot, as the parts are matched separately. A part in
// backquotes, as in SQL, is one name taken literally (a doubled backquote
// stands for one), so that names with a '.', a '*', a backquote or spaces at
// either end can be chosen: shop.`order.items`, `my db `.*.
package pattern

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Pattern is a parsed "schema.table" pattern.
type Pattern struct {
	schema, table part
	text          string
}

// part is one side of a pattern: literal runs with a wildcard between each
// two of them.
type part []string

// Parse parses a "schema.table" pattern. Its errors name the pattern and say
// how to write it.
func Parse(s string) (Pattern, error) {
	schema, rest, err := parsePart(s)
	if err == nil && rest == "" {
		err = errors.New("want schema.table ('*' matches any run of characters)")
	}
	var table part
	if err == nil {
		table, rest, err = parsePart(rest[1:])
	}
	if err == nil && rest != "" {
		err = errors.New("more than one '.'; backquote a name that holds one, as in shop.`order.items`")
	}
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
	}
	return Pattern{schema: schema, table: table, text: s}, nil
}

// parsePart reads one part from the start of s and returns the text after
// it: empty, or starting with a '.'.
func parsePart(s string) (part, string, error) {
	if strings.HasPrefix(s, "`") {
		var name strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '`' {
				name.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '`' {
				name.WriteByte('`')
				i++
				continue
			}
			rest := s[i+1:]
			switch {
			case name.Len() == 0:
				return nil, "", errors.New("empty name in backquotes")
			case rest != "" && rest[0] != '.':
				return nil, "", fmt.Errorf("%q after a backquoted name; the dot between schema and table comes next", rest[:1])
			}
			return part{name.String()}, rest, nil
		}
		return nil, "", errors.New("unclosed backquote")
	}
	bare, rest := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		bare, rest = s[:i], s[i:]
	}
	switch {
	case bare == "":
		return nil, "", errors.New("empty name (write * to match any)")
	case strings.Contains(bare, "`"):
		return nil, "", errors.New("a backquote inside a name; backquote the whole name and double the backquote")
	case strings.TrimFunc(bare, unicode.IsSpace) != bare:
		return nil, "", fmt.Errorf("space around %q; backquote the name if it has one", bare)
	}
	return strings.Split(bare, "*"), rest, nil
}

// String returns the pattern as it was written.
func (p Pattern) String() string { return p.text }

// Match reports whether schema.table is chosen by p.
func (p Pattern) Match(schema, table string) bool {
	return p.schema.match(schema) && p.table.match(table)
}

// MatchSchema reports whether p's schema part matches schema.
func (p Pattern) MatchSchema(schema string) bool { return p.schema.match(schema) }

// AnyTable reports whether p's table part is a bare "*": p chooses every
// table of the schemas it matches.
func (p Pattern) AnyTable() bool {
	return len(p.table) == 2 && p.table[0] == "" && p.table[1] == ""
}

// Map returns p with f applied to each literal run of each part, its
// wildcards kept: the pattern for names that were changed by f (Kafka topic
// names, in which characters a topic cannot hold are replaced).
func (p Pattern) Map(f func(string) string) Pattern {
	m := func(pt part) part {
		out := make(part, len(pt))
		for i, lit := range pt {
			out[i] = f(lit)
		}
		return out
	}
	return Pattern{schema: m(p.schema), table: m(p.table), text: p.text}
}

// match reports whether s matches the part: literally without a wildcard;
// otherwise s must start with the first run, end with the last, and hold
// the runs between in order.
func (pt part) match(s string) bool {
	if len(pt) == 1 {
		return s == pt[0]
	}
	first, last := pt[0], pt[len(pt)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	// Taking the earliest occurrence of each middle run is exact when the
	// only wildcard is '*': it leaves the most room for the runs after it.
	for _, lit := range pt[1 : len(pt)-1] {
		i := strings.Index(s, lit)
		if i < 0 {
			return false
		}
		s = s[i+len(lit):]
	}
	return true
}
