package lua

import (
	"fmt"
	"time"
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
		return SinkConfig{}, fmt.Errorf("sink %q is a %s sink, not %s", name, sc.Type, kind)
	}
	sc.Name = name
	return sc, nil
}
