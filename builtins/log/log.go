// Package log is the log builtin: log.debug, log.info, log.warn and
// log.error write structured records to the process's log/slog logger,
// tagged with the listener and, inside a call, the ids of the batch's first
// and last events.
//
//	log.info("skipping order", {id = ev.after.id, reason = "test account"})
//
// Fields are converted like any module argument (lua.ToGo) and written in
// key order. Logging is synchronous and costs a record per call: log
// decisions and failures, not every event.
package log

import (
	"context"
	"log/slog"
	"sort"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/lua"
)

func init() { lua.Register(module{}) }

type module struct{}

// Name is "log".
func (module) Name() string { return "log" }

// Open builds the log table for one state.
func (module) Open(L *glua.LState, env *lua.Env) (glua.LValue, error) {
	t := L.CreateTable(0, 4)
	for name, level := range map[string]slog.Level{
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	} {
		t.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			logAt(L, env, level)
			return 0
		}))
	}
	return t, nil
}

func logAt(L *glua.LState, env *lua.Env, level slog.Level) {
	logger := env.Logger()
	ctx := env.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	msg := L.ToStringMeta(L.CheckAny(1)).String()
	var attrs []slog.Attr
	if first, last := env.Batch(); first != "" {
		attrs = append(attrs, slog.String("first", first), slog.String("last", last))
	}
	switch f := L.Get(2).(type) {
	case *glua.LNilType:
	case *glua.LTable:
		v, err := lua.ToGo(L, f)
		if err != nil {
			L.ArgError(2, "fields: "+err.Error())
		}
		m, ok := v.(map[string]any)
		if !ok {
			L.ArgError(2, "fields must be a table of name = value")
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k, m[k]))
		}
	default:
		L.ArgError(2, "fields must be a table, not "+f.Type().String())
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
}
