package capture

import (
	"fmt"
	"path"
	"strings"
)

// Filter decides which tables are captured: a table is captured when it
// matches an include pattern (or there are none) and no exclude pattern.
// Patterns are schema.table with '*' matching any run of characters inside
// one part; matching is case-sensitive, like table names on Linux servers.
type Filter struct {
	include, exclude [][2]string
}

// NewFilter checks and compiles include and exclude patterns.
func NewFilter(include, exclude []string) (*Filter, error) {
	f := &Filter{}
	for _, list := range []struct {
		pats []string
		dst  *[][2]string
		name string
	}{{include, &f.include, "include"}, {exclude, &f.exclude, "exclude"}} {
		for _, p := range list.pats {
			p = strings.TrimSpace(p)
			schema, table, ok := strings.Cut(p, ".")
			if !ok || schema == "" || table == "" || strings.Contains(table, ".") {
				return nil, fmt.Errorf("%s pattern %q must be schema.table ('*' allowed in each part)", list.name, p)
			}
			for _, part := range []string{schema, table} {
				if _, err := path.Match(part, ""); err != nil {
					return nil, fmt.Errorf("%s pattern %q: %w", list.name, p, err)
				}
			}
			*list.dst = append(*list.dst, [2]string{schema, table})
		}
	}
	return f, nil
}

// Match reports whether schema.table is captured.
func (f *Filter) Match(schema, table string) bool {
	if f == nil {
		return true
	}
	if len(f.include) > 0 && !matchAny(f.include, schema, table) {
		return false
	}
	return !matchAny(f.exclude, schema, table)
}

// MatchSchema reports whether a statement about a whole schema (CREATE
// DATABASE, or DDL whose table capture cannot tell) concerns a captured
// schema: some include pattern's schema part matches it and no exclude
// pattern covers every table of it.
func (f *Filter) MatchSchema(schema string) bool {
	if f == nil {
		return true
	}
	if len(f.include) > 0 {
		ok := false
		for _, p := range f.include {
			if m, _ := path.Match(p[0], schema); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range f.exclude {
		if m, _ := path.Match(p[0], schema); m && p[1] == "*" {
			return false
		}
	}
	return true
}

func matchAny(pats [][2]string, schema, table string) bool {
	for _, p := range pats {
		if m, _ := path.Match(p[0], schema); !m {
			continue
		}
		if m, _ := path.Match(p[1], table); m {
			return true
		}
	}
	return false
}
