package capture

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moontide/moontide/engine/pattern"
)

// Filter decides which tables are captured: a table is captured when it
// matches an include pattern (or there are none) and no exclude pattern.
// Patterns are those of package pattern; matching is case-sensitive, like
// table names on Linux servers.
type Filter struct {
	include, exclude []pattern.Pattern
}

// NewFilter checks and compiles include and exclude patterns.
func NewFilter(include, exclude []string) (*Filter, error) {
	f := &Filter{}
	for _, list := range []struct {
		pats []string
		dst  *[]pattern.Pattern
		name string
	}{{include, &f.include, "include"}, {exclude, &f.exclude, "exclude"}} {
		for _, p := range list.pats {
			cp, err := pattern.Parse(strings.TrimSpace(p))
			if err != nil {
				return nil, fmt.Errorf("%s %w", list.name, err)
			}
			*list.dst = append(*list.dst, cp)
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
	if len(f.include) > 0 && !slices.ContainsFunc(f.include, func(p pattern.Pattern) bool { return p.MatchSchema(schema) }) {
		return false
	}
	return !slices.ContainsFunc(f.exclude, func(p pattern.Pattern) bool { return p.MatchSchema(schema) && p.AnyTable() })
}

func matchAny(pats []pattern.Pattern, schema, table string) bool {
	return slices.ContainsFunc(pats, func(p pattern.Pattern) bool { return p.Match(schema, table) })
}
