package lua

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Module is a builtin Lua module such as redis, es or json. A builtin
// package registers one in its init function:
//
//	func init() { lua.Register(module{}) }
//
// and reaches the engine only through this interface and Env. Builtins never
// import each other; cmd/moontide links them in with a blank import of
// builtins/all.
type Module interface {
	// Name is what scripts pass to require. It must be unique among the
	// registered modules and must not contain a dot, which is how require
	// names files under scripts/lib/.
	Name() string
	// Open builds the module's value (usually a table of functions) for one
	// Lua state; require returns it and caches it in that state. It is
	// called on the state's goroutine, at most once per state, the first
	// time the state's script requires the module — while the script's
	// chunk runs at load or worker start-up, or later inside a call.
	//
	// Open must not do I/O: scripts are validated by running them, also by
	// `moontide validate` and in recording mode, where no sink may be
	// reached. Connect lazily, through Env.Client, on the first read or
	// flush. An error fails the require with a Lua error naming the module.
	Open(L *glua.LState, env *Env) (glua.LValue, error)
}

// Writer holds the writes one module recorded for one sink during one call
// (one batch). A builtin gets it from Env.Writer when a sink function such
// as redis.set is called, appends a typed operation, and returns to Lua
// without doing I/O.
//
// After the script returned successfully, the engine calls Flush on every
// Writer the call touched, one after another in the order they were first
// touched, on the worker goroutine. When the script fails, times out or a
// flush fails, the remaining Writers are dropped without a call: a retry
// starts from an empty call, so the writes of a failed attempt are never
// sent twice by moontide (a partial flush may have reached its sink; sinks
// are written idempotently for that reason).
type Writer interface {
	// Flush sends the recorded writes in the order they were recorded and
	// returns when every one was acknowledged or one failed. It runs under
	// ctx, which carries a deadline of the listener's timeout and is
	// cancelled on shutdown; Flush must return when ctx is done. A nil
	// error means every write is durable in the sink. An error fails the
	// whole batch, which is then retried; it should name the failed item
	// (key, document id, statement).
	Flush(ctx context.Context) error
	// Ops lists the recorded writes in call order. In recording mode the
	// engine collects them instead of calling Flush; they also serve logs
	// and tests.
	Ops() []Op
}

// Op is one recorded write, in a form that prints and marshals to JSON for
// `moontide test` and for logs.
type Op struct {
	// Listener is filled by the engine when it records the op.
	Listener string `json:"listener,omitempty"`
	// Module is the builtin that recorded it: "redis", "es", ...
	Module string `json:"module"`
	// Sink names the connection, when the module has named connections.
	Sink string `json:"sink,omitempty"`
	// Name is the operation: "set", "del", "index", "upsert", ...
	Name string `json:"op"`
	// Args are the operation's arguments as plain Go values (the kinds
	// ToGo returns); they must marshal to JSON.
	Args []any `json:"args,omitempty"`
}

// String renders the op for humans: redis[cache].set("k", "v", 3600).
func (o Op) String() string {
	var b strings.Builder
	b.WriteString(o.Module)
	if o.Sink != "" {
		b.WriteByte('[')
		b.WriteString(o.Sink)
		b.WriteByte(']')
	}
	b.WriteByte('.')
	b.WriteString(o.Name)
	b.WriteByte('(')
	for i, a := range o.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		j, err := json.Marshal(a)
		if err != nil {
			fmt.Fprintf(&b, "%v", a)
		} else {
			b.Write(j)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// Sinks gives builtins the named sink connections of the configuration.
// engine/config implements it; engine/lua only passes it through, so that
// the Lua runtime does not depend on the configuration format.
type Sinks interface {
	// Sink returns the configuration of the named connection (for
	// engine/config a config.Sink), or false when there is none.
	Sink(name string) (cfg any, ok bool)
	// Default returns the name of the connection a script gets for a
	// module kind ("redis", "es", ...) when it names none.
	Default(kind string) (name string, ok bool)
}

type noSinks struct{}

func (noSinks) Sink(string) (any, bool)       { return nil, false }
func (noSinks) Default(string) (string, bool) { return "", false }

var registry struct {
	sync.RWMutex
	m map[string]Module
}

// Register makes a module available to every script through require. It is
// meant for init functions and panics on an empty, dotted or duplicate
// name, which are programming errors.
func Register(m Module) {
	name := m.Name()
	if name == "" || strings.ContainsAny(name, "./\\") {
		panic(fmt.Sprintf("lua.Register: invalid module name %q", name))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.m == nil {
		registry.m = make(map[string]Module)
	}
	if _, dup := registry.m[name]; dup {
		panic(fmt.Sprintf("lua.Register: module %q registered twice", name))
	}
	registry.m[name] = m
}

// Registered lists the names of the registered modules, sorted.
func Registered() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func registered(name string) Module {
	registry.RLock()
	defer registry.RUnlock()
	return registry.m[name]
}

// Env is what a module sees of the engine from one Lua state: the listener
// it serves, its logger, the sink configuration, shared clients and the
// call in progress. One Env belongs to one state and, like the state, to
// one goroutine; its methods must be called from that goroutine (a module's
// Lua functions always are).
type Env struct {
	listener string
	file     string
	logger   *slog.Logger
	sinks    Sinks
	record   bool
	clients  *clientSet
	baseCtx  context.Context
	call     *call
	conv     *converter // of the state, for JSONEncoder
}

// call is the state of one call into a script: its context, the batch it
// handles and the writers it touched.
type call struct {
	ctx         context.Context
	first, last string
	keys        []string
	writers     []Writer
}

// Listener is the name of the listener (for ad-hoc scripts, the file name).
func (e *Env) Listener() string { return e.listener }

// File is the script's file as given to Load or Exec.
func (e *Env) File() string { return e.file }

// Logger logs with the listener's name attached. Modules add their own
// attributes; they never log secrets or whole rows per event.
func (e *Env) Logger() *slog.Logger { return e.logger }

// Sinks is the sink configuration; never nil.
func (e *Env) Sinks() Sinks { return e.sinks }

// Recording reports recording mode (`moontide test`): writes are collected
// from Writer.Ops instead of flushed, and modules must not reach any sink,
// so reads should fail with a clear error or return canned values.
func (e *Env) Recording() bool { return e.record }

// Context is the context of the call in progress: reads done at once (a
// redis.get, an es.search) must run under it so that they stop at the
// call's deadline. Outside a call it is the context the state was built
// under.
func (e *Env) Context() context.Context {
	if e.call != nil {
		return e.call.ctx
	}
	return e.baseCtx
}

// Batch returns the ids of the first and last event of the call in
// progress, for log context; both are empty outside a call or for ad-hoc
// scripts.
func (e *Env) Batch() (first, last string) {
	if e.call == nil {
		return "", ""
	}
	return e.call.first, e.call.last
}

// ErrNoCall is returned by Env.Writer when a write is attempted while no
// call is in progress, e.g. from the top level of a listener script, which
// runs at load time for validation.
var ErrNoCall = errors.New("writes are only possible inside handle (or on_insert/on_update/on_delete/on_snapshot)")

// Writer returns the Writer for key in the call in progress, creating it
// with open on the first use. Keys are chosen by the module; one Writer per
// module and sink connection ("redis:cache") gives one pipeline, bulk
// request or transaction per connection and batch. Writers are flushed in
// the order their keys were first used.
func (e *Env) Writer(key string, open func() Writer) (Writer, error) {
	c := e.call
	if c == nil {
		return nil, ErrNoCall
	}
	for i, k := range c.keys {
		if k == key {
			return c.writers[i], nil
		}
	}
	w := open()
	c.keys = append(c.keys, key)
	c.writers = append(c.writers, w)
	return w, nil
}

// Client returns a client shared by every state and generation that asks
// for the same key, opening it with open the first time. The listener holds
// one reference until it is closed; the client is closed when the last
// listener using it is, so a reload that keeps a sink keeps its
// connections. The key should name the module, the sink and a fingerprint
// of its settings ("redis:cache:<hash>"), so that a reload with changed
// settings gets a new client. open may block (dial); it runs once per key
// while other callers of the same key wait.
func (e *Env) Client(key string, open func() (io.Closer, error)) (io.Closer, error) {
	return e.clients.get(key, open)
}

// clientSet is the set of pool references one listener (or one ad-hoc run)
// holds. Its states run on several worker goroutines, hence the lock.
type clientSet struct {
	pool *Pool
	mu   sync.Mutex
	held map[string]io.Closer
}

func (s *clientSet) get(key string, open func() (io.Closer, error)) (io.Closer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.held[key]; ok {
		return c, nil
	}
	c, err := s.pool.Acquire(key, open)
	if err != nil {
		return nil, err
	}
	if s.held == nil {
		s.held = make(map[string]io.Closer)
	}
	s.held[key] = c
	return c, nil
}

func (s *clientSet) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for key := range s.held {
		if err := s.pool.Release(key); err != nil {
			errs = append(errs, err)
		}
	}
	s.held = nil
	return errors.Join(errs...)
}
