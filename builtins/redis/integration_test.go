package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/lua/luatest"
	"github.com/moontide/moontide/internal/testenv"
)

// realRedis returns the dev Redis address, a raw client to check what the
// module wrote, and a key prefix no other test uses; keys under it are
// deleted when the test ends.
func realRedis(t *testing.T) (addr string, raw *goredis.Client, prefix string) {
	t.Helper()
	addr = testenv.RedisAddr(t)
	raw = goredis.NewClient(&goredis.Options{Addr: addr})
	ctx := testenv.Context(t, 30*time.Second)
	if err := raw.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s is set but Redis at %s does not answer: %v", testenv.RedisAddrVar, addr, err)
	}
	prefix = testenv.UniqueName(t, "mt:") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, db := range []int{0, 1} {
			c := goredis.NewClient(&goredis.Options{Addr: addr, DB: db})
			keys, _ := c.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				c.Del(ctx, keys...)
			}
			_ = c.Close()
		}
		_ = raw.Close()
	})
	return addr, raw, prefix
}

// prefixed makes a script's keys unique to the test: the script reads the
// global P.
func prefixed(prefix, src string) string {
	return fmt.Sprintf("P = %q\n%s", prefix, src)
}

func TestIntegrationHandleWritesExactValuesAtFlush(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	l := luatest.LoadListener(t, prefixed(prefix, `local redis = require("redis")
return {name = "orders", subscribe = {"shop.orders"}, handle = function(evs)
  for _, ev in ipairs(evs) do
    local k = P .. "order:" .. ev.after.id
    redis.set(k, ev.after.blob)
    redis.set(k .. ":big", ev.after.big, 600)
    redis.hset(k .. ":h", {status = ev.after.status, id = ev.after.id, half = 0.5})
    redis.incr(P .. "count")
    redis.incrby(P .. "sum", ev.after.id)
    redis.sadd(P .. "ids", ev.after.id)
    redis.zadd(P .. "z", ev.after.id, "o" .. ev.after.id)
    redis.set(k .. ":gone", "x")
    redis.del(k .. ":gone")
    redis.set(k .. ":ttl", "x")
    redis.expire(k .. ":ttl", 120)
    -- Buffered: nothing of this batch is in Redis yet.
    local v, err = redis.get(k)
    assert(err == nil, err)
    assert(v == nil, "a write was visible before the flush")
  end
end}`), options(testSinks(addr), false))

	blob := []byte{0x00, 0xff, 'a', 0x00, 0x80, 0xfe}
	batch := []*event.Event{
		orderEvent(1, math.MaxInt64, blob, "new"),
		orderEvent(2, math.MinInt64, []byte{}, "paid"),
	}
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	k1 := prefix + "order:1"
	checks := []struct {
		key, want string
	}{
		{k1, string(blob)},
		{k1 + ":big", "9223372036854775807"},
		{prefix + "order:2:big", "-9223372036854775808"},
		{prefix + "order:2", ""},
		{prefix + "count", "2"},
		{prefix + "sum", "3"},
	}
	for _, c := range checks {
		got, err := raw.Get(ctx, c.key).Result()
		if err != nil || got != c.want {
			t.Errorf("GET %s = %q, %v; want %q", c.key, got, err, c.want)
		}
	}
	if h := raw.HGetAll(ctx, k1+":h").Val(); h["status"] != "new" || h["id"] != "1" || h["half"] != "0.5" || len(h) != 3 {
		t.Errorf("HGETALL = %v", h)
	}
	if m := raw.SMembers(ctx, prefix+"ids").Val(); len(m) != 2 {
		t.Errorf("SMEMBERS = %v", m)
	}
	if s := raw.ZScore(ctx, prefix+"z", "o2").Val(); s != 2 {
		t.Errorf("ZSCORE = %v", s)
	}
	if n := raw.Exists(ctx, k1+":gone").Val(); n != 0 {
		t.Errorf("deleted key exists")
	}
	if ttl := raw.TTL(ctx, k1+":ttl").Val(); ttl <= 0 || ttl > 120*time.Second {
		t.Errorf("TTL = %v", ttl)
	}
	if ttl := raw.TTL(ctx, k1+":big").Val(); ttl <= 0 || ttl > 600*time.Second {
		t.Errorf("TTL of set with ttl = %v", ttl)
	}
}

func TestIntegrationReadsRunAtOnce(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	raw.Set(ctx, prefix+"s", "\x00\xffv", 0)
	raw.HSet(ctx, prefix+"h", "a", "1", "b", "x")
	raw.SAdd(ctx, prefix+"set", "b", "a")
	raw.ZAdd(ctx, prefix+"z", goredis.Z{Score: 1.5, Member: "m"}, goredis.Z{Score: 3, Member: "n"})
	raw.Set(ctx, prefix+"n", "9223372036854775806", 0)

	_, err := exec(t, prefixed(prefix, `
local redis = require("redis")
local json = require("json")
local function eq(got, want, what) assert(got == want, what .. ": got " .. tostring(got) .. ", want " .. tostring(want)) end
eq(redis.get(P .. "s"), "\0\255v", "get")
eq(redis.get(P .. "missing"), nil, "get of a missing key")
local m = redis.mget(P .. "s", P .. "missing")
eq(#m, 2, "mget length"); eq(m[2], json.null, "mget missing")
eq(redis.hget(P .. "h", "a"), "1", "hget")
eq(redis.hget(P .. "h", "zz"), nil, "hget missing")
eq(json.encode(redis.hgetall(P .. "h")), '{"a":"1","b":"x"}', "hgetall")
eq(json.encode(redis.hgetall(P .. "nohash")), '{}', "hgetall missing")
eq(redis.hexists(P .. "h", "a"), true, "hexists")
eq(redis.exists(P .. "s", P .. "h", P .. "missing"), 2, "exists")
eq(redis.ttl(P .. "s"), -1, "ttl without expiry")
eq(redis.ttl(P .. "missing"), -2, "ttl missing")
eq(json.encode(redis.smembers(P .. "set")), '["a","b"]', "smembers")
eq(redis.sismember(P .. "set", "a"), true, "sismember")
eq(redis.scard(P .. "set"), 2, "scard")
eq(redis.zscore(P .. "z", "m"), 1.5, "zscore")
eq(redis.zscore(P .. "z", "nope"), nil, "zscore missing")
eq(json.encode(redis.zrange(P .. "z", 0, -1)), '["m","n"]', "zrange")
eq(redis.zcard(P .. "z"), 2, "zcard")
eq(redis.call("INCR", P .. "n"), "9223372036854775807", "call INCR beyond 2^53 is exact")
eq(redis.call("GET", P .. "missing"), nil, "call nil reply")
local v, err = redis.call("INCR", P .. "h")
eq(v, nil, "call error value")
assert(err:find("redis%[cache%] INCR .*WRONGTYPE"), err)
eq(redis.conn("store").get(P .. "s"), nil, "db 1 is another database")
`), options(testSinks(addr), false))
	if err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationFailedCommandFailsTheBatchNamingIt(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	l := luatest.LoadListener(t, prefixed(prefix, `local redis = require("redis")
return {name = "bad", subscribe = {"shop.orders"}, handle = function(evs)
  redis.set(P .. "before", "1")
  redis.set(P .. "text", "abc")
  redis.incr(P .. "text")
  redis.set(P .. "after", "1")
end}`), options(testSinks(addr), false))
	err := l.Handle(ctx, 0, []*event.Event{orderEvent(1, 1, nil, "x")})
	wantErr(t, err, "redis[cache] pipeline: INCR "+prefix+"text: ERR value is not an integer", "command 3 of 4")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Command != "INCR" || ce.Key != prefix+"text" {
		t.Errorf("error %v is not a CommandError for INCR %stext", err, prefix)
	}
	// A pipeline is not a transaction: Redis ran the others. The engine
	// retries the batch, which is why writes should be idempotent.
	if raw.Exists(ctx, prefix+"before", prefix+"after").Val() != 2 {
		t.Error("the other commands of the pipeline did not run")
	}
}

// calls is how many times the server has run cmd (INFO commandstats).
func calls(t *testing.T, raw *goredis.Client, cmd string) int {
	t.Helper()
	info, err := raw.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

func TestIntegrationRunsOfSetsAndOfDelsGoMergedInOrder(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	l := luatest.LoadListener(t, prefixed(prefix, `local redis = require("redis")
return {name = "sets", subscribe = {"shop.orders"}, handle = function(evs)
  redis.set(P .. "a", "1")
  redis.set(P .. "b", "1")
  redis.set(P .. "x", "1")
  redis.set(P .. "y", "1")
  redis.del(P .. "a")
  redis.del(P .. "x", P .. "y")
  redis.del(P .. "z")
  redis.set(P .. "c", "x", 60)
  redis.set(P .. "b", "3")
  redis.set(P .. "a", "4")
  redis.incr(P .. "n")
  redis.set(P .. "n", "10")
  redis.set(P .. "y", "2")
end}`), options(testSinks(addr), false))
	msets, dels := calls(t, raw, "mset"), calls(t, raw, "del")
	if err := l.Handle(ctx, 0, []*event.Event{orderEvent(1, 1, nil, "x")}); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n := calls(t, raw, "mset") - msets; n < 2 {
		t.Errorf("%d MSETs run, want the two runs of SETs sent as MSETs", n)
	}
	if n := calls(t, raw, "del") - dels; n != 1 {
		t.Errorf("%d DELs run, want the run of three sent as one", n)
	}
	got := raw.MGet(ctx, prefix+"a", prefix+"b", prefix+"c", prefix+"n", prefix+"x", prefix+"y").Val()
	if fmt.Sprint(got) != "[4 3 x 10 <nil> 2]" {
		t.Errorf("a, b, c, n, x, y = %v; want the writes applied in call order: [4 3 x 10 <nil> 2]", got)
	}
	if ttl := raw.TTL(ctx, prefix+"c").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL of the SET with EX = %v", ttl)
	}
}

// TestIntegrationRefusedMSETFallsBackToSets: a user that may SET but not
// MSET gets one failed batch naming the MSET; the retry sends SETs.
func TestIntegrationRefusedMSETFallsBackToSets(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	user := strings.TrimSuffix(prefix, ":")
	if err := raw.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~"+prefix+"*", "+@all", "-mset").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { raw.Do(context.Background(), "ACL", "DELUSER", user) })
	sinks := luatest.Sinks{
		Conns:    map[string]lua.SinkConfig{"limited": {Type: "redis", Endpoints: []string{addr}, Username: user, Password: "pw", Timeout: 2 * time.Second}},
		Defaults: map[string]string{"redis": "limited"},
	}
	l := luatest.LoadListener(t, prefixed(prefix, `local redis = require("redis")
return {name = "limited", subscribe = {"shop.orders"}, handle = function(evs)
  redis.set(P .. "a", "1")
  redis.set(P .. "b", "2")
end}`), options(sinks, false))
	batch := []*event.Event{orderEvent(1, 1, nil, "x")}
	err := l.Handle(ctx, 0, batch)
	wantErr(t, err, "redis[limited] pipeline: MSET "+prefix+"a: NOPERM", "commands 1 to 2 of 2: SETs sent as one MSET")
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got := raw.MGet(ctx, prefix+"a", prefix+"b").Val(); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("a, b = %v after the retry", got)
	}
}

func TestIntegrationServerDownMidBatchThenRetrySucceeds(t *testing.T) {
	addr, raw, prefix := realRedis(t)
	ctx := testenv.Context(t, time.Minute)
	proxy := testenv.NewProxy(t, addr)
	sk := testSinks(proxy.Addr())
	cfg := sk.Conns["cache"]
	cfg.Timeout = time.Second
	sk.Conns["cache"] = cfg
	opts := options(sk, false)
	// chaos.down() cuts the proxy from inside handle: after the script
	// recorded some writes and before the flush sends them.
	var cut bool
	opts.Modules = []lua.Module{funcModule{"chaos", map[string]func(){"down": func() {
		if cut {
			proxy.Down()
		}
	}}}}
	l := luatest.LoadListener(t, prefixed(prefix, `local redis = require("redis")
local chaos = require("chaos")
return {name = "down", subscribe = {"shop.orders"}, handle = function(evs)
  for i, ev in ipairs(evs) do
    redis.set(P .. ev.after.id, ev.after.status)
    redis.sadd(P .. "all", ev.after.id)
    if i == 25 then chaos.down() end
  end
end}`), opts)

	// A first batch opens the client's connection through the proxy.
	if err := l.Handle(ctx, 0, []*event.Event{orderEvent(0, 0, nil, "warm")}); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	var batch []*event.Event
	for i := uint64(1); i <= 50; i++ {
		batch = append(batch, orderEvent(i, 0, nil, fmt.Sprintf("s%d", i)))
	}
	cut = true
	err := l.Handle(ctx, 0, batch)
	cut = false
	wantErr(t, err, "redis[cache] pipeline of 100 commands")
	if n := raw.Exists(ctx, prefix+"1").Val(); n != 0 {
		t.Error("a write of the failed batch reached Redis through a downed proxy")
	}
	proxy.Up()
	if err := l.Handle(ctx, 0, batch); err != nil {
		t.Fatalf("retry after Up: %v", err)
	}
	for i := 1; i <= 50; i++ {
		if got := raw.Get(ctx, fmt.Sprintf("%s%d", prefix, i)).Val(); got != fmt.Sprintf("s%d", i) {
			t.Errorf("key %d = %q after the retry", i, got)
		}
	}
	if n := raw.SCard(ctx, prefix+"all").Val(); n != 51 {
		t.Errorf("SCARD = %d, want 51", n)
	}
}

func TestIntegrationReadFailureReturnsNilAndError(t *testing.T) {
	addr, _, _ := realRedis(t)
	proxy := testenv.NewProxy(t, addr)
	proxy.Down()
	_, err := exec(t, `local redis = require("redis")
local v, err = redis.get("k")
assert(v == nil and err:find("redis%[cache%] GET k: "), tostring(err))`, options(testSinks(proxy.Addr()), false))
	if err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationClientsAreSharedBySinkAndSettings(t *testing.T) {
	addr, _, _ := realRedis(t)
	opts := options(testSinks(addr), false)
	l := luatest.LoadListener(t, `local redis = require("redis")
return {name = "s", subscribe = {"shop.orders"}, workers = 2, handle = function(evs)
  assert(redis.exists("nothing") == 0)
end}`, opts)
	ctx := testenv.Context(t, time.Minute)
	for w := 0; w < 2; w++ {
		if err := l.Handle(ctx, w, []*event.Event{orderEvent(1, 1, nil, "x")}); err != nil {
			t.Fatal(err)
		}
	}
	key := clientKey(lua.SinkConfig{Name: "cache", Type: "redis", Endpoints: []string{addr}, Timeout: 2 * time.Second})
	if n := opts.Clients.Refs(key); n != 1 {
		t.Errorf("refs of %s = %d, want 1 (one per listener, shared by its workers)", key, n)
	}
	_ = l.Close()
	if n := opts.Clients.Refs(key); n != 0 {
		t.Errorf("refs after Close = %d", n)
	}
	if !strings.HasPrefix(key, "redis:cache:") {
		t.Errorf("key %s", key)
	}
}

// funcModule is a fake builtin whose functions run Go code: a test's
// hands inside a script.
type funcModule struct {
	name string
	fns  map[string]func()
}

func (m funcModule) Name() string { return m.name }

func (m funcModule) Open(L *glua.LState, _ *lua.Env) (glua.LValue, error) {
	t := L.NewTable()
	for name, fn := range m.fns {
		t.RawSetString(name, L.NewFunction(func(*glua.LState) int { fn(); return 0 }))
	}
	return t, nil
}
