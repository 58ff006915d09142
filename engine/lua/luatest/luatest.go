// Package luatest holds what the tests of builtin modules share: a fake
// sink configuration, a stand-in for the json builtin (a builtin's tests
// may not need the real one), running scripts in recording mode, loading a
// listener from a script's text, checking the examples of docs/lua-api.md
// against their "-- records: " comments, and measuring a listener's
// throughput. It exists for tests and benchmarks only; nothing in moontide
// itself imports it.
package luatest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// Sinks is a lua.Sinks for tests: the connections by name, and the default
// connection of each kind. Either map may be nil.
type Sinks struct {
	Conns    map[string]lua.SinkConfig
	Defaults map[string]string
}

// Sink returns the named connection.
func (s Sinks) Sink(name string) (any, bool) {
	c, ok := s.Conns[name]
	return c, ok
}

// Default returns the default connection of kind.
func (s Sinks) Default(kind string) (string, bool) {
	n, ok := s.Defaults[kind]
	return n, ok
}

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Options returns options with the given sinks (nil for none), a quiet
// logger and a private client pool, so that tests do not share clients.
func Options(s lua.Sinks, record bool) lua.Options {
	return lua.Options{Sinks: s, Record: record, Logger: Quiet, Clients: lua.NewPool()}
}

// JSON stands in for the json builtin in the tests of other builtins: it
// offers json.null, json.array and json.object (not encode and decode).
// Pass it in lua.Options.Modules.
type JSON struct{}

// Name is "json".
func (JSON) Name() string { return "json" }

// Open builds the table.
func (JSON) Open(L *glua.LState, _ *lua.Env) (glua.LValue, error) {
	t := L.NewTable()
	t.RawSetString("null", lua.NullValue)
	mark := func(f func(*glua.LState, *glua.LTable)) *glua.LFunction {
		return L.NewFunction(func(L *glua.LState) int {
			tb, ok := L.Get(1).(*glua.LTable)
			if !ok {
				tb = L.NewTable()
			}
			f(L, tb)
			L.Push(tb)
			return 1
		})
	}
	t.RawSetString("array", mark(lua.MarkArray))
	t.RawSetString("object", mark(lua.MarkObject))
	return t, nil
}

// Exec runs src as an ad-hoc script named file under ctx with opts and
// returns the ops it recorded (in recording mode), as Op.String renders
// them, and its error.
func Exec(ctx context.Context, file, src string, opts lua.Options) ([]string, error) {
	ops, err := lua.Exec(ctx, lua.Script{File: file, Source: []byte(src)}, opts)
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out, err
}

// Load writes src as the only script of a fresh scripts directory and
// loads it with opts. The generation, when there is one, is closed when
// the test ends.
func Load(t testing.TB, src string, opts lua.Options) (*lua.Generation, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := lua.Load(dir, opts)
	if g != nil {
		t.Cleanup(func() { _ = g.Close() })
	}
	return g, err
}

// LoadListener is Load for a script that must load: it returns the
// script's listener and fails the test otherwise.
func LoadListener(t testing.TB, src string, opts lua.Options) *lua.Listener {
	t.Helper()
	g, err := Load(t, src, opts)
	if err != nil {
		t.Fatalf("loading listener: %v", err)
	}
	return g.Listeners()[0]
}

// Handler returns the text of a listener script named "<module>-test"
// that requires module and json under their names, subscribes to shop.*,
// has a 20 s timeout and runs body (Lua statements over events) as its
// handle.
func Handler(module, body string) string {
	return fmt.Sprintf(`local %[1]s = require(%[1]q)
local json = require("json")
return {
  name = "%[1]s-test",
  subscribe = { "shop.*" },
  timeout = 20000,
  handle = function(events)
%[2]s
  end,
}
`, module, body)
}

// DocExample is one ```lua block of a section of a document.
type DocExample struct {
	// Line is the line of the opening fence.
	Line int
	// Src is the block's text.
	Src string
	// Records are its "-- records: " comments, in order: the ops that
	// running it in recording mode must record.
	Records []string
}

// Name names the example for a subtest: "line 42".
func (x DocExample) Name() string { return fmt.Sprintf("line %d", x.Line) }

// DocExamples returns the ```lua blocks of the "## section" part of the
// document at path; a section without any fails the test.
func DocExamples(t testing.TB, path, section string) []DocExample {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []DocExample
	in, cur := false, -1
	for n, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(line[3:]) == section
		case in && cur < 0 && strings.TrimSpace(line) == "```lua":
			blocks = append(blocks, DocExample{Line: n + 1})
			cur = len(blocks) - 1
		case cur >= 0 && strings.TrimSpace(line) == "```":
			cur = -1
		case cur >= 0:
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- records: "); ok {
				blocks[cur].Records = append(blocks[cur].Records, rest)
			}
			blocks[cur].Src += line + "\n"
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no %s examples", path, section)
	}
	return blocks
}

// Record runs the example as an ad-hoc script ("example.lua") in
// recording mode with opts, its prints discarded, and returns the ops it
// recorded; an error fails the test.
func (x DocExample) Record(t testing.TB, opts lua.Options) []string {
	t.Helper()
	opts.Record = true
	opts.Print = io.Discard
	ops, err := Exec(context.Background(), "example.lua", x.Src, opts)
	if err != nil {
		t.Fatalf("example failed: %v", err)
	}
	return ops
}

// CheckRecords fails the test unless the example recorded exactly its
// "-- records: " lines.
func (x DocExample) CheckRecords(t testing.TB, ops []string) {
	t.Helper()
	if !slices.Equal(ops, x.Records) {
		t.Errorf("recorded\n%s\nthe example says\n%s", strings.Join(ops, "\n"), strings.Join(x.Records, "\n"))
	}
}

// BenchHandle runs b.N batches through l, batch(i) being the i-th (all
// made before the timer starts), and reports events/s.
func BenchHandle(b *testing.B, ctx context.Context, l *lua.Listener, batch func(i int) []*event.Event) {
	b.Helper()
	batches := make([][]*event.Event, b.N)
	events := 0
	for i := range batches {
		batches[i] = batch(i)
		events += len(batches[i])
	}
	b.ResetTimer()
	start := time.Now()
	for i := range batches {
		if err := l.Handle(ctx, 0, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	ReportEventsPerSecond(b, events, start)
}

// ReportEventsPerSecond reports events handled since start as the
// benchmark's "events/s" metric.
func ReportEventsPerSecond(b *testing.B, events int, start time.Time) {
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
}
