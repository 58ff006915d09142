// Package es is the es builtin: writes to Elasticsearch 7/8 and OpenSearch
// 1–3 recorded during a call and sent as one bulk request per batch and
// connection, plus get and search reads that run at once.
//
//	local es = require("es")           -- the default es sink
//	local logs = es.conn("logs")        -- a named one
//	es.index("products", ev.after.id, ev.after, {event = ev})
//
// What it guarantees:
//
//   - Writes (index, update, upsert, delete) do no I/O when called: they are
//     checked, turned into bulk lines at once (so a bad document fails the
//     call with the path of the bad value), and flushed by the engine after
//     handle returned, in call order, as one bulk request per connection
//     (split only when the body would pass MaxBulkBytes). Flush returns only
//     when every item's result is known; the batch and its position commit
//     only when every item succeeded.
//   - A write given a version (opts.version, or opts.event whose version is
//     used) is sent with version_type=external_gte, so a replayed or older
//     event never overwrites a newer document; the conflict (409) such a
//     stale write gets counts as success. external_gte rather than external
//     because moontide event versions can be equal: rows past the 2047th of
//     one binlog rows event share a version, and one document may be fed by
//     several rows of a statement (an aggregate keyed by order id), where
//     the later write must still apply rather than be dropped as stale.
//   - Items rejected with 429 (or 502/503/504), and whole requests that
//     fail to connect or get those statuses, are retried inside Flush with
//     backoff, a few times, then the flush fails and the engine retries the
//     batch. Any other item failure (a mapping error, 400) fails the flush
//     at once, naming index, id, status and reason of each failed item.
//   - The go-elasticsearch v8 client's product check is satisfied for
//     servers that send no X-Elastic-Product header (OpenSearch, ES < 7.14);
//     a server that sends another product is still refused.
package es

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

type module struct{}

// Name is "es".
func (module) Name() string { return "es" }

// Open builds the es table for one state: the functions of the default
// connection and conn(name) for named ones. It does no I/O and resolves no
// sink: a script that only uses named connections needs no default.
func (module) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	t := connTable(L, &conn{Conn: &lua.Conn{Env: env, Kind: "es"}})
	t.RawSetString("conn", L.NewFunction(lua.ConnFunc(env, "es", func(L *glua.LState, c *lua.Conn) *glua.LTable {
		return connTable(L, &conn{Conn: c})
	})))
	return t, nil
}

// conn is one connection as a script sees it: the sink (resolved on first
// use for the default) and, once a write or read needed it, the shared
// client.
type conn struct {
	*lua.Conn
	client *client
}

// clientFor returns the shared client of the connection, acquiring it from
// the engine's pool on first use. The listener holds the reference until it
// closes, so caching it for the life of the state is safe.
func (c *conn) clientFor() (*client, error) {
	if c.client != nil {
		return c.client, nil
	}
	cfg, err := c.Sink()
	if err != nil {
		return nil, err
	}
	cl, err := c.Env.Client(clientKey(cfg), func() (io.Closer, error) { return newClient(cfg) })
	if err != nil {
		return nil, err
	}
	ec, ok := cl.(*client)
	if !ok {
		return nil, fmt.Errorf("es sink %q: shared client of type %T", cfg.Name, cl)
	}
	c.client = ec
	return ec, nil
}

// writer returns the bulk writer of this connection in the call in
// progress, raising a Lua error when there is none (outside handle) or the
// sink is unknown.
func (c *conn) writer(L *glua.LState, op string) *bulk {
	cfg, err := c.Sink()
	if err != nil {
		L.RaiseError("es.%s: %v", op, err)
	}
	var cl *client
	if !c.Env.Recording() {
		if cl, err = c.clientFor(); err != nil {
			L.RaiseError("es.%s: %v", op, err)
		}
	}
	w, err := c.Env.Writer("es:"+cfg.Name, func() lua.Writer {
		return &bulk{client: cl, sink: cfg.Name, timeout: cfg.Timeout}
	})
	if err != nil {
		L.RaiseError("es.%s: %v", op, err)
	}
	return w.(*bulk)
}

func connTable(L *glua.LState, c *conn) *glua.LTable {
	t := L.CreateTable(0, 8)
	t.RawSetString("index", L.NewFunction(func(L *glua.LState) int { return c.write(L, opIndex) }))
	t.RawSetString("update", L.NewFunction(func(L *glua.LState) int { return c.write(L, opUpdate) }))
	t.RawSetString("upsert", L.NewFunction(func(L *glua.LState) int { return c.write(L, opUpsert) }))
	t.RawSetString("delete", L.NewFunction(func(L *glua.LState) int { return c.write(L, opDelete) }))
	t.RawSetString("get", L.NewFunction(c.get))
	t.RawSetString("search", L.NewFunction(c.search))
	return t
}

// write records one write. Argument problems raise ArgError naming the
// argument; nothing is sent until the engine flushes the writer.
func (c *conn) write(L *glua.LState, kind opKind) int {
	name := kind.String()
	index := checkIndex(L, 1)
	id := checkID(L, 2)
	var doc any
	optArg := 3
	if kind != opDelete {
		optArg = 4
		dt := L.CheckTable(3)
		v, err := lua.ToGo(L, dt)
		if err != nil {
			L.ArgError(3, "document: "+err.Error())
		}
		if _, ok := v.(map[string]any); !ok {
			L.ArgError(3, "document must be a table of field = value, not an array")
		}
		doc = v
	}
	o := checkOpts(L, optArg, kind)
	w := c.writer(L, name)
	if err := w.add(kind, index, id, doc, o); err != nil {
		L.ArgError(3, "document: "+err.Error())
	}
	return 0
}

func checkIndex(L *glua.LState, n int) string {
	s, ok := L.Get(n).(glua.LString)
	if !ok || s == "" {
		L.ArgError(n, "index name must be a non-empty string")
	}
	checkText(L, n, "index name", string(s))
	return string(s)
}

// checkID accepts a string or an integral number: ids of rows are often
// numbers in Lua, and ids beyond 2^53 arrive as strings already.
func checkID(L *glua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case glua.LString:
		if v == "" {
			L.ArgError(n, "document id must not be empty")
		}
		checkText(L, n, "document id", string(v))
		return string(v)
	case glua.LNumber:
		if s, ok := lua.ObjectKey(v); ok {
			return s
		}
		L.ArgError(n, "document id must be an integer or a string, not "+v.String())
	default:
		L.ArgError(n, "document id must be a string or a number, not "+L.Get(n).Type().String())
	}
	return ""
}

// checkText refuses a name that is not UTF-8: the bulk request is JSON,
// which cannot carry it, and Elasticsearch would refuse the whole request
// for it without naming the write.
func checkText(L *glua.LState, n int, what, s string) {
	if !utf8.ValidString(s) {
		L.ArgError(n, what+" is not UTF-8 (binary data, such as a VARBINARY key? encode it first, e.g. as hex)")
	}
}

// opts are a write's options after checking.
type opts struct {
	version       uint64
	versioned     bool
	versionType   string
	routing       string
	ignoreMissing bool
}

// maxVersion is the largest version Elasticsearch accepts (a Java long).
const maxVersion = 1<<63 - 1

var knownOpts = map[string]bool{"version": true, "event": true, "version_type": true, "routing": true, "ignore_missing": true}

func checkOpts(L *glua.LState, n int, kind opKind) opts {
	var o opts
	t, ok := L.Get(n).(*glua.LTable)
	if !ok {
		if L.Get(n) != glua.LNil {
			L.ArgError(n, "options must be a table, not "+L.Get(n).Type().String())
		}
		return o
	}
	bad := func(msg string) { L.ArgError(n, "options: "+msg) }
	t.ForEach(func(k, _ glua.LValue) {
		if s, ok := k.(glua.LString); !ok || !knownOpts[string(s)] {
			bad(fmt.Sprintf("unknown option %s (known: version, event, version_type, routing, ignore_missing)", k.String()))
		}
	})
	// An explicit version wins over the event's.
	if v := t.RawGetString("version"); v != glua.LNil {
		ver, err := parseVersion(v)
		if err != nil {
			bad("version: " + err.Error())
		}
		o.version, o.versioned = ver, true
	} else if v := t.RawGetString("event"); v != glua.LNil {
		ev, ok := v.(*glua.LTable)
		if !ok {
			bad("event must be the event table (ev)")
		}
		evVersion := ev.RawGetString("version")
		ver, err := parseVersion(evVersion)
		if err != nil {
			hint := ""
			if evVersion == glua.LNil {
				hint = ` (a listener with a fields list must list "version")`
			}
			bad("event.version: " + err.Error() + hint)
		}
		o.version, o.versioned = ver, true
	}
	switch v := t.RawGetString("version_type").(type) {
	case *glua.LNilType:
	case glua.LString:
		if v != "external_gte" && v != "external" {
			bad(`version_type must be "external_gte" (the default) or "external"`)
		}
		o.versionType = string(v)
	default:
		bad("version_type must be a string")
	}
	switch v := t.RawGetString("routing").(type) {
	case *glua.LNilType:
	case glua.LString:
		checkText(L, n, "options: routing", string(v))
		o.routing = string(v)
	default:
		bad("routing must be a string")
	}
	switch v := t.RawGetString("ignore_missing").(type) {
	case *glua.LNilType:
	case glua.LBool:
		o.ignoreMissing = bool(v)
	default:
		bad("ignore_missing must be a boolean")
	}
	switch {
	case o.versionType != "" && !o.versioned:
		bad("version_type needs a version (or an event)")
	case o.versioned && kind == opUpdate:
		bad("update cannot be versioned: Elasticsearch and OpenSearch reject external versions on partial updates; use upsert with a version (which indexes the full document) or update without one")
	case o.ignoreMissing && kind != opUpdate:
		bad("ignore_missing applies to update only (deleting a missing document always succeeds)")
	}
	if o.versioned && o.versionType == "" {
		o.versionType = "external_gte"
	}
	return o
}

// parseVersion reads a version given as a Lua number (exact up to 2^53) or
// as a decimal string (how event versions beyond 2^53 reach Lua).
func parseVersion(v glua.LValue) (uint64, error) {
	switch x := v.(type) {
	case glua.LNumber:
		f := float64(x)
		if f < 0 || f != float64(uint64(f)) || f > 1<<53 {
			return 0, fmt.Errorf("%s is not an exact non-negative integer (pass versions beyond 2^53 as decimal strings)", x.String())
		}
		return uint64(f), nil
	case glua.LString:
		s := string(x)
		if s == "" || len(s) > 19 || strings.Trim(s, "0123456789") != "" {
			return 0, fmt.Errorf("%q is not a decimal integer", s)
		}
		var u uint64
		for _, d := range s {
			u = u*10 + uint64(d-'0')
		}
		if u > maxVersion {
			return 0, fmt.Errorf("%s is beyond the largest version Elasticsearch accepts (2^63-1)", s)
		}
		return u, nil
	case *glua.LNilType:
		return 0, fmt.Errorf("missing")
	}
	return 0, fmt.Errorf("must be a number or a decimal string, not %s", v.Type().String())
}
