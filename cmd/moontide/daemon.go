package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/moontide/moontide/engine/admin"
	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/lua"
)

var (
	metricReloads = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Name: "script_reloads_total",
		Help: "Script reloads by result: ok, or failed (the running scripts stayed).",
	}, []string{"result"})
	metricGeneration = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Name: "script_generation",
		Help: "Number of the script generation in service; it grows with each successful reload.",
	})
)

// listenerSet is what a transport offers the daemon: the running listeners
// are replaced by a new set, unchanged ones untouched.
type listenerSet interface {
	Apply(ctx context.Context, ls []dispatch.Listener) error
}

// daemon is the long-running process behind run, capture and dispatch: its
// configuration, logger, scripts and their reload, signals and admin
// server.
type daemon struct {
	// confDir is the conf.d the process started from; a reload reads it
	// again.
	confDir string
	cfg     *config.Config
	log     *slog.Logger
	// only, when not empty, limits the listeners to these names.
	only []string
	// cancel ends the process as SIGTERM does.
	cancel context.CancelFunc

	// reloadMu serializes reloads; mu guards the fields below and is
	// never held across a reload's drain, so /status stays responsive.
	reloadMu   sync.Mutex
	mu         sync.Mutex
	gen        *lua.Generation
	generation int
	lastReload time.Time
	reloadErr  error
	listeners  listenerSet
	status     func() any
}

func newDaemon(cmd *cobra.Command, cfg *config.Config) (*daemon, error) {
	log, err := setupLogging(cfg.Log, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	return &daemon{confDir: configDir(cmd), cfg: cfg, log: log}, nil
}

// signalContext returns a context cancelled by SIGTERM or SIGINT, and runs
// reload on SIGHUP until then.
func (d *daemon) signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				d.log.Info("SIGHUP: reloading scripts")
				_ = d.Reload(ctx)
			}
		}
	}()
	return ctx, cancel
}

// openStore opens the configured checkpoint store.
func (d *daemon) openStore(ctx context.Context) (checkpoint.Store, error) {
	c := d.cfg.Checkpoint
	switch c.Store {
	case config.StoreFile:
		return checkpoint.NewFileStore(c.Path), nil
	case config.StoreRedis:
		s := d.cfg.Sinks[d.cfg.CheckpointSink()]
		return checkpoint.OpenRedisStore(redisOptions(s), c.Key), nil
	case config.StoreMySQL:
		s := d.cfg.Sinks[d.cfg.CheckpointSink()]
		dsn, err := config.ParseMySQLDSN(s.DSN)
		if err != nil {
			return nil, err
		}
		return checkpoint.OpenMySQLStore(ctx, dsn.DriverDSN(), c.Table, "capture")
	}
	return nil, fmt.Errorf("unknown checkpoint store %q", c.Store)
}

func redisOptions(s config.Sink) *redis.UniversalOptions {
	o := &redis.UniversalOptions{
		Addrs: s.Endpoints(), DB: s.DB, Username: s.Username, Password: s.Password,
		DialTimeout: s.Timeout, ReadTimeout: s.Timeout, WriteTimeout: s.Timeout,
	}
	if s.Mode == config.RedisSentinel {
		o.MasterName = s.MasterName
	}
	return o
}

// captureOptions maps the source section to capture's options. The
// configured start applies only while no checkpoint is stored: once one is,
// the process resumes from it, so a restart never rewinds or skips.
func (d *daemon) captureOptions(ctx context.Context, store checkpoint.Store) (capture.Options, error) {
	s := d.cfg.Source
	dsn, err := s.MySQLDSN()
	if err != nil {
		return capture.Options{}, err
	}
	start := s.Start
	switch _, err := store.Load(ctx); {
	case err == nil:
		start = "checkpoint"
	case !errors.Is(err, checkpoint.ErrNotFound):
		return capture.Options{}, fmt.Errorf("reading the checkpoint: %w", err)
	}
	history, _ := store.(capture.SchemaHistoryStore) // every checkpoint store is one
	return capture.Options{
		DSN: dsn, Flavor: s.Flavor, ServerID: s.ServerID, Start: start,
		Include: s.Include, Exclude: s.Exclude, Heartbeat: s.Heartbeat, Charset: s.Charset,
		Logger: d.log, CheckpointStore: store, SchemaHistory: history,
	}, nil
}

// scriptOptions are the Lua options a load of the scripts under cfg uses.
func scriptOptions(cfg *config.Config, log *slog.Logger) lua.Options {
	return lua.Options{
		Timeout: cfg.Scripts.Timeout, Batch: cfg.Scripts.Batch, Workers: cfg.Scripts.Workers,
		Logger: log, Sinks: sinks{cfg.Sinks}, ConfigHash: configHash(cfg),
	}
}

// configHash fingerprints the configuration scripts depend on, so that a
// reload after a change of sinks or script defaults restarts the listeners.
func configHash(cfg *config.Config) string {
	data, _ := yaml.Marshal(struct {
		Sinks   config.Sinks
		Scripts config.Scripts
	}{cfg.Sinks, cfg.Scripts})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// sinks adapts the sinks section to what builtins see.
type sinks struct{ s config.Sinks }

func (s sinks) Sink(name string) (any, bool) {
	c, ok := s.s[name]
	if !ok {
		return nil, false
	}
	return lua.SinkConfig{
		Name: name, Type: c.Type, Endpoints: c.Endpoints(), Mode: c.Mode, MasterName: c.MasterName,
		DB: c.DB, DSN: c.DSN, Username: c.Username, Password: c.Password, Headers: c.Headers, Timeout: c.Timeout,
	}, true
}

func (s sinks) Default(kind string) (string, bool) { return s.s.Default(kind) }

// loadScripts loads the scripts directory of cfg into a new generation,
// keeping only the listeners named by --listener when given.
func (d *daemon) loadScripts(cfg *config.Config) (*lua.Generation, error) {
	gen, err := lua.Load(cfg.Scripts.Dir, scriptOptions(cfg, d.log))
	if err != nil {
		return nil, err
	}
	for _, name := range d.only {
		if gen.Listener(name) == nil {
			gen.Close()
			return nil, fmt.Errorf("no listener named %q in %s", name, cfg.Scripts.Dir)
		}
	}
	return gen, nil
}

// running returns the listeners the transport is to run once gen replaces
// old (Generation.Running): an unchanged listener runs on as old's copy,
// which Adopt then hands to gen, closing gen's own.
func (d *daemon) running(gen, old *lua.Generation) []dispatch.Listener {
	var ls []dispatch.Listener
	for _, l := range gen.Running(old) {
		if len(d.only) > 0 && !slices.Contains(d.only, l.Name()) {
			continue
		}
		ls = append(ls, dispatch.Listener{Spec: l.Spec(), Handler: l})
	}
	return ls
}

// start loads the first generation into the transport.
func (d *daemon) start(ctx context.Context, set listenerSet, status func() any) error {
	gen, err := d.loadScripts(d.cfg)
	if err != nil {
		return fmt.Errorf("loading scripts: %w", err)
	}
	ls := d.running(gen, nil)
	if len(ls) == 0 {
		d.log.Warn("no listener scripts", "dir", d.cfg.Scripts.Dir)
	}
	gen.Adopt(nil)
	if err := set.Apply(ctx, ls); err != nil {
		gen.Close()
		return err
	}
	d.mu.Lock()
	d.gen, d.generation, d.listeners, d.status = gen, 1, set, status
	d.mu.Unlock()
	metricGeneration.Set(1)
	return nil
}

// Reload reads conf.d again and builds a new generation from the scripts
// directory, and swaps it in when the configuration changed only where it
// can apply live (sinks, scripts) and every script is valid; otherwise the
// running generation stays and the error is logged, counted and shown in
// /status.
func (d *daemon) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	old, set := d.gen, d.listeners
	d.mu.Unlock()
	if set == nil {
		return errors.New("reload: not started yet")
	}
	gen, err := d.reloadConfigAndScripts()
	if err == nil {
		// The transport gets the listeners first: if it refuses them, gen
		// is closed and old, whose listeners it has not adopted, runs on.
		if err = set.Apply(ctx, d.running(gen, old)); err == nil {
			diff := gen.Adopt(old)
			d.mu.Lock()
			d.gen = gen
			d.generation++
			d.lastReload, d.reloadErr = time.Now(), nil
			generation := d.generation
			d.mu.Unlock()
			metricReloads.WithLabelValues("ok").Inc()
			metricGeneration.Set(float64(generation))
			d.log.Info("scripts reloaded", "generation", generation,
				"added", diff.Added, "changed", diff.Changed, "removed", diff.Removed, "unchanged", len(diff.Unchanged))
			if err := old.Close(); err != nil {
				d.log.Warn("closing the previous script generation", "err", err)
			}
			return nil
		}
		gen.Close()
	}
	d.mu.Lock()
	d.lastReload, d.reloadErr = time.Now(), err
	d.mu.Unlock()
	metricReloads.WithLabelValues("failed").Inc()
	d.log.Error("reload refused; the running scripts stay", "err", err)
	return err
}

// reloadConfigAndScripts loads conf.d and, when it changed only where a
// reload can apply it, the scripts with its sinks and script defaults. d.cfg
// stays the configuration the process started with: the sections it is
// used for are the ones a reload refuses to change.
func (d *daemon) reloadConfigAndScripts() (*lua.Generation, error) {
	cfg, err := config.Load(d.confDir)
	if err != nil {
		return nil, err
	}
	frozen, err := frozenChanges(d.cfg, cfg)
	if err != nil {
		return nil, err
	}
	if len(frozen) > 0 {
		return nil, errFrozen(frozen)
	}
	return d.loadScripts(cfg)
}

// stop closes the scripts once the transport no longer calls them.
func (d *daemon) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != nil {
		if err := d.gen.Close(); err != nil {
			d.log.Warn("closing scripts", "err", err)
		}
		d.gen = nil
	}
}

// daemonStatus is the /status document.
type daemonStatus struct {
	Mode       string    `json:"mode"`
	Generation int       `json:"script_generation"`
	Listeners  []string  `json:"listeners"`
	LastReload time.Time `json:"last_reload,omitzero"`
	ReloadErr  string    `json:"last_reload_error,omitempty"`
	Transport  any       `json:"transport,omitempty"`
}

// Status implements admin.Controller.
func (d *daemon) Status() any {
	d.mu.Lock()
	st := daemonStatus{Generation: d.generation, LastReload: d.lastReload}
	if d.cfg.Kafka.Embedded() {
		st.Mode = "embedded"
	} else {
		st.Mode = "kafka"
	}
	if d.gen != nil {
		for _, l := range d.gen.Listeners() {
			st.Listeners = append(st.Listeners, l.Name())
		}
	}
	if d.reloadErr != nil {
		st.ReloadErr = d.reloadErr.Error()
	}
	status := d.status
	d.mu.Unlock()
	if status != nil {
		st.Transport = status()
	}
	return st
}

// serveAdmin starts the admin server; the returned function stops it.
func (d *daemon) serveAdmin() (func(), error) {
	s := &admin.Server{Listen: d.cfg.Admin.Listen, Token: d.cfg.Admin.Token, Controller: d, Logger: d.log}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}, nil
}

// deadLetterDir is where embedded mode keeps dead letters, beside the
// checkpoint file.
func (d *daemon) deadLetterDir() string {
	return filepath.Join(filepath.Dir(d.cfg.Checkpoint.Path), "deadletter")
}

// errorsJoinNonNil joins errors, ignoring context cancellation, which is
// how a graceful stop ends every part.
func errorsJoinNonNil(errs ...error) error {
	var keep []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			keep = append(keep, err)
		}
	}
	return errors.Join(keep...)
}
