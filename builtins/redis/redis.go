// Package redis is the redis builtin: scripts write to Redis (standalone,
// sentinel or cluster) through named sink connections, and read from it.
//
//	local redis = require("redis")   -- the default redis sink
//	local cache = redis.conn("cache") -- a named one; same functions
//
//	redis.set("order:" .. ev.after.id, json.encode(ev.after), 3600)
//	local v, err = redis.get("order:1")
//
// What it guarantees (docs/lua-api.md, section redis):
//
//   - Writes (set, del, expire, hset, hdel, hincrby, incr, incrby, decr,
//     decrby, sadd, srem, zadd, zrem, publish and the generic write) do no
//     I/O: they are recorded in call order in the call's Writer, one per
//     connection, and sent when the batch ends as ONE pipeline per batch
//     and connection. The batch, and with it the position, commits only
//     when every command of every pipeline succeeded; otherwise the error
//     names the first failed command and its key, and the whole batch is
//     retried (so writes should be idempotent: a retry sends them again).
//   - Reads (get, mget, hget, hgetall, hexists, exists, ttl, smembers,
//     sismember, scard, zscore, zrange, zcard) and the generic call run at
//     once under the call's deadline and return the value, nil for a
//     missing key, or nil plus an error message on failure. They never see
//     the batch's own unsent writes.
//   - Values are sent exactly: Lua strings as their bytes (binary-safe),
//     integral numbers as integers (no ".0"), other numbers in shortest
//     round-trip form. nil, json.null, booleans and tables are refused with
//     a Lua error naming the argument: encode tables with json.encode.
//   - In recording mode (`moontide test`) writes are recorded as lua.Ops
//     and no server is reached: reads and call return nil and an error
//     that says so.
//
// Clients are shared through lua.Env.Client under a key made of the sink's
// name and a fingerprint of its settings, so a reload that keeps a sink
// keeps its connections and one that changes it gets a new client. They
// are opened lazily, on the first read or flush.
package redis

import (
	"strings"

	goredis "github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

// kind is both the module's name and the sink type it uses.
const kind = "redis"

type module struct{}

// Name is "redis".
func (module) Name() string { return kind }

// Open builds the redis table for one state: the functions of the default
// redis sink plus conn(name). It does no I/O and does not even require a
// default sink to exist, since a script may use only named connections;
// the default is looked up on its first use. An unknown name given to conn
// (or one of another kind) is an error at once, so a typo fails `moontide
// validate` when the script calls conn at its top level.
func (module) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	t := connTable(L, &conn{Conn: &lua.Conn{Env: env, Kind: kind}})
	t.RawSetString("conn", L.NewFunction(lua.ConnFunc(env, kind, func(L *glua.LState, c *lua.Conn) *glua.LTable {
		return connTable(L, &conn{Conn: c})
	})))
	return t, nil
}

// connTable builds the functions of one connection.
func connTable(L *glua.LState, c *conn) *glua.LTable {
	t := L.CreateTable(0, len(writes)+len(reads)+3)
	for name, w := range writes {
		t.RawSetString(name, L.NewFunction(c.writeFn(name, w)))
	}
	for name, r := range reads {
		t.RawSetString(name, L.NewFunction(c.readFn(name, r)))
	}
	t.RawSetString("write", L.NewFunction(c.genericWrite))
	t.RawSetString("call", L.NewFunction(c.call))
	t.RawSetString("name", L.NewFunction(func(L *glua.LState) int {
		c.resolve(L)
		L.Push(glua.LString(c.Config.Name))
		return 1
	}))
	return t
}

// conn is one sink connection as seen from one Lua state. Its client is
// acquired on first use and cached; Env.Client shares it with every other
// state, listener and generation that uses the same settings.
type conn struct {
	*lua.Conn
	client goredis.UniversalClient
	key    string // writerKey, once known
}

// resolve looks up the default sink on first use; a missing default is a
// Lua error, since the script cannot do anything sensible without one.
// After it, c.Config is set.
func (c *conn) resolve(L *glua.LState) {
	if c.Config != nil {
		return
	}
	if _, err := c.Sink(); err != nil {
		L.RaiseError("redis: %v", err)
	}
}

// label is how errors and ops name the connection: redis[cache].
func (c *conn) label() string { return "redis[" + c.Config.Name + "]" }

// writerKey is the Env.Writer key: one Writer, hence one pipeline, per
// connection and batch. Every write asks for it, so it is built once.
func (c *conn) writerKey() string {
	if c.key == "" {
		c.key = "redis:" + c.Config.Name
	}
	return c.key
}

// upper returns s in upper case without allocating when it already is;
// command names reach Redis and error messages in upper case.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}
