package redis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// The json builtin, so that scripts under test can use json.null and
	// json.encode as real ones do.
	_ "github.com/moontide/moontide/builtins/json"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// sinks is a fake sink configuration: the connections by name, and the
// default one per kind.
type sinks struct {
	m    map[string]lua.SinkConfig
	defs map[string]string
}

func (s sinks) Sink(name string) (any, bool) {
	c, ok := s.m[name]
	return c, ok
}

func (s sinks) Default(kind string) (string, bool) {
	n, ok := s.defs[kind]
	return n, ok
}

// testSinks has a default redis sink "cache" and a second one "store",
// both at addr, and an es sink "search" to misuse.
func testSinks(addr string) sinks {
	return sinks{
		m: map[string]lua.SinkConfig{
			"cache":  {Type: "redis", Endpoints: []string{addr}, Timeout: 2 * time.Second},
			"store":  {Type: "redis", Endpoints: []string{addr}, DB: 1, Timeout: 2 * time.Second},
			"search": {Type: "es", Endpoints: []string{"http://127.0.0.1:1"}},
		},
		defs: map[string]string{"redis": "cache"},
	}
}

// options returns options with the given sinks, a quiet logger and a
// private client pool (so tests do not share clients with each other).
func options(s lua.Sinks, record bool) lua.Options {
	return lua.Options{
		Sinks:   s,
		Record:  record,
		Logger:  slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		Clients: lua.NewPool(),
		Timeout: 5 * time.Second,
	}
}

// exec runs an ad-hoc script and returns the ops it recorded (recording
// mode) or the error.
func exec(t testing.TB, src string, opts lua.Options) ([]string, error) {
	t.Helper()
	ops, err := lua.Exec(context.Background(), lua.Script{File: "t.lua", Source: []byte(src)}, opts)
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.String()
	}
	return out, err
}

// loadListener writes a listener script into a fresh scripts directory,
// loads it and returns the listener, closed when the test ends.
func loadListener(t testing.TB, src string, opts lua.Options) *lua.Listener {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := lua.Load(dir, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g.Listeners()[0]
}

// ordersTable is a table with the kinds of values that must reach Redis
// exactly: a BIGINT beyond 2^53, binary bytes, text.
var ordersTable = event.NewTable("shop", "orders", []event.Column{
	{Name: "id", Type: "bigint unsigned"},
	{Name: "big", Type: "bigint"},
	{Name: "blob", Type: "varbinary(16)"},
	{Name: "status", Type: "varchar(16)"},
}, []int{0})

// orderEvent builds an insert of shop.orders.
func orderEvent(id uint64, big int64, blob []byte, status string) *event.Event {
	ev := &event.Event{
		ID:     fmt.Sprintf("mysql-bin.000001:%d:0", 1000+id),
		Action: event.Insert,
		Table:  ordersTable,
		Pos:    event.Position{File: "mysql-bin.000001", Pos: uint32(1000 + id)},
		After: []event.Value{
			event.UintValue(id), event.IntValue(big), event.BytesValue(blob), event.StringValue(status),
		},
	}
	ev.Key = event.MakeKey(ordersTable, ev.After)
	return ev
}

// wantErr fails unless err is non-nil and contains every part.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func writeFile(dir, name, text string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
}
