// Command e2e measures moontide end to end in embedded mode, wired the way
// `moontide run` wires it (cmd/moontide runEmbedded): binlog → capture.Run →
// embedded transport → dispatch runner → Lua listener → Redis, on the real
// MariaDB and Redis of dev/services.sh.
//
// It writes a backlog of -rows rows as -chunk-row INSERT transactions into
// a fresh database (dropped at the end), then, in each run, reads it:
//
//   - raw: go-mysql's BinlogSyncer decoding the backlog alone (the ceiling,
//     as in bench/capture), for reference in the same run;
//   - one pipeline pass per -variants entry, each from the backlog's start
//     position with a fresh in-memory checkpoint store, timed from the start
//     of capture until the transport's safe position (what it would save)
//     reaches the backlog's end:
//   - demo: scripts/demo_cache.lua itself, with its subscription pointed at
//     the bench table and its key prefix made unique to the pass (the only
//     two edits, checked), writing every row to Redis with redis.set
//     through the real builtins. At the end Redis must hold exactly one key
//     per row, and the last row's value is checked; the keys are then
//     deleted.
//   - demo-all: the demo without its fields list, so that every event
//     carries every field: what the list saves.
//   - lua-json: the same listener spec whose handle only json.encodes each
//     row: the demo without Redis.
//   - lua-noop: the same spec with an empty handle: capture, transport,
//     runner and the Go→Lua conversion of the batch.
//   - go-noop: the same spec with a Go dispatch.Handler that counts distinct
//     rows (checked): capture, transport and runner only.
//
// Every pass checks that the transport received exactly -rows events.
// Rates are rows per second of wall time; the CPU seconds of this process
// are printed beside them (MariaDB and Redis run outside it, on the same
// cores). -cpuprofile writes a CPU profile of the first pass of
// -profile-variant.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/e2e -rows 1000000 -runs 2 -cpuprofile /tmp/e2e.prof
//	go tool pprof -top -nodecount 15 /tmp/e2e.prof
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moontide/moontide/bench/internal/backlog"
	_ "github.com/moontide/moontide/builtins/all"
	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/lua"
	"github.com/moontide/moontide/engine/transport/embedded"
	"github.com/moontide/moontide/internal/gctune"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run parses the flags, writes the backlog and runs the passes; the
// database is dropped however it ends.
func run() error {
	gctune.Apply() // as the moontide binary runs
	var src backlog.Flags
	src.Register(flag.CommandLine)
	redisAddr := flag.String("redis", os.Getenv("MOONTIDE_REDIS_ADDR"), "Redis host:port (default $MOONTIDE_REDIS_ADDR)")
	runs := flag.Int("runs", 1, "runs; each reads the backlog raw and once per variant")
	variants := flag.String("variants", "go-noop,lua-noop,lua-json,demo,demo-all", "pipeline passes per run, in order: go-noop, lua-noop, lua-json, demo, demo-all")
	scripts := flag.String("scripts", "scripts", "the scripts directory holding demo_cache.lua and lib/")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the first pass of -profile-variant to this file")
	profileVariant := flag.String("profile-variant", "demo", "the variant -cpuprofile profiles")
	flag.Parse()
	if src.DSN == "" || *redisAddr == "" {
		return errors.New("no source or Redis: pass -dsn and -redis or eval \"$(dev/services.sh env)\"")
	}
	vs := strings.Split(*variants, ",")
	for _, v := range vs {
		if _, ok := handles[v]; !ok && v != "go-noop" {
			return fmt.Errorf("unknown variant %q", v)
		}
	}
	demo, err := readDemo(*scripts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: *redisAddr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("reaching redis: %w", err)
	}

	bl, err := src.Write(ctx)
	if err != nil {
		return err
	}
	defer bl.Drop(ctx)
	fmt.Printf("backlog: %s\n", bl)

	p := pipeline{bl: bl, redis: rdb, redisAddr: *redisAddr, demo: demo}
	profiled := *cpuprofile == ""
	rates := make(map[string][]float64) // by variant, for the summary
	for i := 1; i <= *runs; i++ {
		fmt.Printf("run %d: load average %s\n", i, backlog.LoadAvg())
		raw, err := bl.RawDecode(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: %-9s %9.0f rows/s  (%s)\n", i, "raw", raw.Rate(), raw)
		for _, v := range vs {
			var stop func() error
			if !profiled && v == *profileVariant {
				profiled = true
				if stop, err = backlog.StartCPUProfile(*cpuprofile); err != nil {
					return err
				}
			}
			m, err := p.pass(ctx, v, fmt.Sprintf("%s:r%d:", bl.Schema, i))
			if stop != nil {
				err = errors.Join(err, stop())
			}
			if err != nil {
				return fmt.Errorf("variant %s: %w", v, err)
			}
			fmt.Printf("run %d: %-9s %9.0f rows/s  (%s)  ratio to raw %.2f\n", i, v, m.Rate(), m, m.Rate()/raw.Rate())
			rates[v] = append(rates[v], m.Rate())
		}
		fmt.Printf("run %d: load average %s\n", i, backlog.LoadAvg())
	}
	if *runs > 1 {
		// Passes vary by a fifth on a shared machine: the spread says
		// how much one figure can be trusted.
		for _, v := range vs {
			r := slices.Sorted(slices.Values(rates[v]))
			mean := 0.0
			for _, x := range r {
				mean += x / float64(len(r))
			}
			median := (r[(len(r)-1)/2] + r[len(r)/2]) / 2
			fmt.Printf("%d runs: %-9s mean %6.0f  median %6.0f  min %6.0f  max %6.0f rows/s\n", len(r), v, mean, median, r[0], r[len(r)-1])
		}
	}
	return nil
}

// The demo listener's files, and the strings the bench rewrites: the
// variants replace the demo's handle, from demoHandle on, and demo-all
// drops the line of demoFields.
const (
	demoFile      = "demo_cache.lua"
	demoKeysFile  = "lib/demo/keys.lua"
	demoSubscribe = `"moontide_demo.items"`
	demoFields    = "  fields    = "
	demoKeyPrefix = `"item:"`
	demoHandle    = "  handle = function(events)"
)

// demoScripts is the demo listener as shipped.
type demoScripts struct {
	listener, keys string
}

func readDemo(dir string) (demoScripts, error) {
	l, err := os.ReadFile(filepath.Join(dir, demoFile))
	if err != nil {
		return demoScripts{}, err
	}
	k, err := os.ReadFile(filepath.Join(dir, demoKeysFile))
	if err != nil {
		return demoScripts{}, err
	}
	d := demoScripts{string(l), string(k)}
	if strings.Count(d.listener, demoSubscribe) != 1 || strings.Count(d.listener, demoFields) != 1 || strings.Count(d.listener, demoHandle) != 1 || strings.Count(d.keys, demoKeyPrefix) != 1 {
		return d, fmt.Errorf("the demo listener changed: want one %s, one %q and one %q in %s and one %s in %s; update bench/e2e",
			demoSubscribe, demoFields, demoHandle, demoFile, demoKeyPrefix, demoKeysFile)
	}
	return d, nil
}

// handles are the Lua variants' handle functions; demo and demo-all use
// the shipped one. Every variant has the demo's batch and workers.
var handles = map[string]string{
	"lua-noop": `function(events) end`,
	"lua-json": `function(events)
    for _, ev in ipairs(events) do
      if ev.action ~= "ddl" and ev.action ~= "delete" then json.encode(ev.after) end
    end
  end`,
	"demo":     "",
	"demo-all": "",
}

// pipeline holds what every pass shares.
type pipeline struct {
	bl        backlog.Backlog
	redis     *goredis.Client
	redisAddr string
	demo      demoScripts
}

// pass runs the embedded pipeline over the backlog once with the given
// listener variant and checks that nothing was dropped.
func (p pipeline) pass(ctx context.Context, variant, keyPrefix string) (backlog.Measure, error) {
	table := p.bl.Schema + "." + p.bl.Table
	dir, err := os.MkdirTemp("", "moontide-bench-e2e")
	if err != nil {
		return backlog.Measure{}, err
	}
	defer os.RemoveAll(dir)
	if err := p.writeScripts(dir, variant, table, keyPrefix); err != nil {
		return backlog.Measure{}, err
	}
	gen, err := lua.Load(dir, lua.Options{Logger: backlog.Discard, Sinks: sinks{p.redisAddr}})
	if err != nil {
		return backlog.Measure{}, err
	}
	defer gen.Close()
	gen.Adopt(nil)
	var ls []dispatch.Listener
	var counter *backlog.Counter
	for _, l := range gen.Listeners() {
		if variant == "go-noop" {
			// The demo's spec, handled by Go.
			counter = backlog.NewCounter(p.bl.Rows)
			spec := l.Spec()
			spec.Name = variant
			ls = append(ls, dispatch.Listener{Spec: spec, Handler: counter})
			continue
		}
		ls = append(ls, dispatch.Listener{Spec: l.Spec(), Handler: l})
	}

	tr := embedded.New(&checkpoint.Memory{}, embedded.Options{Runner: dispatch.RunnerOptions{Logger: backlog.Discard}, Logger: backlog.Discard})
	trCtx, trCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer trCancel()
	trDone := make(chan error, 1)
	go func() { trDone <- tr.Run(trCtx) }()
	if err := tr.Apply(ctx, ls); err != nil {
		trCancel()
		return backlog.Measure{}, errors.Join(err, <-trDone)
	}

	capCtx, capCancel := context.WithCancel(ctx)
	defer capCancel()
	sw := backlog.Start()
	errc := make(chan error, 1)
	go func() { errc <- capture.Run(capCtx, p.bl.CaptureOptions(), tr) }()
	end, err := backlog.WaitFor(errc, 5*time.Millisecond, func() bool { return p.bl.Reached(tr.Status().Safe) })
	st := tr.Status()
	m := sw.Measure(int(st.Seq), end)
	capCancel()
	if err == nil {
		err = <-errc
	}
	trCancel()
	if err = errors.Join(err, <-trDone); err != nil {
		return m, err
	}
	if m.Rows != p.bl.Rows {
		return m, fmt.Errorf("the transport received %d events, want %d", m.Rows, p.bl.Rows)
	}
	switch variant {
	case "go-noop":
		if n := counter.Distinct(); n != int64(p.bl.Rows) {
			return m, fmt.Errorf("the handler saw %d distinct rows, want %d", n, p.bl.Rows)
		}
	case "demo", "demo-all":
		return m, p.checkRedis(ctx, keyPrefix)
	}
	return m, nil
}

// writeScripts writes the variant's listener into dir: the demo rewritten
// for the bench table and key prefix, or the demo's spec with another
// handle.
func (p pipeline) writeScripts(dir, variant, table, keyPrefix string) error {
	listener := strings.Replace(p.demo.listener, demoSubscribe, fmt.Sprintf("%q", table), 1)
	if h := handles[variant]; h != "" {
		listener = listener[:strings.Index(listener, demoHandle)] + "  handle = " + h + ",\n}\n"
	}
	if variant == "demo-all" {
		i := strings.Index(listener, demoFields)
		listener = listener[:i] + listener[i+strings.IndexByte(listener[i:], '\n')+1:]
	}
	keys := strings.Replace(p.demo.keys, demoKeyPrefix, fmt.Sprintf("%q", keyPrefix+"item:"), 1)
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(demoKeysFile)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, demoKeysFile), []byte(keys), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoFile), []byte(listener), 0o644)
}

// checkRedis counts the pass's keys, checks the last row's value and
// deletes them.
func (p pipeline) checkRedis(ctx context.Context, prefix string) error {
	var v struct {
		ID     uint64 `json:"id"`
		Note   string `json:"note"`
		Status string `json:"status"`
	}
	last := fmt.Sprintf("%sitem:%d", prefix, p.bl.Rows)
	s, err := p.redis.Get(ctx, last).Result()
	if err != nil {
		return fmt.Errorf("reading %s: %w", last, err)
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.ID != uint64(p.bl.Rows) || v.Note != fmt.Sprintf("note %d", p.bl.Rows) {
		return fmt.Errorf("%s holds %s, not the last row (%v)", last, s, err)
	}
	n := 0
	var cursor uint64
	for {
		keys, next, err := p.redis.Scan(ctx, cursor, prefix+"item:*", 10000).Result()
		if err != nil {
			return fmt.Errorf("counting keys: %w", err)
		}
		n += len(keys)
		if len(keys) > 0 {
			if err := p.redis.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("deleting keys: %w", err)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if n != p.bl.Rows {
		return fmt.Errorf("redis holds %d keys %sitem:*, want %d", n, prefix, p.bl.Rows)
	}
	return nil
}

// sinks gives the listeners one Redis sink, "cache", the default.
type sinks struct{ addr string }

// Sink returns the Redis sink named cache.
func (s sinks) Sink(name string) (any, bool) {
	if name != "cache" {
		return nil, false
	}
	return lua.SinkConfig{Name: name, Type: "redis", Endpoints: []string{s.addr}, Timeout: 10 * time.Second}, true
}

// Default names cache for redis.
func (s sinks) Default(kind string) (string, bool) { return "cache", kind == "redis" }
