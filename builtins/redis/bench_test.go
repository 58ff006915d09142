package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua/luatest"
	"github.com/moontide/moontide/internal/testenv"
)

// benchBatch is the batch size of the benchmark: 500 events, one SET each,
// flushed as one pipeline.
const benchBatch = 500

// BenchmarkIntegrationRedisSet measures the redis module inside moontide
// (events converted to Lua, a handler doing redis.set per event, the
// batch's writes flushed as one pipeline, the SETs of which go as MSETs)
// next to the ceilings the same run can reach with go-redis alone, keys and
// values prepared in advance, on one connection: 500 SETs per pipeline, and
// the same writes as MSETs of maxMerge keys. All report sets/s; the ratio to
// go-redis-mset is the module's overhead. Each also reports the Redis
// server's own CPU per SET (INFO cpu, so only meaningful when nothing else
// uses that Redis), which MSETs save on.
//
//	eval "$(dev/services.sh env)"
//	go test -run '^$' -bench IntegrationRedisSet -benchtime 3s ./builtins/redis/
func BenchmarkIntegrationRedisSet(b *testing.B) {
	addr := testenv.RedisAddr(b)
	prefix := testenv.UniqueName(b, "mt:") + ":"
	value := strings.Repeat("v", 40) // a small cached row, status-sized
	batch := make([]*event.Event, benchBatch)
	keys := make([]string, benchBatch)
	for i := range batch {
		batch[i] = orderEvent(uint64(i+1), int64(i), nil, value)
		keys[i] = prefix + batch[i].Key
	}
	probe := goredis.NewClient(&goredis.Options{Addr: addr})
	defer probe.Close()
	b.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.Del(ctx, keys...)
	})

	b.Run("moontide", func(b *testing.B) {
		opts := options(testSinks(addr), false)
		opts.Timeout = 30 * time.Second
		l := luatest.LoadListener(b, prefixed(prefix, `local redis = require("redis")
return {name = "bench", subscribe = {"shop.orders"}, batch = 500, handle = function(evs)
  for i = 1, #evs do
    local ev = evs[i]
    redis.set(P .. ev.key, ev.after.status)
  end
end}`), opts)
		ctx := testenv.Context(b, 0)
		if err := l.Handle(ctx, 0, batch); err != nil { // warm: state, client, connection
			b.Fatal(err)
		}
		b.ReportAllocs()
		done := started(b, probe)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := l.Handle(ctx, 0, batch); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})

	// The module alone: one event per call, and a handler that makes the
	// same 500 SETs from keys prepared at load, so that event conversion
	// (engine/lua's part) is out of the figure.
	b.Run("module-only", func(b *testing.B) {
		opts := options(testSinks(addr), false)
		opts.Timeout = 30 * time.Second
		l := luatest.LoadListener(b, prefixed(prefix, fmt.Sprintf(`local redis = require("redis")
local keys, V = {}, %q
for i = 1, %d do keys[i] = P .. i end
return {name = "bench", subscribe = {"shop.orders"}, handle = function(evs)
  for i = 1, #keys do redis.set(keys[i], V) end
end}`, value, benchBatch)), opts)
		ctx := testenv.Context(b, 0)
		one := batch[:1]
		if err := l.Handle(ctx, 0, one); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		done := started(b, probe)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := l.Handle(ctx, 0, one); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})

	b.Run("go-redis-pipeline", func(b *testing.B) {
		c, ctx := rawClient(b, addr)
		b.ReportAllocs()
		done := started(b, probe)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			pipe := c.Pipeline()
			for _, k := range keys {
				pipe.Set(ctx, k, value, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(fmt.Errorf("raw pipeline: %w", err))
			}
		}
		done()
	})

	// What the module sends for a run of plain SETs: MSETs of maxMerge keys.
	b.Run("go-redis-mset", func(b *testing.B) {
		c, ctx := rawClient(b, addr)
		var msets [][]any
		for k := range slices.Chunk(keys, maxMerge) {
			args := []any{"MSET"}
			for _, key := range k {
				args = append(args, key, value)
			}
			msets = append(msets, args)
		}
		b.ReportAllocs()
		done := started(b, probe)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			pipe := c.Pipeline()
			for _, args := range msets {
				pipe.Do(ctx, args...)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(fmt.Errorf("raw MSET pipeline: %w", err))
			}
		}
		done()
	})
}

// rawClient is a bare go-redis client of one connection, for the
// ceilings the module is measured against.
func rawClient(b *testing.B, addr string) (*goredis.Client, context.Context) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 1})
	b.Cleanup(func() { c.Close() })
	ctx := testenv.Context(b, 0)
	if err := c.Ping(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	return c, ctx
}

// started begins the figures of a sub-benchmark: sets/s, and the CPU the
// Redis server spent per SET. Call done when the timed loop has ended.
func started(b *testing.B, probe *goredis.Client) (done func()) {
	cpu0 := serverCPU(b, probe)
	return func() {
		n := float64(b.N * benchBatch)
		b.ReportMetric(n/b.Elapsed().Seconds(), "sets/s")
		b.ReportMetric(float64(serverCPU(b, probe)-cpu0)/n, "redis-cpu-ns/set")
	}
}

// serverCPU is the CPU time the Redis server has used (INFO cpu).
func serverCPU(b *testing.B, c *goredis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, line := range strings.Split(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				secs, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("INFO cpu: %s", line)
				}
				total += time.Duration(secs * float64(time.Second))
			}
		}
	}
	return total
}
