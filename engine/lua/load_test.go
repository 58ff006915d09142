package lua

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

const okScript = `return { name = "%s", subscribe = {"a.b"}, handle = function() end }`

func script(name string) string { return strings.Replace(okScript, "%s", name, 1) }

func TestLoadRejectsBadScripts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // each must appear in the error
	}{
		{"unknown field names file and field", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, handle = function() end, bacth = 10 }`,
		}, []string{"x.lua: field \"bacth\": unknown field (did you mean \"batch\"?)"}},
		{"unknown retry field", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, handle = function() end, retry = { attempts = 3 } }`,
		}, []string{"x.lua: field \"retry\": unknown field \"attempts\""}},
		{"duplicate names name both files", map[string]string{
			"a.lua": script("same"), "b.lua": script("same"),
		}, []string{"b.lua: listener name \"same\" is already used by ", "a.lua"}},
		{"syntax error has file and line", map[string]string{
			"x.lua": "return {\n  name = \"x\",\n  subscribe = {\"a.b\"\n  handle = function() end }\n",
		}, []string{"x.lua:4:", "syntax error"}},
		{"syntax error in a lib module", map[string]string{
			"x.lua": script("x"), "lib/h.lua": "local = 1",
		}, []string{filepath.Join("lib", "h.lua") + ":1:", "syntax error"}},
		{"error while the chunk runs", map[string]string{
			"x.lua": "local t = nil\nreturn t.x",
		}, []string{"x.lua:2:"}},
		{"no table", map[string]string{"x.lua": `return 42`}, []string{"x.lua: a listener script must return a table", "it returned 42"}},
		{"no handler", map[string]string{"x.lua": `return { name = "x", subscribe = {"a.b"} }`}, []string{"x.lua: no handler"}},
		{"handle and on_insert together", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, handle = function() end, on_insert = function() end }`,
		}, []string{"field \"handle\": cannot be combined with on_insert"}},
		{"missing name", map[string]string{"x.lua": `return { subscribe = {"a.b"}, handle = function() end }`}, []string{"field \"name\": missing"}},
		{"subscribe as a string", map[string]string{
			"x.lua": `return { name = "x", subscribe = "a.b", handle = function() end }`,
		}, []string{`field "subscribe": must be a list: write { "a.b" }`}},
		{"bad pattern", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"orders"}, handle = function() end }`,
		}, []string{`field "subscribe": entry 1: pattern "orders": want schema.table`}},
		{"fields as a string", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, fields = "after", handle = function() end }`,
		}, []string{`x.lua: field "fields": must be a non-empty list of event fields`, `not "after"`}},
		{"empty fields", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, fields = {}, handle = function() end }`,
		}, []string{`field "fields": must be a non-empty list of event fields`}},
		{"misspelt field", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, fields = {"key", "aftr"}, handle = function() end }`,
		}, []string{`field "fields": entry 2 ("aftr") is not an event field (did you mean "after"?)`}},
		{"unknown field", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, fields = {"after", 7}, handle = function() end }`,
		}, []string{`field "fields": entry 2 (7) is not an event field (known: id, schema, table, action, before, after, changed, pk, key, ts, pos, version, tx, ddl)`}},
		{"field listed twice", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, fields = {"key", "after", "key"}, handle = function() end }`,
		}, []string{`field "fields": entry 3 ("key") is listed twice`}},
		{"space in a pattern", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"shop. orders"}, handle = function() end }`,
		}, []string{`field "subscribe": entry 1: pattern "shop. orders": space around " orders"`}},
		{"fractional batch", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, batch = 1.5, handle = function() end }`,
		}, []string{`field "batch": must be an integer`}},
		{"bad start", map[string]string{
			"x.lua": `return { name = "x", subscribe = {"a.b"}, start = "now", handle = function() end }`,
		}, []string{`field "start": must be "latest" or "earliest"`}},
		{"every bad file is reported", map[string]string{
			"a.lua": `return 1`, "b.lua": `return { name = "b" }`, "c.lua": script("c"),
		}, []string{"a.lua:", "b.lua: field \"subscribe\": missing", "b.lua: no handler"}},
		{"lib module shadowing a builtin", map[string]string{
			"x.lua": script("x"), "lib/rec.lua": "return {}",
		}, []string{"module name \"rec\" is taken by a builtin module"}},
		{"a chunk that never returns", map[string]string{"x.lua": "while true do end"}, []string{"x.lua:1: running the script took longer than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeScripts(t, tt.files)
			o := testOptions(&sink{})
			o.Timeout = 200 * 1e6
			g, err := Load(dir, o)
			if err == nil {
				g.Close()
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadDefaultsAndLayout(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"b.lua":         script("beta"),
		"a.lua":         "return { name = \"alpha\", subscribe = {\"s.*\", \"*.t\", \"shop.`order.items`\"}, dead_letter = true, on_delete = function() end }",
		"notes.txt":     "not a script",
		".hidden.lua":   "syntax error here",
		"lib/x/y.lua":   `return { v = 1 }`,
		"adhoc/job.lua": "not loaded: only top-level files are listeners",
	})
	o := testOptions(&sink{})
	o.Batch, o.Workers = 500, 3
	g, err := Load(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var names []string
	for _, l := range g.Listeners() {
		names = append(names, l.Name())
	}
	if !reflect.DeepEqual(names, []string{"alpha", "beta"}) {
		t.Fatalf("listeners %v", names)
	}
	a := g.Listener("alpha").Spec()
	if want := []string{"s.*", "*.t", "shop.`order.items`"}; !reflect.DeepEqual(a.Subscribe, want) {
		t.Errorf("subscribe %q, want %q", a.Subscribe, want)
	}
	if a.Batch != 500 || a.Workers != 3 || a.Start != "latest" || !a.DeadLetter || a.Retry.MaxAttempts != DefaultDeadLetterAttempts {
		t.Errorf("spec %+v does not carry the defaults", a)
	}
	if g.Listener("alpha").Timeout() != o.Timeout {
		t.Errorf("timeout %v", g.Listener("alpha").Timeout())
	}
}

func TestRequireOfLibModules(t *testing.T) {
	s := &sink{}
	dir := writeScripts(t, map[string]string{
		"l.lua": `local keys = require("util.keys")
local again = require("util.keys")
local rec = require("rec")
return { name = "l", subscribe = {"a.b"}, handle = function(events)
  assert(keys == again, "modules are cached per state")
  rec.write(keys.of(events[1]), require("flag"))
end }`,
		"lib/util/keys.lua": `return { of = function(ev) return ev.table .. ":" .. ev.key end }`,
		"lib/flag.lua":      `-- returns nothing: require gives true`,
		"lib/loop.lua":      `return require("loop")`,
	})
	g, err := Load(dir, testOptions(s))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Listener("l").Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 5)}); err != nil {
		t.Fatal(err)
	}
	if got := s.ops(); len(got) != 1 || got[0] != `rec[rec].write("items:5", true)` {
		t.Errorf("flushed %q", got)
	}
	_, err = Exec(context.Background(), Script{File: "x.lua", Source: []byte(`require("loop")`), Dir: dir}, testOptions(s))
	if err == nil || !strings.Contains(err.Error(), `require loop: module "loop"`) {
		t.Errorf("require loop: %v", err)
	}
	_, err = Exec(context.Background(), Script{File: "x.lua", Source: []byte(`require("util.nope")`), Dir: dir}, testOptions(s))
	if err == nil || !strings.Contains(err.Error(), `x.lua:1: module "util.nope" not found`) || !strings.Contains(err.Error(), filepath.Join("lib", "util", "nope.lua")) {
		t.Errorf("missing module: %v", err)
	}
}

func TestAdoptKeepsUnchangedListeners(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": script("a"), "b.lua": script("b"), "c.lua": script("c")})
	o := testOptions(&sink{})
	old, err := Load(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	oldA := old.Listener("a")
	if err := oldA.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.lua"), []byte(script("b")+"\n-- changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "c.lua"))
	os.WriteFile(filepath.Join(dir, "d.lua"), []byte(script("d")), 0o644)
	g, err := Load(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	// What runs once g takes over, handed to the transport before Adopt.
	running := g.Running(old)
	if len(running) != 3 || running[0] != oldA || running[1] != g.Listener("b") || running[2] != g.Listener("d") {
		t.Errorf("Running(old) = %v, want old's a, and g's b and d", running)
	}
	d := g.Adopt(old)
	if !slices.Equal(g.Listeners(), running) {
		t.Errorf("after Adopt the generation holds %v, not what Running said", g.Listeners())
	}
	want := Diff{Added: []string{"d"}, Changed: []string{"b"}, Removed: []string{"c"}, Unchanged: []string{"a"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("diff %+v, want %+v", d, want)
	}
	if g.Listener("a") != oldA || oldA.states[0] == nil {
		t.Error("the unchanged listener was not carried over with its state")
	}
	old.Close()
	if oldA.states[0] == nil {
		t.Error("closing the old generation closed an adopted listener")
	}
	if err := g.Listener("a").Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 2)}); err != nil {
		t.Fatal(err)
	}
	g.Close()
}

type closer struct{ closed *int }

func (c closer) Close() error { *c.closed++; return nil }

// clientModule opens a shared client keyed "k" on first use.
type clientModule struct{ opened, closed *int }

func (clientModule) Name() string { return "cli" }

func (m clientModule) Open(L *glua.LState, env *Env) (glua.LValue, error) {
	t := L.NewTable()
	t.RawSetString("use", L.NewFunction(func(L *glua.LState) int {
		_, err := env.Client("k", func() (io.Closer, error) { *m.opened++; return closer{m.closed}, nil })
		if err != nil {
			L.RaiseError("%v", err)
		}
		return 0
	}))
	return t, nil
}

func TestSharedClientsLiveAcrossGenerations(t *testing.T) {
	var opened, closed int
	dir := writeScripts(t, map[string]string{"a.lua": `local cli = require("cli")
return { name = "a", subscribe = {"a.b"}, workers = 2, handle = function() cli.use() end }`})
	o := testOptions(&sink{})
	o.Modules = append(o.Modules, clientModule{&opened, &closed})
	gen := func() *Generation {
		g, err := Load(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		for w := 0; w < 2; w++ {
			if err := g.Listener("a").Handle(context.Background(), w, []*event.Event{itemEvent(event.Insert, 1)}); err != nil {
				t.Fatal(err)
			}
		}
		return g
	}
	g1 := gen()
	o.ConfigHash = "changed" // force a new listener
	g2 := gen()
	if d := g2.Adopt(g1); len(d.Changed) != 1 {
		t.Fatalf("diff %+v", d)
	}
	if opened != 1 || o.Clients.Refs("k") != 2 {
		t.Fatalf("opened %d times, %d refs: want one client held by both listeners", opened, o.Clients.Refs("k"))
	}
	g1.Close()
	if closed != 0 {
		t.Fatal("closing the old generation closed a client the new one uses")
	}
	g2.Close()
	if closed != 1 || o.Clients.Refs("k") != 0 {
		t.Fatalf("closed %d times, %d refs left", closed, o.Clients.Refs("k"))
	}
}

func TestPoolRetriesAfterAFailedOpen(t *testing.T) {
	p := NewPool()
	var closed int
	_, err := p.Acquire("k", func() (io.Closer, error) { return nil, errors.New("dial refused") })
	if err == nil || p.Refs("k") != 0 {
		t.Fatalf("failed open: err %v, refs %d", err, p.Refs("k"))
	}
	for i := 0; i < 2; i++ {
		if _, err := p.Acquire("k", func() (io.Closer, error) { return closer{&closed}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	p.Release("k")
	if closed != 0 {
		t.Fatal("closed while referenced")
	}
	p.Release("k")
	if closed != 1 {
		t.Fatal("not closed after the last release")
	}
	if err := p.Release("k"); err == nil {
		t.Error("releasing a key not held succeeded")
	}
}

// TestSampleScripts validates the sample listeners shipped in scripts/ and
// runs each once in recording mode, with a stand-in for every builtin that
// this package's tests cannot import.
func TestSampleScripts(t *testing.T) {
	runSamples(t, "../../scripts")
}

// TestReadmeListener does the same for the listener the README opens with.
func TestReadmeListener(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```lua\n")
	src, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README.md has no lua block")
	}
	runSamples(t, writeScripts(t, map[string]string{"orders_cache.lua": src}))
}

func runSamples(t *testing.T, dir string) {
	t.Helper()
	o := testOptions(&sink{})
	o.Record = true
	o.Modules = append(o.Modules, standIn("redis"), standIn("json"), standIn("log"))
	g, err := Load(dir, o)
	if err != nil {
		t.Fatalf("%s does not load: %v", dir, err)
	}
	defer g.Close()
	if len(g.Listeners()) == 0 {
		t.Fatal("no sample listener")
	}
	for _, l := range g.Listeners() {
		evs := []*event.Event{itemEvent(event.Insert, 1), itemEvent(event.Update, 2), itemEvent(event.Delete, 3)}
		if err := l.Handle(context.Background(), 0, evs); err != nil {
			t.Errorf("%s: %v", l.File(), err)
		}
		// One Redis write per event: a set, or a del for the delete.
		writes := 0
		for _, op := range l.Recorded() {
			if op.Module == "redis" {
				writes++
			}
		}
		if writes != len(evs) {
			t.Errorf("%s made %d Redis writes for %d events", l.File(), writes, len(evs))
		}
	}
}

// standIn is a module whose every function records a write named after it
// and returns its first argument as text.
type standIn string

func (m standIn) Name() string { return string(m) }

func (m standIn) Open(L *glua.LState, env *Env) (glua.LValue, error) {
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		name := L.CheckString(2)
		L.Push(L.NewFunction(func(L *glua.LState) int {
			var args []any
			for i := 1; i <= L.GetTop(); i++ {
				v, _ := ToGo(L, L.Get(i))
				args = append(args, v)
			}
			if w, err := env.Writer(string(m), func() Writer { return &recWriter{s: &sink{}, key: string(m)} }); err == nil {
				rw := w.(*recWriter)
				rw.ops = append(rw.ops, Op{Module: string(m), Name: name, Args: args})
			}
			L.Push(glua.LString(L.ToStringMeta(L.Get(1)).String()))
			return 1
		}))
		return 1
	}))
	L.SetMetatable(t, mt)
	t.RawSetString("null", NullValue)
	return t, nil
}
