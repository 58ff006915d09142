package dispatch

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/pattern"
)

// maxCached bounds the per-(schema, table) caches of Matcher and Router. A
// source has a bounded set of tables, but nothing stops a workload from
// creating tables without end (per-day tables, tests); past this many
// entries lookups fall back to matching, which is slower but still correct.
const maxCached = 1 << 14

// tableName is the key of the match caches.
type tableName struct{ schema, table string }

// Matcher answers whether a table is in a listener's subscription. It is
// compiled once per Spec and safe for concurrent use; answers are cached
// per (schema, table), so after the first event of a table a match costs one
// map lookup and no allocation.
type Matcher struct {
	pats  []pattern.Pattern
	mu    sync.Mutex // serialises cache writers; readers never lock
	cache atomic.Pointer[map[tableName]bool]
}

// NewMatcher compiles subscription patterns (package pattern). An empty
// list matches nothing.
func NewMatcher(patterns []string) (*Matcher, error) {
	m := &Matcher{pats: make([]pattern.Pattern, 0, len(patterns))}
	for _, p := range patterns {
		cp, err := pattern.Parse(p)
		if err != nil {
			return nil, err
		}
		m.pats = append(m.pats, cp)
	}
	return m, nil
}

// Match reports whether schema.table is subscribed.
func (m *Matcher) Match(schema, table string) bool {
	k := tableName{schema, table}
	if c := m.cache.Load(); c != nil {
		if v, ok := (*c)[k]; ok {
			return v
		}
	}
	v := m.match(schema, table)
	storeCached(&m.mu, &m.cache, k, v)
	return v
}

// MatchEvent reports whether the event's table is subscribed. Events of
// every action match alike, so a DDL statement reaches every listener of its
// table; a schema-level DDL event (empty table name) reaches listeners whose
// table part is "*".
func (m *Matcher) MatchEvent(e *event.Event) bool {
	if e.Table == nil {
		return false
	}
	return m.Match(e.Table.Schema, e.Table.Name)
}

func (m *Matcher) match(schema, table string) bool {
	for _, p := range m.pats {
		if p.Match(schema, table) {
			return true
		}
	}
	return false
}

// storeCached adds k → v to a copy-on-write cache. Copying keeps reads
// lock-free; it costs O(size) per new table, paid once per table.
func storeCached[V any](mu *sync.Mutex, cache *atomic.Pointer[map[tableName]V], k tableName, v V) {
	mu.Lock()
	defer mu.Unlock()
	old := cache.Load()
	n := 0
	if old != nil {
		n = len(*old)
		if _, ok := (*old)[k]; ok {
			return
		}
	}
	if n >= maxCached {
		return
	}
	next := make(map[tableName]V, n+1)
	if old != nil {
		for kk, vv := range *old {
			next[kk] = vv
		}
	}
	next[k] = v
	cache.Store(&next)
}

// Router tells which listeners want an event. It is built from the specs of
// all running listeners and is immutable afterwards (a reload builds a new
// one); it is safe for concurrent use and caches its answer per
// (schema, table).
type Router struct {
	names    []string
	matchers []*Matcher
	mu       sync.Mutex
	cache    atomic.Pointer[map[tableName][]int]
}

// NewRouter compiles the subscriptions of specs. Listener i of the answers
// of Route is specs[i].
func NewRouter(specs []Spec) (*Router, error) {
	r := &Router{names: make([]string, len(specs)), matchers: make([]*Matcher, len(specs))}
	for i, s := range specs {
		m, err := NewMatcher(s.Subscribe)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %w", s.Name, err)
		}
		r.names[i], r.matchers[i] = s.Name, m
	}
	return r, nil
}

// Len is the number of listeners the router knows.
func (r *Router) Len() int { return len(r.names) }

// Name returns the name of listener i.
func (r *Router) Name(i int) string { return r.names[i] }

// Route returns the indices of the listeners subscribed to schema.table, in
// spec order. The slice is shared by every caller: it must not be modified.
func (r *Router) Route(schema, table string) []int {
	k := tableName{schema, table}
	if c := r.cache.Load(); c != nil {
		if v, ok := (*c)[k]; ok {
			return v
		}
	}
	var v []int
	for i, m := range r.matchers {
		if m.Match(schema, table) {
			v = append(v, i)
		}
	}
	storeCached(&r.mu, &r.cache, k, v)
	return v
}

// RouteEvent is Route for the event's table; see Matcher.MatchEvent for
// DDL events. An event without a table goes nowhere.
func (r *Router) RouteEvent(e *event.Event) []int {
	if e.Table == nil {
		return nil
	}
	return r.Route(e.Table.Schema, e.Table.Name)
}
