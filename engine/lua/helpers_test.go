package lua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

// sink is where the fake rec module's writers flush to; tests read it.
type sink struct {
	mu      sync.Mutex
	flushed []Op
	// failKey makes the flush of that writer key fail.
	failKey string
}

func (s *sink) ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.flushed))
	for i, o := range s.flushed {
		out[i] = o.String()
	}
	return out
}

type recWriter struct {
	s   *sink
	key string
	ops []Op
}

func (w *recWriter) Flush(ctx context.Context) error {
	if w.s.failKey == w.key {
		return fmt.Errorf("fake sink %s refused", w.key)
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.flushed = append(w.s.flushed, w.ops...)
	return nil
}

func (w *recWriter) Ops() []Op { return w.ops }

// recModule is a fake builtin for tests: rec.write(...) records a write in
// writer "rec" (rec.write_to(key, ...) in writer key), rec.panic() panics in
// Go, rec.wait() blocks until the call's context is done, rec.null is
// json.null, rec.togo(v) returns ToGo(v) converted back with FromGo, and
// rec.inspect(v) returns the Go form as %#v text.
type recModule struct{ s *sink }

func (recModule) Name() string { return "rec" }

func (m recModule) Open(L *glua.LState, env *Env) (glua.LValue, error) {
	t := L.NewTable()
	write := func(L *glua.LState, key string, from int) int {
		args := make([]any, 0, L.GetTop())
		for i := from; i <= L.GetTop(); i++ {
			v, err := ToGo(L, L.Get(i))
			if err != nil {
				L.ArgError(i, err.Error())
			}
			args = append(args, v)
		}
		w, err := env.Writer(key, func() Writer { return &recWriter{s: m.s, key: key} })
		if err != nil {
			L.RaiseError("%v", err)
		}
		rw := w.(*recWriter)
		rw.ops = append(rw.ops, Op{Module: "rec", Sink: key, Name: "write", Args: args})
		return 0
	}
	t.RawSetString("write", L.NewFunction(func(L *glua.LState) int { return write(L, "rec", 1) }))
	t.RawSetString("write_to", L.NewFunction(func(L *glua.LState) int { return write(L, L.CheckString(1), 2) }))
	t.RawSetString("panic", L.NewFunction(func(L *glua.LState) int { panic("fake builtin bug") }))
	t.RawSetString("wait", L.NewFunction(func(L *glua.LState) int {
		<-env.Context().Done()
		return 0
	}))
	t.RawSetString("null", NullValue)
	t.RawSetString("togo", L.NewFunction(func(L *glua.LState) int {
		v, err := ToGo(L, L.Get(1))
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		lv, err := FromGo(L, v)
		if err != nil {
			L.RaiseError("%v", err)
		}
		L.Push(lv)
		return 1
	}))
	t.RawSetString("inspect", L.NewFunction(func(L *glua.LState) int {
		v, err := ToGo(L, L.Get(1))
		if err != nil {
			L.Push(glua.LString("error: " + err.Error()))
			return 1
		}
		L.Push(glua.LString(fmt.Sprintf("%#v", v)))
		return 1
	}))
	return t, nil
}

// writeScripts writes files (path → text) under a new temporary directory.
func writeScripts(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, text := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testOptions returns options with the rec module, a quiet logger and a
// private client pool.
func testOptions(s *sink) Options {
	return Options{
		Modules: []Module{recModule{s: s}},
		Logger:  slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		Clients: NewPool(),
		Timeout: 2 * time.Second,
	}
}

// loadOne loads a directory holding one listener script with the given
// source and returns the listener.
func loadOne(t testing.TB, s *sink, src string) *Listener {
	t.Helper()
	dir := writeScripts(t, map[string]string{"l.lua": src})
	g, err := Load(dir, testOptions(s))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g.Listeners()[0]
}

var itemsTable = event.NewTable("shop", "items", []event.Column{
	{Name: "id", Type: "bigint unsigned"},
	{Name: "sku", Type: "varchar(32)"},
	{Name: "name", Type: "varchar(255)"},
	{Name: "price", Type: "decimal(10,2)"},
	{Name: "qty", Type: "int"},
	{Name: "weight", Type: "double"},
	{Name: "updated_at", Type: "datetime(6)"},
	{Name: "note", Type: "text"},
}, []int{0})

// itemEvent builds an event of shop.items with a realistic 8-column row.
func itemEvent(action event.Action, id uint64) *event.Event {
	row := func(name string) []event.Value {
		return []event.Value{
			event.UintValue(id),
			event.StringValue(fmt.Sprintf("SKU-%06d", id)),
			event.StringValue(name),
			event.DecimalValue("19.90"),
			event.IntValue(int64(id % 100)),
			event.FloatValue(1.25),
			event.TimeValue("2024-05-01 12:00:00.000000"),
			event.NullValue(),
		}
	}
	ev := &event.Event{
		ID:      fmt.Sprintf("mysql-bin.000001:%d:0", 1000+id),
		Action:  action,
		Table:   itemsTable,
		TS:      1714564800000,
		Pos:     event.Position{File: "mysql-bin.000001", Pos: uint32(1000 + id)},
		Version: event.MakeVersion(1, uint32(1000+id), 0),
		Tx:      event.Tx{ID: "0-1-42", Seq: id},
	}
	switch action {
	case event.Insert, event.Snapshot:
		ev.After = row("widget")
	case event.Update:
		ev.Before, ev.After = row("widget"), row("gadget")
	case event.Delete:
		ev.Before = row("widget")
	}
	if ev.Before != nil || ev.After != nil {
		ev.Key = event.MakeKey(itemsTable, ev.Row())
	}
	return ev
}

func mustFail(t *testing.T, err error) *CallError {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v is not a *CallError", err, err)
	}
	return ce
}
