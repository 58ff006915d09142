package redis

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

// ErrRecording is the error of reads and calls in recording mode, where no
// server may be reached. Scripts see its text as the second return value.
var ErrRecording = errors.New("reads are not available in recording mode (moontide test): no server is reached")

// read describes an immediate command: args reads the Lua arguments into a
// command, conv turns the reply into a Lua value (nil: the generic reply
// conversion).
type read struct {
	args func(L *glua.LState) []any
	conv func(L *glua.LState, v any) glua.LValue
}

// reads are the immediate functions, by Lua name.
var reads = map[string]read{
	// get(key) → string or nil
	"get": {args: func(L *glua.LState) []any { return []any{"GET", key(L, 1, "key")} }},
	// mget(key, ...) → array, json.null for each missing key
	"mget": {args: func(L *glua.LState) []any { return keysCmd("MGET", rest(L, 1, "key", key)) }},
	// hget(key, field) → string or nil
	"hget": {args: func(L *glua.LState) []any { return []any{"HGET", key(L, 1, "key"), key(L, 2, "field")} }},
	// hgetall(key) → table field → value, empty for a missing key
	"hgetall": {args: func(L *glua.LState) []any { return []any{"HGETALL", key(L, 1, "key")} }, conv: hash},
	// hexists(key, field) → boolean
	"hexists": {args: func(L *glua.LState) []any { return []any{"HEXISTS", key(L, 1, "key"), key(L, 2, "field")} }, conv: boolean},
	// exists(key, ...) → how many of the keys exist
	"exists": {args: func(L *glua.LState) []any { return keysCmd("EXISTS", rest(L, 1, "key", key)) }},
	// ttl(key) → seconds left, -1 without expiry, -2 for a missing key
	"ttl": {args: func(L *glua.LState) []any { return []any{"TTL", key(L, 1, "key")} }},
	// smembers(key) → array of members, sorted bytewise
	"smembers": {args: func(L *glua.LState) []any { return []any{"SMEMBERS", key(L, 1, "key")} }, conv: sortedSet},
	// sismember(key, member) → boolean
	"sismember": {args: func(L *glua.LState) []any { return []any{"SISMEMBER", key(L, 1, "key"), key(L, 2, "member")} }, conv: boolean},
	// scard(key) → number of members
	"scard": {args: func(L *glua.LState) []any { return []any{"SCARD", key(L, 1, "key")} }},
	// zscore(key, member) → number or nil
	"zscore": {args: func(L *glua.LState) []any { return []any{"ZSCORE", key(L, 1, "key"), key(L, 2, "member")} }, conv: float},
	// zrange(key, start, stop) → array of members by rank
	"zrange": {args: func(L *glua.LState) []any {
		return []any{"ZRANGE", key(L, 1, "key"), integer(L, 2, "start"), integer(L, 3, "stop")}
	}},
	// zcard(key) → number of members
	"zcard": {args: func(L *glua.LState) []any { return []any{"ZCARD", key(L, 1, "key")} }},
}

// readFn returns the Lua function of an immediate read.
func (c *conn) readFn(name string, r read) glua.LGFunction {
	return func(L *glua.LState) int {
		c.resolve(L)
		return c.do(L, r.args(L), r.conv)
	}
}

// call is call(cmd, args...): any command, run at once like a read, NOT
// buffered and not part of the batch. It is for what the named functions
// do not cover; a write through call is sent even when the batch later
// fails, so buffered writes go through write(cmd, args...).
func (c *conn) call(L *glua.LState) int {
	c.resolve(L)
	return c.do(L, command(L), nil)
}

// do runs one command at once under the call's context and pushes its
// result: the converted reply, nil for a nil reply, or nil and a message.
func (c *conn) do(L *glua.LState, cmd []any, conv func(*glua.LState, any) glua.LValue) int {
	fail := func(err error) int {
		L.Push(glua.LNil)
		L.Push(glua.LString(fmt.Sprintf("%s %s: %v", c.label(), describeCmd(cmd), err)))
		return 2
	}
	if c.Env.Recording() {
		return fail(ErrRecording)
	}
	cl, err := c.clientOf()
	if err != nil {
		return fail(err)
	}
	v, err := cl.Do(c.Env.Context(), cmd...).Result()
	if errors.Is(err, goredis.Nil) {
		L.Push(glua.LNil)
		return 1
	}
	if err != nil {
		return fail(err)
	}
	if conv == nil {
		conv = reply
	}
	L.Push(conv(L, v))
	return 1
}

// describeCmd names a command in messages: GET order:1.
func describeCmd(cmd []any) string {
	s := upper(text(cmd[0]))
	if len(cmd) > 1 {
		s += " " + printable(text(cmd[1]))
	}
	return s
}

// reply converts a reply of RESP2 or RESP3 to Lua: strings (bulk or
// status) as strings, integers exactly (lua.Int), doubles as numbers,
// booleans as booleans, arrays and sets as arrays (a nil element as
// json.null, since Lua arrays cannot hold nil), maps as objects, an error
// element as its message.
func reply(L *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case string:
		return glua.LString(x)
	case int64:
		return lua.Int(x)
	case float64:
		return glua.LNumber(x)
	case bool:
		return glua.LBool(x)
	case *big.Int:
		return glua.LString(x.String())
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			lv := reply(L, e)
			if lv == glua.LNil {
				lv = lua.NullValue
			}
			t.Append(lv)
		}
		lua.MarkArray(L, t)
		return t
	case map[any]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			lv := reply(L, e)
			if lv == glua.LNil {
				lv = lua.NullValue
			}
			t.RawSetString(fmt.Sprint(k), lv)
		}
		lua.MarkObject(L, t)
		return t
	case error:
		return glua.LString(x.Error())
	}
	return glua.LString(fmt.Sprint(v))
}

// hash converts HGETALL: a RESP3 map, or a RESP2 flat list of field,
// value pairs; either becomes an object.
func hash(L *glua.LState, v any) glua.LValue {
	if list, ok := v.([]any); ok {
		t := L.CreateTable(0, len(list)/2)
		for i := 0; i+1 < len(list); i += 2 {
			t.RawSetString(fmt.Sprint(list[i]), reply(L, list[i+1]))
		}
		lua.MarkObject(L, t)
		return t
	}
	return reply(L, v)
}

// boolean converts the 0/1 integer replies of predicates.
func boolean(_ *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case int64:
		return glua.LBool(x != 0)
	case bool:
		return glua.LBool(x)
	}
	return glua.LFalse
}

// float converts a score: a RESP3 double, or RESP2 text.
func float(L *glua.LState, v any) glua.LValue {
	if s, ok := v.(string); ok {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return glua.LNumber(f)
		}
	}
	return reply(L, v)
}

// sortedSet converts SMEMBERS, sorted, so that scripts and tests see the
// same order every time.
func sortedSet(L *glua.LState, v any) glua.LValue {
	if list, ok := v.([]any); ok {
		sort.Slice(list, func(i, j int) bool { return fmt.Sprint(list[i]) < fmt.Sprint(list[j]) })
	}
	return reply(L, v)
}
