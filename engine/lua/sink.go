package lua

import (
	"fmt"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// SinkConfig is one named sink connection as builtins see it. cmd/moontide
// builds it from the sinks section of conf.d, so builtins never depend on the
// configuration format.
type SinkConfig struct {
	// Name is the connection's name in conf.d.
	Name string
	// Type is the module kind: "redis", "es", "mysql" or "http".
	Type string
	// Endpoints are the Redis addresses, Elasticsearch URLs or HTTP base
	// URLs.
	Endpoints []string
	// Mode is the Redis topology: standalone, sentinel or cluster.
	Mode string
	// MasterName is the Redis sentinel master.
	MasterName string
	// DB is the Redis database number.
	DB int
	// DSN is the mysql:// URL of a MySQL sink.
	DSN string
	// Username and Password authenticate; they never appear in logs.
	Username string
	Password string
	// Headers are sent with every HTTP request of the sink.
	Headers map[string]string
	// Timeout bounds one request to the sink.
	Timeout time.Duration
}

// SinkFor returns the connection a module of the given kind should use:
// the named one, or the default connection of that kind when name is empty.
// The error names the kind and the sink, for a Lua error.
func SinkFor(env *Env, kind, name string) (SinkConfig, error) {
	if name == "" {
		def, ok := env.Sinks().Default(kind)
		if !ok {
			return SinkConfig{}, fmt.Errorf("no default %s sink: name one, or mark one `default: true` in conf.d sinks", kind)
		}
		name = def
	}
	cfg, ok := env.Sinks().Sink(name)
	if !ok {
		return SinkConfig{}, fmt.Errorf("no sink named %q in conf.d sinks", name)
	}
	sc, ok := cfg.(SinkConfig)
	if !ok {
		return SinkConfig{}, fmt.Errorf("sink %q: configuration of type %T, want lua.SinkConfig", name, cfg)
	}
	if sc.Type != kind {
		return SinkConfig{}, fmt.Errorf("sink %q has type %s, not %s", name, sc.Type, kind)
	}
	sc.Name = name
	return sc, nil
}

// Conn is one sink connection as a module's functions see it in one state:
// the sink's name as the script gave it (empty for the default connection
// of the kind) and, once resolved, its configuration. Like the state, it
// belongs to one goroutine.
type Conn struct {
	Env *Env
	// Kind is the module's sink type: "redis", "es", ...
	Kind string
	// Name is the sink the script named; empty for the default.
	Name string
	// Config is nil until Sink resolved the connection, then its
	// configuration (with Name filled in) for the life of the state.
	Config *SinkConfig
}

// Sink returns the connection's configuration, resolving it through
// SinkFor on first use. A failure is not cached: a script that misses a
// default sink gets the same error on every call.
func (c *Conn) Sink() (*SinkConfig, error) {
	if c.Config != nil {
		return c.Config, nil
	}
	sc, err := SinkFor(c.Env, c.Kind, c.Name)
	if err != nil {
		return nil, err
	}
	c.Config = &sc
	return c.Config, nil
}

// ConnFunc returns the Lua function behind a sink module's conn(name): it
// returns the table that build makes for the named connection of kind,
// with the Conn already resolved. Tables are built once per name and kept
// for the life of the state, so conn("x") inside handle costs a map
// lookup; env is the state's, so each state gets its own cache.
//
// An empty name, or a sink that is missing or of another kind, raises an
// ArgError on argument 1 at once, so that a typo fails `moontide validate`
// when the script calls conn at its top level. The module's own functions
// are the default connection (a Conn with an empty Name, resolved on first
// use). build may raise errors of its own on argument 1 as well.
func ConnFunc(env *Env, kind string, build func(L *glua.LState, c *Conn) *glua.LTable) glua.LGFunction {
	tables := map[string]*glua.LTable{}
	return func(L *glua.LState) int {
		name := L.CheckString(1)
		if name == "" {
			L.ArgError(1, "sink name must not be empty; the "+kind+" table itself is the default "+kind+" sink")
		}
		if t, ok := tables[name]; ok {
			L.Push(t)
			return 1
		}
		c := &Conn{Env: env, Kind: kind, Name: name}
		if _, err := c.Sink(); err != nil {
			L.ArgError(1, err.Error())
		}
		t := build(L, c)
		tables[name] = t
		L.Push(t)
		return 1
	}
}
