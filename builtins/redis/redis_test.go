package redis

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
)

func TestWritesAreRecordedInCallOrderPerConnection(t *testing.T) {
	ops, err := exec(t, `
local redis = require("redis")
local store = redis.conn("store")
redis.set("a", "x")
store.set("b", 42, 60)
redis.del("a", "b", 7)
redis.expire("k", 30)
redis.hset("h", "f", 1.5)
redis.hset("h", {b = 2, a = "1"})
redis.hdel("h", "a", "b")
redis.hincrby("h", "n", -3)
redis.incr("c"); redis.decr("c"); redis.incrby("c", "9007199254740993"); redis.decrby("c", 2)
redis.sadd("s", "m1", "m2"); redis.srem("s", "m1")
redis.zadd("z", 1.25, "m"); redis.zadd("z", "19.90", "n"); redis.zrem("z", "m", "n")
redis.publish("ch", "hello")
redis.write("LPUSH", "q", "job", 3)
assert(redis.conn("store") == store, "conn tables are cached per state")
`, options(testSinks("127.0.0.1:1"), true))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`redis[cache].set("a", "x")`,
		`redis[cache].del("a", "b", "7")`,
		`redis[cache].expire("k", 30)`,
		`redis[cache].hset("h", "f", 1.5)`,
		`redis[cache].hset("h", "a", "1", "b", 2)`,
		`redis[cache].hdel("h", "a", "b")`,
		`redis[cache].hincrby("h", "n", -3)`,
		`redis[cache].incr("c")`, `redis[cache].decr("c")`,
		`redis[cache].incrby("c", 9007199254740993)`, `redis[cache].decrby("c", 2)`,
		`redis[cache].sadd("s", "m1", "m2")`, `redis[cache].srem("s", "m1")`,
		`redis[cache].zadd("z", 1.25, "m")`, `redis[cache].zadd("z", "19.90", "n")`, `redis[cache].zrem("z", "m", "n")`,
		`redis[cache].publish("ch", "hello")`,
		`redis[cache].write("LPUSH", "q", "job", 3)`,
		// The store connection's writer was touched second: it flushes,
		// and so records, after cache's.
		`redis[store].set("b", 42, 60)`,
	}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
}

func TestValuesBecomeExactCommands(t *testing.T) {
	ops, err := exec(t, `
local redis = require("redis")
redis.set("int", 9007199254740992)      -- 2^53: an integer, no ".0"
redis.set("neg", -1)
redis.set("float", 0.1)
redis.set("big", "9223372036854775807") -- BIGINT beyond 2^53 arrives as a string
redis.set("bin", "\0\255\1")
redis.set(12, "numeric key")
`, options(testSinks("127.0.0.1:1"), true))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`redis[cache].set("int", 9007199254740992)`,
		`redis[cache].set("neg", -1)`,
		`redis[cache].set("float", 0.1)`,
		`redis[cache].set("big", "9223372036854775807")`,
		`redis[cache].set("bin", "\u0000\ufffd\u0001")`, // JSON of the op; the command holds the bytes
		`redis[cache].set("12", "numeric key")`,
	}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
}

func TestCommandsCarryTheScriptsBytesAndNumbers(t *testing.T) {
	// The commands themselves, as go-redis will write them: the op form
	// (JSON) cannot show raw bytes.
	var got [][]any
	opts := options(testSinks("127.0.0.1:1"), true)
	opts.Modules = []lua.Module{captureModule{fn: func(w lua.Writer) {
		for _, o := range w.(*writer).ops {
			got = append(got, o.cmd)
		}
	}}}
	_, err := exec(t, `
local redis = require("redis")
redis.set("bin", "\0\255", 10)
redis.set("n", 2^53)
redis.hset("h", {f = 1})
redis.zadd("z", "19.90", "m")
require("capture")()
`, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"SET", "bin", "\x00\xff", "EX", int64(10)},
		{"SET", "n", int64(1 << 53)},
		{"HSET", "h", "f", int64(1)},
		{"ZADD", "z", "19.90", "m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commands %#v, want %#v", got, want)
	}
}

// captureModule is a fake builtin: require("capture")() hands the call's
// writer of the redis sink "cache" to fn (Env.Writer returns the writer a
// key already has).
type captureModule struct{ fn func(lua.Writer) }

func (captureModule) Name() string { return "capture" }

func (m captureModule) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	return L.NewFunction(func(L *glua.LState) int {
		w, err := env.Writer("redis:cache", func() lua.Writer { return &writer{} })
		if err != nil {
			L.RaiseError("%v", err)
		}
		m.fn(w)
		return 0
	}), nil
}

func TestMisuseRaisesAnErrorNamingTheArgument(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"json.null as a value", `redis.set("k", json.null)`, []string{"bad argument #2", "value is json.null"}},
		{"a table as a value", `redis.set("k", {a = 1})`, []string{"bad argument #2", "json.encode"}},
		{"a boolean as a value", `redis.set("k", true)`, []string{"bad argument #2", "boolean"}},
		{"a missing value", `redis.set("k")`, []string{"bad argument #2", "value is missing"}},
		{"a missing key", `redis.set()`, []string{"bad argument #1", "key is missing"}},
		{"NaN", `redis.set("k", 0/0)`, []string{"bad argument #2", "finite"}},
		{"a zero ttl", `redis.set("k", "v", 0)`, []string{"bad argument #3", "ttl_seconds must be at least 1"}},
		{"a fractional ttl", `redis.set("k", "v", 1.5)`, []string{"bad argument #3", "ttl_seconds must be an integer"}},
		{"a fractional increment", `redis.incrby("k", 1.5)`, []string{"bad argument #2", "increment must be an integer"}},
		{"a text increment", `redis.incrby("k", "ten")`, []string{"bad argument #2", `not the string "ten"`}},
		{"a negative expiry", `redis.expire("k", -1)`, []string{"bad argument #2", "redis.del"}},
		{"a null field value", `redis.hset("h", {a = json.null})`, []string{"bad argument #2", `value of field "a" is json.null`}},
		{"an empty hash", `redis.hset("h", {})`, []string{"bad argument #2", "empty"}},
		{"both hset forms", `redis.hset("h", {a = 1}, "x")`, []string{"bad argument #3", "either"}},
		{"a score that is no number", `redis.zadd("z", "high", "m")`, []string{"bad argument #2", "score must be a number"}},
		{"del without keys", `redis.del()`, []string{"bad argument #1", "at least one key"}},
		{"a denied command", `redis.write("multi")`, []string{"bad argument #1", "MULTI is not allowed"}},
		{"a denied call", `redis.call("SELECT", 2)`, []string{"bad argument #1", "SELECT is not allowed"}},
		{"an unknown sink", `redis.conn("nope")`, []string{"bad argument #1", `no sink named "nope"`}},
		{"a sink of another kind", `redis.conn("search")`, []string{"bad argument #1", `sink "search" has type es, not redis`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exec(t, "local redis = require('redis')\nlocal json = require('json')\n"+tc.src, options(testSinks("127.0.0.1:1"), true))
			wantErr(t, err, append([]string{"t.lua:3"}, tc.want...)...)
		})
	}
}

func TestNoDefaultSinkIsAnErrorOnFirstUseOnly(t *testing.T) {
	s := testSinks("127.0.0.1:1")
	s.Defaults = nil
	// require and a named connection work without a default ...
	ops, err := exec(t, `local redis = require("redis"); redis.conn("cache").set("k", "v")`, options(s, true))
	if err != nil || len(ops) != 1 {
		t.Fatalf("ops %q, error %v", ops, err)
	}
	// ... the default functions do not.
	_, err = exec(t, `local redis = require("redis"); redis.set("k", "v")`, options(s, true))
	wantErr(t, err, "no default redis sink")
}

func TestReadsInRecordingModeReturnAnError(t *testing.T) {
	_, err := exec(t, `
local redis = require("redis")
for _, f in ipairs({"get", "hgetall", "exists", "ttl", "smembers"}) do
  local v, err = redis[f]("k")
  assert(v == nil, f .. " returned a value")
  assert(err and err:find("reads are not available in recording mode", 1, true), f .. ": " .. tostring(err))
end
local v, err = redis.call("GET", "k")
assert(v == nil and err:find("redis%[cache%] GET k: reads are not available"), tostring(err))
`, options(testSinks("127.0.0.1:1"), true))
	if err != nil {
		t.Fatal(err)
	}
}

func TestWritesAtTheTopLevelFailValidation(t *testing.T) {
	dir := t.TempDir()
	src := `local redis = require("redis")
redis.set("k", "v")
return {name = "x", subscribe = {"a.b"}, handle = function() end}`
	if err := writeFile(dir, "l.lua", src); err != nil {
		t.Fatal(err)
	}
	_, err := lua.Load(dir, options(testSinks("127.0.0.1:1"), false))
	wantErr(t, err, "l.lua:2", "redis.set", "only possible inside handle")
}

func TestFlushToAnUnreachableServerFailsTheBatch(t *testing.T) {
	// Port 1 on loopback refuses connections: no server needed.
	l := luatest.LoadListener(t, `local redis = require("redis")
return {name = "x", subscribe = {"shop.orders"}, handle = function(evs)
  for _, ev in ipairs(evs) do redis.set("k:" .. ev.key, ev.after.status) end
end}`, options(testSinks("127.0.0.1:1"), false))
	err := l.Handle(context.Background(), 0, []*event.Event{orderEvent(1, 1, nil, "new")})
	wantErr(t, err, "flushing redis:cache", "redis[cache] pipeline of 1 commands", "127.0.0.1:1")
	var ce *lua.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *lua.CallError", err)
	}
}

func TestCommandErrorNamesCommandKeyAndPosition(t *testing.T) {
	e := &CommandError{Sink: "cache", Command: "INCR", Key: "order:1", Index: 3, Count: 500, Err: errors.New("ERR value is not an integer or out of range")}
	want := "redis[cache] pipeline: INCR order:1: ERR value is not an integer or out of range (command 3 of 500)"
	if e.Error() != want {
		t.Errorf("got %q, want %q", e.Error(), want)
	}
	e.Key = "bin\x00key"
	if !strings.Contains(e.Error(), `INCR "bin\x00key":`) {
		t.Errorf("binary key not quoted: %q", e.Error())
	}
}

func TestClientKeyChangesWithEverySetting(t *testing.T) {
	base := lua.SinkConfig{Name: "cache", Type: "redis", Endpoints: []string{"a:1"}}
	seen := map[string]bool{clientKey(base): true}
	for _, c := range []lua.SinkConfig{
		{Name: "cache", Endpoints: []string{"a:2"}},
		{Name: "cache", Endpoints: []string{"a:1"}, DB: 2},
		{Name: "cache", Endpoints: []string{"a:1"}, Password: "x"},
		{Name: "cache", Endpoints: []string{"a:1"}, Mode: "cluster"},
		{Name: "other", Endpoints: []string{"a:1"}},
	} {
		k := clientKey(c)
		if seen[k] {
			t.Errorf("%+v: key %s already used", c, k)
		}
		seen[k] = true
		if strings.Contains(k, "x") && c.Password == "x" && strings.HasSuffix(k, ":x") {
			t.Errorf("key %s shows the password", k)
		}
	}
	if clientKey(base) != clientKey(base) {
		t.Error("key is not stable")
	}
}

func TestNewClientChecksTheTopology(t *testing.T) {
	for _, tc := range []struct {
		cfg  lua.SinkConfig
		want string
	}{
		{lua.SinkConfig{Name: "a"}, "no endpoints"},
		{lua.SinkConfig{Name: "a", Endpoints: []string{"x:1", "y:1"}}, "standalone mode takes one endpoint"},
		{lua.SinkConfig{Name: "a", Mode: "sentinel", Endpoints: []string{"x:1"}}, "master_name"},
		{lua.SinkConfig{Name: "a", Mode: "cluster", Endpoints: []string{"x:1"}, DB: 1}, "database 0"},
		{lua.SinkConfig{Name: "a", Mode: "ring", Endpoints: []string{"x:1"}}, "unknown mode"},
	} {
		_, err := NewClient(tc.cfg)
		wantErr(t, err, tc.want)
	}
	for _, mode := range []string{"", "standalone", "sentinel", "cluster"} {
		c, err := NewClient(lua.SinkConfig{Name: "a", Mode: mode, MasterName: "m", Endpoints: []string{"127.0.0.1:1"}})
		if err != nil {
			t.Errorf("mode %q: %v", mode, err)
			continue
		}
		_ = c.Close()
	}
}

func TestPipelineMergesRunsOfSetsAndOfDels(t *testing.T) {
	set := func(k string) op { return op{name: "set", cmd: []any{"SET", k, "v" + k}} }
	setTTL := func(k string) op { return op{name: "set", cmd: []any{"SET", k, "v", "EX", 60}} }
	del := func(k ...string) op { return op{name: "del", cmd: append([]any{"DEL"}, anys(k)...)} }
	written := op{name: "write", cmd: []any{"SET", "w", "v"}} // redis.write("SET", ...)
	many := make([]op, maxMerge+2)
	for i := range many {
		many[i] = set(fmt.Sprint(i))
	}
	mixed := []op{set("a"), set("b"), setTTL("c"), set("d"), del("a"), del("b", "c"), set("e"), set("f"), written, set("g"), del("x")}
	tests := []struct {
		name        string
		ops         []op
		merge, mset bool
		want        string
	}{
		{"runs merge, others break them", mixed, true, true,
			"[MSET a va b vb]1-2 [SET c v EX 60]3-3 [SET d vd]4-4 [DEL a b c]5-6 [MSET e ve f vf]7-8 [SET w v]9-9 [SET g vg]10-10 [DEL x]11-11"},
		{"after a refused MSET, only DELs merge", mixed, true, false,
			"[SET a va]1-1 [SET b vb]2-2 [SET c v EX 60]3-3 [SET d vd]4-4 [DEL a b c]5-6 [SET e ve]7-7 [SET f vf]8-8 [SET w v]9-9 [SET g vg]10-10 [DEL x]11-11"},
		{"not on a cluster", []op{set("a"), set("b"), del("a"), del("b")}, false, true, "[SET a va]1-1 [SET b vb]2-2 [DEL a]3-3 [DEL b]4-4"},
		{"a run longer than maxMerge is split", many, true, true,
			fmt.Sprintf("[MSET and %d args]1-%d [MSET 256 v256 257 v257]%d-%d", 2*maxMerge, maxMerge, maxMerge+1, maxMerge+2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var parts []string
			for _, s := range (&writer{ops: tt.ops}).pipeline(tt.merge, tt.mset) {
				cmd := fmt.Sprint(s.cmd)
				if len(s.cmd) > 9 {
					cmd = fmt.Sprintf("[%s and %d args]", s.cmd[0], len(s.cmd)-1)
				}
				parts = append(parts, fmt.Sprintf("%s%d-%d", cmd, s.first+1, s.last))
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestCommandErrorOfAMergedCommandNamesItsWrites(t *testing.T) {
	for _, tt := range []struct {
		e    *CommandError
		want string
	}{
		{&CommandError{Sink: "cache", Command: "MSET", Key: "item:1", Index: 3, Last: 258, Count: 500, Err: errors.New("NOPERM User u has no permissions to run the 'mset' command")},
			"redis[cache] pipeline: MSET item:1: NOPERM User u has no permissions to run the 'mset' command (commands 3 to 258 of 500: SETs sent as one MSET)"},
		{&CommandError{Sink: "cache", Command: "DEL", Key: "item:1", Index: 1, Last: 4, Count: 4, Err: errors.New("NOPERM No permissions to access a key")},
			"redis[cache] pipeline: DEL item:1: NOPERM No permissions to access a key (commands 1 to 4 of 4: DELs sent as one DEL)"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
