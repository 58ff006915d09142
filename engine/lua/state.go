package lua

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// shared is what every state of a generation (or of one ad-hoc run) shares:
// compiled library modules and the options. It is read-only after Load, so
// states on different goroutines read it without locks. FunctionProtos are
// immutable byte code; each state makes its own closures from them.
type shared struct {
	dir      string
	libs     map[string]*glua.FunctionProto
	libFiles map[string]string
	modules  map[string]Module // Options.Modules, consulted before the registry
	opts     *Options
}

func (sh *shared) module(name string) Module {
	if m, ok := sh.modules[name]; ok {
		return m
	}
	return registered(name)
}

func (sh *shared) moduleNames() []string {
	names := Registered()
	for n := range sh.modules {
		if registered(n) == nil {
			names = append(names, n)
		}
	}
	return names
}

// state is one sandboxed Lua state and what belongs to it. It is used by one
// goroutine only.
type state struct {
	L       *glua.LState
	env     *Env
	sh      *shared
	conv    converter
	loaded  map[string]glua.LValue
	loading map[string]bool
	// broken is set when the state must not be used again: after a timeout,
	// a cancelled call or a Go panic inside a call.
	broken bool

	// Handlers of a listener state; nil in ad-hoc states.
	handle     *glua.LFunction
	on         [6]*glua.LFunction // by event.Action
	trampoline *glua.LFunction
}

// Names that scripts cannot use, and why, so that touching one fails with a
// message instead of "attempt to index a nil value".
var (
	removedGlobals = map[string]string{
		"io":         "io is not available in moontide scripts: they run sandboxed, without file access",
		"debug":      "debug is not available in moontide scripts",
		"dofile":     "dofile is not available in moontide scripts: use require for modules in scripts/lib/",
		"loadfile":   "loadfile is not available in moontide scripts: use require for modules in scripts/lib/",
		"load":       "load is not available in moontide scripts: code is loaded only from scripts/",
		"loadstring": "loadstring is not available in moontide scripts: code is loaded only from scripts/",
		"module":     "module is not available in moontide scripts: return a table from a scripts/lib/ file instead",
		"package":    "package is not available in moontide scripts: require finds builtins and scripts/lib/ by itself",
		"coroutine":  "coroutine is not available in moontide scripts",
		"channel":    "channel is not available in moontide scripts",
	}
	removedOS = []string{"execute", "exit", "getenv", "remove", "rename", "setenv", "setlocale", "tmpname"}
)

// newState builds a sandboxed state: base (without dofile, loadfile, load,
// loadstring, module and the debugging helpers), table, string, math, and
// an os table with only time, clock, date and difftime. require and print
// are moontide's own: require finds builtins and scripts/lib/ modules
// compiled at load (the package library is not opened because its loaders
// search the file system), and print logs.
func newState(sh *shared, env *Env) *state {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:    true,
		RegistryMaxSize: 256 * 1024, // let big batches and deep code grow the value stack, bounded
	})
	s := &state{L: L, env: env, sh: sh, loaded: make(map[string]glua.LValue), loading: make(map[string]bool)}
	env.conv = &s.conv
	for _, lib := range []struct {
		name string
		fn   glua.LGFunction
	}{
		{glua.BaseLibName, glua.OpenBase},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
		{glua.OsLibName, glua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "module", "_printregs", "_GOPHER_LUA_VERSION"} {
		g.RawSetString(name, glua.LNil)
	}
	g.RawSetString("require", L.NewFunction(s.require))
	g.RawSetString("print", L.NewFunction(s.print))
	g.RawSetString("tostring", L.NewFunction(toString))

	gmt := L.CreateTable(0, 1)
	gmt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		if k, ok := L.Get(2).(glua.LString); ok {
			if msg, ok := removedGlobals[string(k)]; ok {
				L.RaiseError("%s", msg)
			}
		}
		L.Push(glua.LNil)
		return 1
	}))
	L.SetMetatable(g, gmt)

	if os, ok := g.RawGetString("os").(*glua.LTable); ok {
		for _, name := range removedOS {
			os.RawSetString(name, glua.LNil)
		}
		omt := L.CreateTable(0, 1)
		omt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
			if k, ok := L.Get(2).(glua.LString); ok {
				for _, name := range removedOS {
					if string(k) == name {
						L.RaiseError("os.%s is not available in moontide scripts: only os.time, os.clock, os.date and os.difftime are", name)
					}
				}
			}
			L.Push(glua.LNil)
			return 1
		}))
		L.SetMetatable(os, omt)
	}
	L.G.Registry.RawSetString(envKey, &glua.LUserData{Value: env})
	return s
}

const envKey = "moontide.env"

// toString is Lua's tostring with integral numbers written by strconv:
// gopher-lua's goes through fmt.Sprint, and tostring(row.id) for a cache
// key was 7% of the demo listener's Lua time. The text is gopher-lua's:
// the same test (isInteger) picks the same int64 digits, and every other
// value still goes through ToStringMeta. Scripts cannot give numbers a
// metatable (there is no debug library), so no __tostring is skipped.
func toString(L *glua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(glua.LNumber); ok && float64(n) == float64(int64(n)) {
		L.Push(glua.LString(strconv.FormatInt(int64(n), 10)))
		return 1
	}
	L.Push(L.ToStringMeta(v))
	return 1
}

// EnvOf returns the Env of a state built by this package, or nil. Modules
// get their Env in Open; EnvOf serves functions that are shared between
// states and so cannot capture it.
func EnvOf(L *glua.LState) *Env {
	if ud, ok := L.G.Registry.RawGetString(envKey).(*glua.LUserData); ok {
		e, _ := ud.Value.(*Env)
		return e
	}
	return nil
}

func (s *state) close() {
	s.L.Close()
}

// require returns a builtin module (opened once per state) or a module
// compiled from scripts/lib/ (run once per state), caching either.
func (s *state) require(L *glua.LState) int {
	name := L.CheckString(1)
	if v, ok := s.loaded[name]; ok {
		L.Push(v)
		return 1
	}
	if s.loading[name] {
		L.RaiseError("require loop: module %q is required again while it loads", name)
	}
	var v glua.LValue
	if m := s.sh.module(name); m != nil {
		var err error
		v, err = m.Open(L, s.env)
		if err != nil {
			L.RaiseError("opening module %q: %v", name, err)
		}
	} else if p := s.sh.libs[name]; p != nil {
		s.loading[name] = true
		defer delete(s.loading, name)
		L.Push(L.NewFunctionFromProto(p))
		L.Push(glua.LString(name))
		L.Call(1, 1)
		v = L.Get(-1)
		L.Pop(1)
	} else {
		file := filepath.Join(s.sh.dir, "lib", filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))+".lua")
		if s.sh.dir == "" {
			L.RaiseError("module %q not found: it is not a builtin (builtins: %s)", name, strings.Join(s.sh.moduleNames(), ", "))
		}
		L.RaiseError("module %q not found: it is not a builtin (builtins: %s) and there is no %s", name, strings.Join(s.sh.moduleNames(), ", "), file)
	}
	if v == nil || v == glua.LNil {
		v = glua.LTrue
	}
	s.loaded[name] = v
	L.Push(v)
	return 1
}

// print writes its arguments, tab-separated, to Options.Print when set (the
// test and exec commands) or to the log at info level with the listener's
// name; a script's stdout is not a place anyone reads in a daemon.
func (s *state) print(L *glua.LState) int {
	n := L.GetTop()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	if w := s.sh.opts.Print; w != nil {
		fmt.Fprintln(w, b.String())
		return 0
	}
	first, last := s.env.Batch()
	if first != "" {
		s.env.logger.Info(b.String(), "source", "print", "first", first, "last", last)
	} else {
		s.env.logger.Info(b.String(), "source", "print")
	}
	return 0
}

// runChunk runs a compiled script or module in s under ctx and returns what
// it returned.
func (s *state) runChunk(ctx context.Context, p *glua.FunctionProto) (ret glua.LValue, err error) {
	L := s.L
	defer func() {
		if r := recover(); r != nil {
			s.broken = true
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(p))
	err = L.PCall(0, 1, nil)
	L.RemoveContext()
	if err != nil {
		s.broken = true
		return nil, err
	}
	ret = L.Get(-1)
	L.Pop(1)
	return ret, nil
}
