package lua

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Options configure Load and Exec. The zero value is usable.
type Options struct {
	// Timeout is the deadline of one call when a script sets none
	// (scripts.timeout in conf.d). The default is 5s.
	Timeout time.Duration
	// Batch is the batch size when a script sets none. The default is 256.
	Batch int
	// Workers is the worker count when a script sets none. The default
	// is 1.
	Workers int
	// Logger receives print output, builtin logs and load problems. The
	// default is slog.Default().
	Logger *slog.Logger
	// Sinks gives builtins the named sink connections. The default has
	// none.
	Sinks Sinks
	// Clients shares connections across listeners and generations. The
	// default is the process-wide Clients.
	Clients *Pool
	// Record turns on recording mode (`moontide test`): writes are not
	// flushed but collected, see Listener.Recorded.
	Record bool
	// Print, when set, receives print output, one line per call, instead
	// of the log.
	Print io.Writer
	// Modules are consulted by require before the registered modules: for
	// tests, and for modules that exist only in one command.
	Modules []Module
	// ConfigHash is folded into every listener's Hash, so that a reload
	// after a change of configuration the scripts depend on (sinks,
	// defaults) restarts them. cmd/moontide passes a hash of the relevant
	// configuration.
	ConfigHash string
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 5 * time.Second
}

func (o *Options) batch() int {
	if o.Batch > 0 {
		return o.Batch
	}
	return 256
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return 1
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func (o *Options) sinks() Sinks {
	if o.Sinks != nil {
		return o.Sinks
	}
	return noSinks{}
}

func (o *Options) pool() *Pool {
	if o.Clients != nil {
		return o.Clients
	}
	return Clients
}

func (o *Options) shared(dir string) *shared {
	sh := &shared{dir: dir, libs: map[string]*glua.FunctionProto{}, libFiles: map[string]string{}, opts: o}
	if len(o.Modules) > 0 {
		sh.modules = make(map[string]Module, len(o.Modules))
		for _, m := range o.Modules {
			sh.modules[m.Name()] = m
		}
	}
	return sh
}

// LibDir is the directory, inside the scripts directory, that holds modules
// for require rather than listeners.
const LibDir = "lib"

// Generation is one load of the scripts directory: every listener compiled
// and validated together. A reload builds a new Generation and, only when it
// loaded without error, swaps it in (see Adopt).
type Generation struct {
	dir       string
	listeners []*Listener
	byName    map[string]*Listener
}

// Dir is the scripts directory the generation was loaded from.
func (g *Generation) Dir() string { return g.dir }

// Listeners returns the listeners, sorted by name.
func (g *Generation) Listeners() []*Listener { return append([]*Listener(nil), g.listeners...) }

// Listener returns the named listener, or nil.
func (g *Generation) Listener(name string) *Listener { return g.byName[name] }

// Close closes the listeners the generation owns (not those another
// generation adopted). The runner must have stopped calling them.
func (g *Generation) Close() error {
	var errs []error
	for _, l := range g.listeners {
		if l.owner == g {
			errs = append(errs, l.Close())
		}
	}
	return errors.Join(errs...)
}

// Diff says how a generation differs from the one before it, by listener
// name; Unchanged listeners have the same Hash.
type Diff struct {
	Added, Changed, Removed, Unchanged []string
}

// Running returns the listeners that run once g adopts old: old's own copy
// of each listener that did not change, g's of the others, sorted by name.
// A transport is given these before Adopt, so that when it refuses them, g
// can be closed and old runs on untouched.
func (g *Generation) Running(old *Generation) []*Listener {
	out := g.Listeners()
	for i, l := range out {
		if o := unchanged(old, l); o != nil {
			out[i] = o
		}
	}
	return out
}

// unchanged returns old's listener of l's name when it has l's hash (the
// same code and settings), nil when there is none or it changed.
func unchanged(old *Generation, l *Listener) *Listener {
	if old == nil {
		return nil
	}
	if o := old.byName[l.Name()]; o != nil && o.hash == l.hash && o.owner == old {
		return o
	}
	return nil
}

// Adopt takes over from old the listeners that did not change, so that they
// keep their Lua states and clients and the runner need not touch them, and
// returns the difference. After Adopt, old.Close closes only the listeners
// that changed or were removed; g's own copies of unchanged listeners are
// closed here (they never ran: the transport runs old's, see Running).
func (g *Generation) Adopt(old *Generation) Diff {
	var d Diff
	for i, l := range g.listeners {
		o := unchanged(old, l)
		switch {
		case o != nil:
			d.Unchanged = append(d.Unchanged, l.Name())
			_ = l.Close()
			o.owner = g
			g.listeners[i] = o
			g.byName[o.Name()] = o
		case old == nil || old.byName[l.Name()] == nil:
			d.Added = append(d.Added, l.Name())
		default:
			d.Changed = append(d.Changed, l.Name())
		}
	}
	if old == nil {
		return d
	}
	for _, o := range old.listeners {
		if g.byName[o.Name()] == nil {
			d.Removed = append(d.Removed, o.Name())
		}
	}
	return d
}

type sourceFile struct {
	path string
	src  []byte
}

// Load compiles and validates every listener script in dir (its top-level
// *.lua files) and the modules under dir/lib/, and returns them as a
// Generation. Each script is run once in a sandboxed probe state to read
// the table it returns; the probe never handles events and its writes fail.
//
// All problems are returned together (errors.Join), each naming its file:
// syntax errors with file:line:column, errors raised while the script ran,
// a returned table with unknown or invalid fields, a missing handler, a
// name used by two files. Nothing of a failed load is kept running.
func Load(dir string, opts Options) (*Generation, error) {
	o := opts
	sh := o.shared(dir)
	var errs []error

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading scripts directory: %w", err)
	}
	var scripts []sourceFile
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".lua") || strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", p, err))
			continue
		}
		scripts = append(scripts, sourceFile{p, src})
	}

	libs, err := readLibs(dir)
	if err != nil {
		errs = append(errs, err)
	}
	libHash := sha256.New()
	for _, lf := range libs {
		name := libName(dir, lf.path)
		libHash.Write([]byte(lf.path + "\x00" + strconv.Itoa(len(lf.src)) + "\x00"))
		libHash.Write(lf.src)
		if sh.module(name) != nil {
			errs = append(errs, fmt.Errorf("%s: module name %q is taken by a builtin module; rename the file", lf.path, name))
			continue
		}
		if prev, dup := sh.libFiles[name]; dup {
			errs = append(errs, fmt.Errorf("%s: module name %q is also %s", lf.path, name, prev))
			continue
		}
		p, err := compile(lf.path, lf.src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sh.libs[name] = p
		sh.libFiles[name] = lf.path
	}
	libSum := libHash.Sum(nil)

	g := &Generation{dir: dir, byName: map[string]*Listener{}}
	files := map[string]string{}
	for _, sf := range scripts {
		l, err := loadListener(sh, sf, libSum)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := files[l.Name()]; dup {
			errs = append(errs, fmt.Errorf("%s: listener name %q is already used by %s", sf.path, l.Name(), prev))
			continue
		}
		files[l.Name()] = sf.path
		l.owner = g
		g.listeners = append(g.listeners, l)
		g.byName[l.Name()] = l
	}
	if len(errs) > 0 {
		_ = g.Close()
		return nil, errors.Join(errs...)
	}
	sort.Slice(g.listeners, func(i, j int) bool { return g.listeners[i].Name() < g.listeners[j].Name() })
	return g, nil
}

// readLibs returns the .lua files under dir/lib, sorted by path.
func readLibs(dir string) ([]sourceFile, error) {
	root := filepath.Join(dir, LibDir)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []sourceFile
	var errs []error
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", p, err))
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(p, ".lua") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", p, err))
			return nil
		}
		out = append(out, sourceFile{p, src})
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// libName maps dir/lib/a/b.lua to the module name "a.b".
func libName(dir, p string) string {
	rel, _ := filepath.Rel(filepath.Join(dir, LibDir), p)
	rel = strings.TrimSuffix(filepath.ToSlash(rel), ".lua")
	return strings.ReplaceAll(rel, "/", ".")
}

// compile parses and compiles a chunk once; the proto is shared by every
// state that runs it. Syntax errors come back as file:line:column.
func compile(name string, src []byte) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.Token != "" {
				msg += " near '" + pe.Token + "'"
			}
			return nil, fmt.Errorf("%s:%d:%d: syntax error: %s", name, pe.Pos.Line, pe.Pos.Column, msg)
		}
		return nil, fmt.Errorf("%s: syntax error: %w", name, err)
	}
	p, err := glua.Compile(chunk, name)
	if err != nil {
		return nil, fmt.Errorf("%s: compiling: %w", name, err)
	}
	return p, nil
}

// loadListener compiles a listener script and validates it in a probe state.
func loadListener(sh *shared, sf sourceFile, libSum []byte) (*Listener, error) {
	p, err := compile(sf.path, sf.src)
	if err != nil {
		return nil, err
	}
	logger := sh.opts.logger().With("file", sf.path)
	env := &Env{
		listener: strings.TrimSuffix(filepath.Base(sf.path), ".lua"),
		file:     sf.path,
		logger:   logger,
		sinks:    sh.opts.sinks(),
		record:   sh.opts.Record,
		clients:  &clientSet{pool: sh.opts.pool()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), sh.opts.timeout())
	defer cancel()
	env.baseCtx = ctx
	probe := newState(sh, env)
	defer probe.close()
	defer func() { _ = env.clients.release() }()
	ret, err := probe.runChunk(ctx, p)
	if err != nil {
		ce := &CallError{Listener: env.listener}
		fromLuaError(ce, err)
		if ce.File == "" {
			ce.File = sf.path
		}
		loc := ce.File
		if ce.Line > 0 {
			loc += ":" + strconv.Itoa(ce.Line)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: running the script took longer than %s", loc, sh.opts.timeout())
		}
		return nil, fmt.Errorf("%s: %s", loc, ce.Msg)
	}
	ss, err := parseSpec(ret, sf.path, sh.opts)
	if err != nil {
		return nil, err
	}

	h := sha256.New()
	fmt.Fprintf(h, "moontide-listener-v1\x00%s\x00%d\x00%d\x00%s\x00%s\x00%t\x00", sf.path, sh.opts.batch(), sh.opts.workers(), sh.opts.timeout(), sh.opts.ConfigHash, sh.opts.Record)
	h.Write(sf.src)
	h.Write([]byte{0})
	h.Write(libSum)

	l := &Listener{
		spec:    ss.spec,
		timeout: ss.timeout,
		omit:    ss.omit,
		file:    sf.path,
		hash:    hex.EncodeToString(h.Sum(nil)),
		proto:   p,
		sh:      sh,
		states:  make([]*state, ss.spec.Workers),
		clients: &clientSet{pool: sh.opts.pool()},
		logger:  sh.opts.logger().With("listener", ss.spec.Name),
	}
	return l, nil
}
