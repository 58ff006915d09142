// Package luabench measures the Lua side of dispatch: converting a batch of
// events to Lua and calling a listener's handle, through the same
// engine/lua code path the runner uses (Listener.Handle), with writes
// recorded but not sent.
//
//	GOMAXPROCS=1 go test -run '^$' -bench . -benchmem ./bench/lua/
//
// Each benchmark reports events/s for one core. BenchmarkBareGopherLua is
// the reference: the same batch built with plain gopher-lua calls
// (L.NewTable, L.SetField) and a no-op handle, as a user of the library
// would write it; the ratio to it is our overhead or gain.
package luabench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	_ "github.com/moontide/moontide/builtins/json"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

const batchSize = 500

var items = event.NewTable("shop", "items", []event.Column{
	{Name: "id", Type: "bigint unsigned"},
	{Name: "sku", Type: "varchar(32)"},
	{Name: "name", Type: "varchar(255)"},
	{Name: "price", Type: "decimal(10,2)"},
	{Name: "qty", Type: "int"},
	{Name: "weight", Type: "double"},
	{Name: "updated_at", Type: "datetime(6)"},
	{Name: "note", Type: "text"},
}, []int{0})

// batch returns 500 insert events of a realistic 8-column row, one
// transaction per 10 rows.
func batch() []*event.Event {
	evs := make([]*event.Event, batchSize)
	for i := range evs {
		id := uint64(100000 + i)
		row := []event.Value{
			event.UintValue(id),
			event.StringValue(fmt.Sprintf("SKU-%08d", id)),
			event.StringValue("Stainless steel water bottle, 750 ml"),
			event.DecimalValue("24.90"),
			event.IntValue(int64(i % 50)),
			event.FloatValue(0.35),
			event.TimeValue("2024-05-01 12:34:56.123456"),
			event.NullValue(),
		}
		pos := uint32(4 + 300*i)
		evs[i] = &event.Event{
			ID:      fmt.Sprintf("mysql-bin.000042:%d:0", pos),
			Action:  event.Insert,
			Table:   items,
			After:   row,
			Key:     event.MakeKey(items, row),
			TS:      1714566896000,
			Pos:     event.Position{File: "mysql-bin.000042", Pos: pos, GTID: fmt.Sprintf("0-1-%d", 1000+i/10)},
			Version: event.MakeVersion(42, pos, 0),
			Tx:      event.Tx{ID: fmt.Sprintf("0-1-%d", 1000+i/10), Seq: uint64(i % 10)},
		}
	}
	return evs
}

// listener loads a listener with the given handle; fields, when not
// empty, is its fields list.
func listener(b *testing.B, fields, handle string) *lua.Listener {
	b.Helper()
	dir := b.TempDir()
	if fields != "" {
		fields = "fields = " + fields + ", "
	}
	src := `local json = require("json")
return { name = "bench", subscribe = {"shop.items"}, batch = 500, ` + fields + `handle = ` + handle + ` }`
	if err := os.WriteFile(filepath.Join(dir, "bench.lua"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	g, err := lua.Load(dir, lua.Options{Clients: lua.NewPool()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g.Listener("bench")
}

func run(b *testing.B, l *lua.Listener) {
	evs := batch()
	ctx := context.Background()
	if err := l.Handle(ctx, 0, evs); err != nil { // build the state outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := l.Handle(ctx, 0, evs); err != nil {
			b.Fatal(err)
		}
	}
	report(b, cpu0)
}

// cpuTime is the CPU time the process used so far (user + system, GC
// workers included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report gives events per wall-clock second and per CPU second; the second
// stays meaningful on a busy machine, where wall time includes waiting for a
// core.
func report(b *testing.B, cpu0 time.Duration) {
	n := float64(b.N * batchSize)
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkNoop: conversion of the batch plus one call of an empty handle.
func BenchmarkNoop(b *testing.B) {
	run(b, listener(b, "", `function(events) end`))
}

// BenchmarkKeyAndJSON: a handler that touches every event, builds a cache
// key and a JSON document of the row, the work of a typical cache listener
// minus the sink.
func BenchmarkKeyAndJSON(b *testing.B) {
	run(b, listener(b, "", keyAndJSON))
}

// BenchmarkKeyAndJSONFields: the same handler in a listener that lists the
// two fields it reads, as the demo listener does.
func BenchmarkKeyAndJSONFields(b *testing.B) {
	run(b, listener(b, `{ "key", "after" }`, keyAndJSON))
}

const keyAndJSON = `function(events)
    local n = 0
    for i = 1, #events do
      local ev = events[i]
      local key = "item:" .. ev.key
      local doc = json.encode(ev.after)
      n = n + #key + #doc
    end
    return n > 0
  end`

// BenchmarkBareGopherLua is the reference: a plain gopher-lua build of the
// same batch (every event field, the row, pos and tx), no-op handle.
func BenchmarkBareGopherLua(b *testing.B) {
	evs := batch()
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString(`function handle(events) end`); err != nil {
		b.Fatal(err)
	}
	handle := L.GetGlobal("handle")
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		arr := L.NewTable()
		for _, ev := range evs {
			t := L.NewTable()
			L.SetField(t, "id", glua.LString(ev.ID))
			L.SetField(t, "schema", glua.LString(ev.Table.Schema))
			L.SetField(t, "table", glua.LString(ev.Table.Name))
			L.SetField(t, "action", glua.LString(ev.Action.String()))
			after := L.NewTable()
			for c, v := range ev.After {
				var lv glua.LValue
				switch v.Kind() {
				case event.Null:
					lv = glua.LString("NULL")
				case event.Int:
					lv = glua.LNumber(v.Int())
				case event.Uint:
					lv = glua.LNumber(v.Uint())
				case event.Float:
					lv = glua.LNumber(v.Float())
				default:
					lv = glua.LString(v.Str())
				}
				L.SetField(after, ev.Table.Columns[c].Name, lv)
			}
			L.SetField(t, "after", after)
			pk := L.NewTable()
			pk.Append(glua.LString("id"))
			L.SetField(t, "pk", pk)
			L.SetField(t, "key", glua.LString(ev.Key))
			L.SetField(t, "ts", glua.LNumber(ev.TS))
			pos := L.NewTable()
			L.SetField(pos, "file", glua.LString(ev.Pos.File))
			L.SetField(pos, "pos", glua.LNumber(ev.Pos.Pos))
			L.SetField(pos, "gtid", glua.LString(ev.Pos.GTID))
			L.SetField(t, "pos", pos)
			L.SetField(t, "version", glua.LNumber(ev.Version))
			tx := L.NewTable()
			L.SetField(tx, "id", glua.LString(ev.Tx.ID))
			L.SetField(tx, "seq", glua.LNumber(ev.Tx.Seq))
			L.SetField(t, "tx", tx)
			arr.Append(t)
		}
		L.Push(handle)
		L.Push(arr)
		if err := L.PCall(1, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	report(b, cpu0)
}
