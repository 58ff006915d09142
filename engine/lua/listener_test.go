package lua

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

func TestBasicGenerationLoadsAndHandles(t *testing.T) {
	s := &sink{}
	g, err := Load("testdata/basic", testOptions(s))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer g.Close()
	echo := g.Listener("echo")
	if echo == nil {
		t.Fatalf("no listener echo in %v", g.Listeners())
	}
	want := dispatch.Spec{
		Name: "echo", Subscribe: []string{"shop.*"}, Batch: 10, Workers: 2,
		MaxWait: 50 * time.Millisecond, Start: "latest",
		Retry: dispatch.Retry{MaxAttempts: 3, Backoff: 20 * time.Millisecond},
	}
	if got := echo.Spec(); !reflect.DeepEqual(got, want) {
		t.Errorf("Spec = %+v, want %+v", got, want)
	}
	if echo.Timeout() != 300*time.Millisecond {
		t.Errorf("Timeout = %v", echo.Timeout())
	}
	for w := 0; w < 2; w++ {
		if err := echo.Handle(context.Background(), w, []*event.Event{itemEvent(event.Insert, 1), itemEvent(event.Delete, 2)}); err != nil {
			t.Fatalf("Handle on worker %d: %v", w, err)
		}
	}
	got := s.ops()
	wantOps := []string{
		`rec[rec].write("shop.items:1", "insert")`, `rec[rec].write("shop.items:2", "delete")`,
		`rec[rec].write("shop.items:1", "insert")`, `rec[rec].write("shop.items:2", "delete")`,
	}
	if !reflect.DeepEqual(got, wantOps) {
		t.Errorf("flushed %q, want %q", got, wantOps)
	}
}

func TestPerActionHandlers(t *testing.T) {
	s := &sink{}
	g, err := Load("testdata/basic", testOptions(s))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer g.Close()
	l := g.Listener("actions")
	ddl := &event.Event{ID: "ddl-1", Action: event.DDL, Table: itemsTable, Statement: "ALTER TABLE items ADD x INT"}
	batch := []*event.Event{itemEvent(event.Insert, 1), itemEvent(event.Update, 1), ddl, itemEvent(event.Snapshot, 5), itemEvent(event.Delete, 1)}
	if err := l.Handle(context.Background(), 0, batch); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := []string{
		`rec[rec].write("insert", "1", "insert")`,
		`rec[rec].write("insert", "5", "snapshot")`,
		`rec[rec].write("delete", "1")`,
	}
	if got := s.ops(); !reflect.DeepEqual(got, want) {
		t.Errorf("flushed %q, want %q", got, want)
	}

	// Only ignored actions: nothing runs, nothing fails.
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Update, 2), ddl}); err != nil {
		t.Fatalf("Handle of ignored events: %v", err)
	}

	// on_delete returns false for key 13: the error names that event.
	bad := itemEvent(event.Delete, 13)
	ce := mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 12), bad}))
	if !errors.Is(ce, ErrReturnedFalse) || ce.Event != bad.ID {
		t.Errorf("error %v: want ErrReturnedFalse naming event %s", ce, bad.ID)
	}
	if len(s.ops()) != 3 {
		t.Errorf("a failed batch flushed writes: %q", s.ops())
	}
}

// TestToStringIsGopherLuas: the sandbox's faster tostring must write every
// value as gopher-lua's own does.
func TestToStringIsGopherLuas(t *testing.T) {
	values := `{0, -0, 1, -1, 7, 1023, 1024, 123456789, -987654321, 2^31, 2^53, 2^53 + 2, -2^53, 2^62, 2^63, -2^63,
  2^64, 1e15, 1e21, 1e300, 0.5, -1.25, 1/3, 1e-7, 0/0, 1/0, -1/0, "12", "x", true, false, json_null}`
	script := `local out = {}
for i = 1, 31 do out[i] = tostring((` + values + `)[i]) end
out[#out + 1] = tostring(nil)
return table.concat(out, " ")`
	run := func(L *glua.LState) string {
		L.SetGlobal("json_null", NullValue)
		if err := L.DoString(script); err != nil {
			t.Fatal(err)
		}
		return L.Get(-1).String()
	}
	plain := glua.NewState()
	defer plain.Close()
	want := run(plain)
	o := &Options{}
	L := newState(o.shared(""), &Env{logger: testOptions(nil).Logger, sinks: noSinks{}}).L
	defer L.Close()
	if got := run(L); got != want {
		t.Errorf("sandbox tostring:\n%s\ngopher-lua:\n%s", got, want)
	}
	if !strings.Contains(want, " 9007199254740992 ") || !strings.Contains(want, " 1e+21 ") {
		t.Errorf("the values no longer cover integers and exponents: %s", want)
	}
}

func TestSandbox(t *testing.T) {
	tests := []struct {
		name string
		body string // runs inside handle, at line 4 of l.lua
		want string // "" means the call succeeds
	}{
		{"io is not opened", `assert(rawget(_G, "io") == nil)`, ""},
		{"touching io names the script and line", `io.write("x")`, "l.lua:4: io is not available"},
		{"os.execute is gone", `assert(rawget(os, "execute") == nil and rawget(os, "exit") == nil and rawget(os, "getenv") == nil)`, ""},
		{"calling os.execute names the script and line", `os.execute("true")`, "l.lua:4: os.execute is not available"},
		{"os.remove is gone", `os.remove("/tmp/x")`, "os.remove is not available"},
		{"dofile is gone", `dofile("/etc/passwd")`, "l.lua:4: dofile is not available"},
		{"loadfile is gone", `loadfile("x.lua")`, "loadfile is not available"},
		{"load is gone", `load(function() return nil end)`, "load is not available"},
		{"loadstring is gone", `loadstring("return 1")`, "loadstring is not available"},
		{"debug is not opened", `debug.getinfo(1)`, "debug is not available"},
		{"package is not opened", `package.path = "/tmp/?.lua"`, "package is not available"},
		{"safe os functions work", `assert(type(os.time()) == "number" and type(os.clock()) == "number" and os.date("!%Y", 0) == "1970")`, ""},
		{"string, table and math work", `assert(string.format("%05.1f", math.pi) == "003.1" and table.concat({1, 2}, ",") == "1,2")`, ""},
		{"unknown globals are still nil", `assert(no_such_global == nil)`, ""},
		{"require of a missing module fails clearly", `require("nope")`, `module "nope" not found: it is not a builtin (builtins: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			l := loadOne(t, s, "return {\n  name = \"l\", subscribe = {\"a.b\"},\n  handle = function(events)\n    "+tt.body+"\n  end,\n}\n")
			err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRunawayLoopIsStoppedAndStateRebuilt(t *testing.T) {
	s := &sink{}
	l := loadOne(t, s, `local rec = require("rec")
poisoned = false
return {
  name = "spin", subscribe = {"shop.items"}, timeout = 100,
  handle = function(events)
    assert(not poisoned, "a state that timed out was reused")
    poisoned = true
    if events[1].key == "666" then
      while true do end
    end
    poisoned = false
    rec.write(events[1].key)
  end,
}
`)
	start := time.Now()
	ce := mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 666)}))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the loop ran %v", d)
	}
	if !errors.Is(ce, context.DeadlineExceeded) || ce.Timeout != 100*time.Millisecond {
		t.Errorf("error %v: want a timeout after 100ms", ce)
	}
	if !strings.Contains(ce.Error(), "timed out after 100ms at ") || !strings.Contains(ce.Error(), "l.lua:9") {
		t.Errorf("error %q does not say timeout at l.lua:9", ce.Error())
	}
	if l.states[0] != nil {
		t.Fatal("the state that timed out was kept")
	}
	// The retry runs in a fresh state (the poisoned global is gone) and
	// succeeds.
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 7)}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := s.ops(); len(got) != 1 || got[0] != `rec[rec].write("7")` {
		t.Errorf("flushed %q", got)
	}
}

func TestBlockedReadStopsAtDeadline(t *testing.T) {
	l := loadOne(t, &sink{}, `local rec = require("rec")
return { name = "w", subscribe = {"a.b"}, timeout = 50, handle = function(evs) rec.wait() end }`)
	ce := mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)}))
	if !errors.Is(ce, context.DeadlineExceeded) {
		t.Errorf("error %v, want a timeout", ce)
	}
}

func TestCancelledCallReportsCancellation(t *testing.T) {
	l := loadOne(t, &sink{}, `return { name = "c", subscribe = {"a.b"}, handle = function(evs) while true do end end }`)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ce := mustFail(t, l.Handle(ctx, 0, []*event.Event{itemEvent(event.Insert, 1)}))
	if !errors.Is(ce, context.DeadlineExceeded) || ce.Timeout != 0 {
		t.Errorf("error %v: the caller's deadline is not the listener's timeout", ce)
	}
	if l.states[0] != nil {
		t.Error("an interrupted state was kept")
	}
}

func TestFailuresNameFileLineAndBatch(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		cause error
		want  []string
	}{
		{"error()", `error("boom")`, ErrScript, []string{`listener "l"`, "l.lua:4: boom", "events mysql-bin.000001:1001:0 .. mysql-bin.000001:1002:0"}},
		{"runtime error", `local x = nil; x.y = 1`, ErrScript, []string{"l.lua:4:", "events mysql-bin.000001:1001:0 .."}},
		{"error in a lib module", `require("bad").explode()`, ErrScript, []string{"lib/bad.lua:2: kaboom"}},
		{"returning false", `return false`, ErrReturnedFalse, []string{"l.lua: handler returned false", "events mysql-bin.000001:1001:0 .. mysql-bin.000001:1002:0"}},
		{"a Go panic in a builtin", `require("rec").panic()`, ErrPanic, []string{"fake builtin bug"}},
		{"a non-encodable argument", `local t = {}; t.self = t; require("rec").write(t)`, ErrScript, []string{"l.lua:4:", "cycle", "$.self"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeScripts(t, map[string]string{
				"l.lua":       "return {\n  name = \"l\", subscribe = {\"a.b\"},\n  handle = function(events)\n    " + tt.body + "\n  end,\n}\n",
				"lib/bad.lua": "local M = {}\nfunction M.explode() error(\"kaboom\") end\nreturn M\n",
			})
			g, err := Load(dir, testOptions(&sink{}))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			l := g.Listener("l")
			ce := mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1), itemEvent(event.Insert, 2)}))
			if !errors.Is(ce, tt.cause) {
				t.Errorf("cause of %v is not %v", ce, tt.cause)
			}
			for _, w := range tt.want {
				if !strings.Contains(ce.Error(), w) {
					t.Errorf("error %q does not contain %q", ce.Error(), w)
				}
			}
			if broken := l.states[0] == nil; broken != (tt.cause == ErrPanic) {
				t.Errorf("state discarded = %v, want %v", broken, tt.cause == ErrPanic)
			}
			// A state that survived (or was rebuilt) handles the next batch.
		})
	}
}

func TestWritesFlushInOrderOnlyAfterSuccess(t *testing.T) {
	s := &sink{}
	l := loadOne(t, s, `local rec = require("rec")
return { name = "w", subscribe = {"a.b"}, handle = function(events)
  rec.write_to("b", 1)
  rec.write_to("a", 2)
  rec.write_to("b", 3)
  if events[1].key == "9" then error("late failure") end
end }`)
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)}); err != nil {
		t.Fatal(err)
	}
	want := []string{`rec[b].write(1)`, `rec[b].write(3)`, `rec[a].write(2)`}
	if got := s.ops(); !reflect.DeepEqual(got, want) {
		t.Errorf("flushed %q, want writer b first (first touched), then a: %q", got, want)
	}
	mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 9)}))
	if got := s.ops(); len(got) != 3 {
		t.Errorf("a failed call flushed: %q", got)
	}
	s.failKey = "a"
	ce := mustFail(t, l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)}))
	if !strings.Contains(ce.Error(), "flushing a: fake sink a refused") {
		t.Errorf("error %q does not name the failed flush", ce)
	}
}

func TestWritesOutsideACallFail(t *testing.T) {
	dir := writeScripts(t, map[string]string{"l.lua": `require("rec").write(1)
return { name = "l", subscribe = {"a.b"}, handle = function() end }`})
	_, err := Load(dir, testOptions(&sink{}))
	if err == nil || !strings.Contains(err.Error(), "writes are only possible inside handle") {
		t.Fatalf("Load: %v", err)
	}
}

func TestRecordingModeCollectsInsteadOfFlushing(t *testing.T) {
	s := &sink{}
	dir := writeScripts(t, map[string]string{"l.lua": `local rec = require("rec")
return { name = "l", subscribe = {"a.b"}, handle = function(events)
  for _, ev in ipairs(events) do rec.write(ev.key, ev.after.price) end
end }`})
	o := testOptions(s)
	o.Record = true
	g, err := Load(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	l := g.Listener("l")
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1), itemEvent(event.Insert, 2)}); err != nil {
		t.Fatal(err)
	}
	if len(s.ops()) != 0 {
		t.Errorf("recording mode flushed %q", s.ops())
	}
	var got []string
	for _, op := range l.Recorded() {
		got = append(got, op.Listener+" "+op.String())
	}
	want := []string{`l rec[rec].write("1", "19.90")`, `l rec[rec].write("2", "19.90")`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if len(l.Recorded()) != 0 {
		t.Error("Recorded did not forget what it returned")
	}
}

func TestEventTableShape(t *testing.T) {
	l := loadOne(t, &sink{}, `local rec = require("rec")
return { name = "shape", subscribe = {"a.b"}, handle = function(events)
  local u = events[1]
  assert(u.id == "mysql-bin.000001:1003:0", u.id)
  assert(u.schema == "shop" and u.table == "items" and u.action == "update")
  assert(u.before.name == "widget" and u.after.name == "gadget")
  assert(#u.changed == 1 and u.changed[1] == "name", tostring(#u.changed))
  assert(#u.pk == 1 and u.pk[1] == "id")
  assert(u.key == "3")
  assert(u.ts == 1714564800000)
  assert(u.pos.file == "mysql-bin.000001" and u.pos.pos == 1003 and u.pos.gtid == nil)
  assert(u.version == 2^43 + 1003 * 2048, tostring(u.version))
  assert(u.tx.id == "0-1-42" and u.tx.seq == 3)
  assert(u.ddl == nil)
  assert(u.after.note == rec.null, "NULL is json.null")
  assert(u.after.price == "19.90", "DECIMAL is a string")
  assert(u.after.qty == 3 and u.after.weight == 1.25)
  local d = events[2]
  assert(d.action == "delete" and d.after == nil and d.before.id == 4 and d.changed == nil)
  local x = events[3]
  assert(x.action == "ddl" and x.ddl == "DROP TABLE t" and x.before == nil and x.after == nil)
  assert(x.pos.gtid == "0-1-99")
end }`)
	ddl := &event.Event{ID: "d", Action: event.DDL, Table: &event.Table{Schema: "shop"}, Statement: "DROP TABLE t", Pos: event.Position{GTID: "0-1-99"}}
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Update, 3), itemEvent(event.Delete, 4), ddl}); err != nil {
		t.Fatal(err)
	}
}

func TestFieldsListLeavesTheOtherFieldsOut(t *testing.T) {
	for _, handler := range []string{"handle", "on_update"} {
		t.Run(handler, func(t *testing.T) {
			body := `local ev = ...
  local keys = {}
  for k in pairs(ev) do keys[#keys + 1] = k end
  table.sort(keys)
  assert(table.concat(keys, " ") == "action after before key", table.concat(keys, " "))
  assert(ev.action == "update" and ev.key == "3" and ev.after.name == "gadget" and ev.before.name == "widget")`
			if handler == "handle" {
				body = "for _, ev in ipairs(...) do\n" + strings.TrimPrefix(body, "local ev = ...") + "\nend"
			}
			l := loadOne(t, &sink{}, `return { name = "slim", subscribe = {"a.b"}, fields = { "action", "key", "before", "after" },
  `+handler+` = function(...)
  `+body+`
end }`)
			if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Update, 3)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValuesReachLuaExactly(t *testing.T) {
	tbl := event.NewTable("t", "v", []event.Column{
		{Name: "i63", Type: "bigint"}, {Name: "u64", Type: "bigint unsigned"},
		{Name: "min", Type: "bigint"}, {Name: "p53", Type: "bigint"}, {Name: "p53p1", Type: "bigint"},
		{Name: "nul", Type: "int"}, {Name: "gone", Type: "int"}, {Name: "bin", Type: "varbinary(8)"},
		{Name: "f", Type: "float"}, {Name: "doc", Type: "json"}, {Name: "at", Type: "datetime(6)"},
	}, nil)
	ev := &event.Event{ID: "x", Action: event.Insert, Table: tbl, Version: math.MaxInt64, After: []event.Value{
		event.IntValue(math.MaxInt64), event.UintValue(math.MaxUint64), event.IntValue(math.MinInt64),
		event.IntValue(1 << 53), event.IntValue(1<<53 + 1), event.NullValue(), {},
		event.BytesValue([]byte{0, 0xff, 0x80, '\n'}), event.Float32Value(1.1), event.JSONValue(`{"a":1}`),
		event.TimeValue("2024-02-29 23:59:59.000001"),
	}}
	l := loadOne(t, &sink{}, `local rec = require("rec")
return { name = "v", subscribe = {"a.b"}, handle = function(events)
  local r = events[1].after
  assert(r.i63 == "9223372036854775807", "BIGINT max is an exact string")
  assert(r.u64 == "18446744073709551615", "BIGINT UNSIGNED max is an exact string")
  assert(r.min == "-9223372036854775808")
  assert(r.p53 == 9007199254740992, "2^53 is still a number")
  assert(r.p53p1 == "9007199254740993", "2^53+1 is a string")
  assert(r.nul == rec.null and r.nul ~= nil)
  assert(r.gone == nil, "a missing column is absent")
  local seen = {}
  for k in pairs(r) do seen[#seen + 1] = k end
  assert(#seen == 10, tostring(#seen))
  assert(#r.bin == 4 and r.bin:byte(1) == 0 and r.bin:byte(2) == 255 and r.bin:byte(3) == 128)
  assert(r.f == 1.1)
  assert(r.doc == '{"a":1}' and r.at == "2024-02-29 23:59:59.000001")
  assert(events[1].version == "9223372036854775807")
  rec.write(r.bin, r.i63, r.nul, r.p53)
end }`)
	if err := l.Handle(context.Background(), 0, []*event.Event{ev}); err != nil {
		t.Fatal(err)
	}
}

func TestToGoKeepsValuesExact(t *testing.T) {
	s := &sink{}
	l := loadOne(t, s, `local rec = require("rec")
return { name = "v", subscribe = {"a.b"}, handle = function(events)
  rec.write(9007199254740993, 2^62, -0.5, 1e300, "\0\255", true, rec.null, {}, {1, 2}, {a = {b = rec.null}})
end }`)
	if err := l.Handle(context.Background(), 0, []*event.Event{itemEvent(event.Insert, 1)}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	args := s.flushed[0].Args
	s.mu.Unlock()
	want := []any{
		int64(9007199254740992), // the Lua literal is already a double: 2^53+1 rounds in the parser
		int64(1 << 62), -0.5, 1e300, "\x00\xff", true, Null{},
		map[string]any{}, []any{int64(1), int64(2)}, map[string]any{"a": map[string]any{"b": Null{}}},
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args %#v\nwant %#v", args, want)
	}
}

func TestToGoGivesTheBinaryColumnsOfRowsAsBytes(t *testing.T) {
	s := &sink{}
	l := loadOne(t, s, `local rec = require("rec")
return { name = "v", subscribe = {"a.b"}, handle = function(events)
  local copy = {}
  for k, v in pairs(events[1].after) do copy[k] = v end
  rec.write(events[1].after, copy)
end }`)
	tbl := event.NewTable("shop", "files", []event.Column{{Name: "id", Type: "int"}, {Name: "data", Type: "blob"}, {Name: "name", Type: "varchar(10)"}}, []int{0})
	ev := &event.Event{ID: "1", Action: event.Insert, Table: tbl, After: []event.Value{event.IntValue(1), event.BytesValue([]byte("\x00\xff")), event.StringValue("a")}}
	if err := l.Handle(context.Background(), 0, []*event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	args := s.flushed[0].Args
	s.mu.Unlock()
	want := []any{
		map[string]any{"id": int64(1), "data": []byte("\x00\xff"), "name": "a"},
		map[string]any{"id": int64(1), "data": "\x00\xff", "name": "a"}, // the script's own table
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args %#v\nwant %#v", args, want)
	}
}

func TestGoLuaGoRoundTripPerKind(t *testing.T) {
	tests := []struct {
		v    event.Value
		want any
	}{
		{event.IntValue(-42), int64(-42)},
		{event.IntValue(math.MaxInt64), "9223372036854775807"},
		{event.IntValue(math.MinInt64), "-9223372036854775808"},
		{event.UintValue(1 << 53), int64(1 << 53)},
		{event.UintValue(math.MaxUint64), "18446744073709551615"},
		{event.FloatValue(-2.5e-300), -2.5e-300},
		{event.FloatValue(3), int64(3)},
		{event.Float32Value(1.1), 1.1},
		{event.DecimalValue("-12345678901234567890.000000001"), "-12345678901234567890.000000001"},
		{event.StringValue("héllo\n"), "héllo\n"},
		{event.BytesValue([]byte{0, 1, 0xfe, 0xff}), "\x00\x01\xfe\xff"},
		{event.TimeValue("0000-00-00 00:00:00"), "0000-00-00 00:00:00"},
		{event.JSONValue(`[1,"a"]`), `[1,"a"]`},
		{event.NullValue(), Null{}},
	}
	o := &Options{}
	L := newState(o.shared(""), &Env{logger: testOptions(nil).Logger, sinks: noSinks{}}).L
	defer L.Close()
	for _, tt := range tests {
		t.Run(tt.v.Kind().String()+" "+tt.v.String(), func(t *testing.T) {
			got, err := ToGo(L, Value(tt.v))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ToGo(Value(%v)) = %#v, want %#v", tt.v, got, tt.want)
			}
			back, err := FromGo(L, got)
			if err != nil {
				t.Fatal(err)
			}
			if back != Value(tt.v) && !(IsNull(back) && tt.v.IsNull()) {
				t.Errorf("FromGo(ToGo(x)) = %v, want %v", back, Value(tt.v))
			}
		})
	}
	if Value(event.Value{}) != nil {
		t.Error("Missing has a Lua form")
	}
}

// TestWorkersRunInParallel runs every worker of a listener on its own
// goroutine, as the runner does; with -race it checks that states share
// nothing mutable (json.null, compiled code, boxed names, clients).
func TestWorkersRunInParallel(t *testing.T) {
	s := &sink{}
	l := loadOne(t, s, `local rec = require("rec")
local keys = {}
return { name = "par", subscribe = {"a.b"}, workers = 4, handle = function(events)
  for _, ev in ipairs(events) do
    assert(ev.after.note == rec.null)
    keys[#keys + 1] = ev.key
    rec.write(ev.key, tostring(rec.null), ev.after)
  end
end }`)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := l.Handle(context.Background(), w, []*event.Event{itemEvent(event.Insert, uint64(w*100+i)), itemEvent(event.Snapshot, 1)}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(s.ops()); n != 4*20*2 {
		t.Errorf("flushed %d writes, want %d", n, 4*20*2)
	}
}

func TestCloseWaitsForTheCallInFlight(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.lua"), []byte(`
return {
  name = "slow", subscribe = { "s.t" },
  handle = function(events)
    print("started")
    local t = os.clock()
    while os.clock() - t < 0.3 do end
    print("finished")
  end,
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := make(lineWriter, 2)
	gen, err := Load(dir, Options{Print: lines})
	if err != nil {
		t.Fatal(err)
	}
	l := gen.Listener("slow")
	tbl := event.NewTable("s", "t", []event.Column{{Name: "id", Type: "int"}}, []int{0})
	batch := []*event.Event{{ID: "a", Action: event.Insert, Table: tbl, Key: "1", After: []event.Value{event.IntValue(1)}}}
	result := make(chan error, 1)
	go func() { result <- l.Handle(context.Background(), 0, batch) }()
	<-lines // "started": the call is inside handle
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lines: // "finished" was printed before Close returned
	default:
		t.Fatal("Close returned before the call in flight finished")
	}
	if err := <-result; err != nil {
		t.Fatalf("the call in flight failed: %v", err)
	}
	if err := l.Handle(context.Background(), 0, batch); !errors.Is(err, ErrClosed) {
		t.Fatalf("a call after Close: %v, want ErrClosed", err)
	}
}

// lineWriter passes each print call on as a channel send.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}
