package lua

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/hint"
	"github.com/moontide/moontide/engine/pattern"
)

// The fields a listener script's table may hold (docs/scripts.md).
var specFields = []string{
	"name", "subscribe", "fields", "batch", "workers", "max_wait", "timeout", "retry",
	"dead_letter", "start", "handle", "on_insert", "on_update", "on_delete", "on_snapshot",
}

// DefaultDeadLetterAttempts is retry.max_attempts of a listener that sets
// dead_letter = true without a limit of its own.
const DefaultDeadLetterAttempts = 10

var retryFields = []string{"max_attempts", "backoff", "max_backoff"}

// actionFields maps per-action handler fields to their action.
var actionFields = map[string]event.Action{
	"on_insert":   event.Insert,
	"on_update":   event.Update,
	"on_delete":   event.Delete,
	"on_snapshot": event.Snapshot,
}

// Bounds of the numeric fields: generous, but they catch a unit mistake
// (seconds given where milliseconds are meant the other way round) and
// values that would exhaust memory.
const (
	maxBatch      = 100000
	maxWorkers    = 1024
	maxMillis     = 24 * 3600 * 1000
	maxWaitMillis = 3600 * 1000
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// scriptSpec is what parseSpec reads from a script's table.
type scriptSpec struct {
	spec    dispatch.Spec
	timeout time.Duration
	omit    fieldSet // event fields left out of the listener's events
}

// specError builds an error naming the file and the field.
func specError(file, field, format string, args ...any) error {
	if field == "" {
		return fmt.Errorf("%s: %s", file, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: field %q: %s", file, field, fmt.Sprintf(format, args...))
}

// parseSpec validates the table a listener script returned and fills the
// spec, applying the defaults of opts. It reports every problem, each
// naming the file and the field.
func parseSpec(ret glua.LValue, file string, opts *Options) (scriptSpec, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, specError(file, field, format, args...))
	}
	t, ok := ret.(*glua.LTable)
	if !ok {
		bad("", "a listener script must return a table with name, subscribe and handle; it returned %s", describe(ret))
		return scriptSpec{}, errors.Join(errs...)
	}
	ss := scriptSpec{
		spec: dispatch.Spec{
			Batch:   opts.batch(),
			Workers: opts.workers(),
			Start:   "latest",
		},
		timeout: opts.timeout(),
	}
	known := make(map[string]bool, len(specFields))
	for _, f := range specFields {
		known[f] = true
	}
	var unknown []string
	t.ForEach(func(k, _ glua.LValue) {
		ks, ok := k.(glua.LString)
		if !ok {
			bad("", "the returned table has a key of type %s (%s); only the named fields are allowed", k.Type(), describe(k))
			return
		}
		if !known[string(ks)] {
			unknown = append(unknown, string(ks))
		}
	})
	sort.Strings(unknown)
	for _, f := range unknown {
		if s := suggest(f, specFields); s != "" {
			bad(f, "unknown field (did you mean %q?)", s)
		} else {
			bad(f, "unknown field (known: %s)", strings.Join(specFields, ", "))
		}
	}

	switch v := t.RawGetString("name").(type) {
	case glua.LString:
		if !nameRE.MatchString(string(v)) {
			bad("name", "%q is not a valid listener name: letters, digits, '_', '-', '.', starting with a letter or digit, at most 128", string(v))
		}
		ss.spec.Name = string(v)
	case *glua.LNilType:
		bad("name", "missing; every listener needs a unique name")
	default:
		bad("name", "must be a string, not %s", v.Type())
	}

	switch v := t.RawGetString("subscribe").(type) {
	case *glua.LTable:
		entries, ok := list(v)
		if !ok {
			bad("subscribe", "must be a non-empty list of \"schema.table\" patterns, e.g. { \"shop.orders\" }")
			break
		}
		for i, e := range entries {
			p, ok := e.(glua.LString)
			if !ok {
				bad("subscribe", "entry %d (%s) is not a \"schema.table\" pattern", i+1, describe(e))
				continue
			}
			if _, err := pattern.Parse(string(p)); err != nil {
				bad("subscribe", "entry %d: %v", i+1, err)
				continue
			}
			ss.spec.Subscribe = append(ss.spec.Subscribe, string(p))
		}
	case *glua.LNilType:
		bad("subscribe", "missing; list the \"schema.table\" patterns the listener wants")
	case glua.LString:
		bad("subscribe", "must be a list: write { %q }", string(v))
	default:
		bad("subscribe", "must be a list of \"schema.table\" patterns, not %s", v.Type())
	}

	ss.omit = omittedFields(t.RawGetString("fields"), bad)
	intField(t, "batch", 1, maxBatch, &ss.spec.Batch, bad)
	intField(t, "workers", 1, maxWorkers, &ss.spec.Workers, bad)
	msField(t, "max_wait", 1, maxWaitMillis, &ss.spec.MaxWait, bad)
	msField(t, "timeout", 1, maxMillis, &ss.timeout, bad)

	switch v := t.RawGetString("retry").(type) {
	case *glua.LNilType:
	case *glua.LTable:
		rknown := map[string]bool{}
		for _, f := range retryFields {
			rknown[f] = true
		}
		v.ForEach(func(k, _ glua.LValue) {
			ks, ok := k.(glua.LString)
			if !ok || !rknown[string(ks)] {
				bad("retry", "unknown field %s (known: %s)", describe(k), strings.Join(retryFields, ", "))
			}
		})
		var attempts int
		if intField(v, "max_attempts", 0, math.MaxInt32, &attempts, prefixed("retry.", bad)) {
			ss.spec.Retry.MaxAttempts = attempts
		}
		msField(v, "backoff", 1, maxMillis, &ss.spec.Retry.Backoff, prefixed("retry.", bad))
		msField(v, "max_backoff", 1, maxMillis, &ss.spec.Retry.MaxBackoff, prefixed("retry.", bad))
	default:
		bad("retry", "must be a table {max_attempts=, backoff=}, not %s", v.Type())
	}

	switch v := t.RawGetString("dead_letter").(type) {
	case *glua.LNilType:
	case glua.LBool:
		ss.spec.DeadLetter = bool(v)
	default:
		bad("dead_letter", "must be true or false, not %s", v.Type())
	}
	if ss.spec.DeadLetter && ss.spec.Retry.MaxAttempts == 0 {
		// Without a limit a dead-lettering listener would never dead-letter.
		ss.spec.Retry.MaxAttempts = DefaultDeadLetterAttempts
	}

	switch v := t.RawGetString("start").(type) {
	case *glua.LNilType:
	case glua.LString:
		if v != "latest" && v != "earliest" {
			bad("start", "must be \"latest\" or \"earliest\", not %q", string(v))
		}
		ss.spec.Start = string(v)
	default:
		bad("start", "must be \"latest\" or \"earliest\", not %s", v.Type())
	}

	handle := t.RawGetString("handle")
	hasHandle := false
	switch handle.(type) {
	case *glua.LNilType:
	case *glua.LFunction:
		hasHandle = true
	default:
		bad("handle", "must be a function(events), not %s", handle.Type())
	}
	var actions []string
	for _, f := range []string{"on_insert", "on_update", "on_delete", "on_snapshot"} {
		switch v := t.RawGetString(f).(type) {
		case *glua.LNilType:
		case *glua.LFunction:
			actions = append(actions, f)
		default:
			bad(f, "must be a function(event), not %s", v.Type())
		}
	}
	switch {
	case hasHandle && len(actions) > 0:
		bad("handle", "cannot be combined with %s: use either handle(events) or per-action handlers", strings.Join(actions, ", "))
	case !hasHandle && len(actions) == 0 && handle == glua.LNil:
		bad("", "no handler: define handle(events), or on_insert/on_update/on_delete/on_snapshot(event)")
	}
	return ss, errors.Join(errs...)
}

// list returns the entries of t when it is a non-empty array and nothing
// else.
func list(t *glua.LTable) ([]glua.LValue, bool) {
	n, count := t.Len(), 0
	t.ForEach(func(glua.LValue, glua.LValue) { count++ })
	if n == 0 || count != n {
		return nil, false
	}
	entries := make([]glua.LValue, n)
	for i := range entries {
		entries[i] = t.RawGetInt(i + 1)
	}
	return entries, true
}

// omittedFields reads the optional fields list, the event fields the
// listener reads, and returns the others.
func omittedFields(v glua.LValue, bad func(field, format string, args ...any)) fieldSet {
	if v == glua.LNil {
		return 0
	}
	const hint = "must be a non-empty list of event fields, e.g. { \"action\", \"key\", \"after\" }"
	t, ok := v.(*glua.LTable)
	if !ok {
		bad("fields", "%s, not %s", hint, describe(v))
		return 0
	}
	entries, ok := list(t)
	if !ok {
		bad("fields", "%s", hint)
		return 0
	}
	var listed fieldSet
	for i, e := range entries {
		name, isString := e.(glua.LString)
		f := slices.Index(eventFields[:], string(name))
		switch {
		case f >= 0 && listed.has(f):
			bad("fields", "entry %d (%s) is listed twice", i+1, describe(e))
		case f >= 0:
			listed |= 1 << f
		default:
			known := "known: " + strings.Join(eventFields[:], ", ")
			if s := suggest(string(name), eventFields[:]); isString && s != "" {
				known = fmt.Sprintf("did you mean %q?", s)
			}
			bad("fields", "entry %d (%s) is not an event field (%s)", i+1, describe(e), known)
		}
	}
	return allFields &^ listed
}

func prefixed(prefix string, bad func(field, format string, args ...any)) func(field, format string, args ...any) {
	return func(field, format string, args ...any) { bad(prefix+field, format, args...) }
}

// intField reads an optional integer field; it reports whether it was set.
func intField(t *glua.LTable, field string, min, max int, dst *int, bad func(field, format string, args ...any)) bool {
	v := t.RawGetString(field)
	if v == glua.LNil {
		return false
	}
	n, ok := v.(glua.LNumber)
	f := float64(n)
	if !ok || f != math.Trunc(f) {
		bad(field, "must be an integer, not %s", describe(v))
		return false
	}
	if f < float64(min) || f > float64(max) {
		bad(field, "must be between %d and %d, not %v", min, max, f)
		return false
	}
	*dst = int(f)
	return true
}

// msField reads an optional duration given in milliseconds.
func msField(t *glua.LTable, field string, min, max int, dst *time.Duration, bad func(field, format string, args ...any)) {
	var ms int
	if intField(t, field, min, max, &ms, func(f, format string, args ...any) {
		bad(f, format+" (milliseconds)", args...)
	}) {
		*dst = time.Duration(ms) * time.Millisecond
	}
}

// describe names a Lua value for error messages.
func describe(v glua.LValue) string {
	switch x := v.(type) {
	case glua.LString:
		return fmt.Sprintf("%q", string(x))
	case glua.LNumber, glua.LBool:
		return v.String()
	case *glua.LNilType:
		return "nil"
	default:
		return "a " + v.Type().String()
	}
}

// suggest returns the known name closest to s, if it is close enough to be
// a typo.
func suggest(s string, known []string) string {
	best, _ := hint.Closest(s, known, 2)
	return best
}
