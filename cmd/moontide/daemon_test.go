package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

// The schema history capture keeps for a source without FULL row metadata
// must live in the checkpoint store, next to the position it belongs to.
func TestCaptureOptionsKeepTheSchemaHistoryInTheCheckpointStore(t *testing.T) {
	cfg := config.Default()
	cfg.Source.DSN = "mysql://u:p@127.0.0.1:3306/db"
	cfg.Source.ServerID = 7
	d := &daemon{cfg: &cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	store := checkpoint.NewFileStore(filepath.Join(t.TempDir(), "checkpoint.json"))
	opts, err := d.captureOptions(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if opts.SchemaHistory != store || opts.CheckpointStore != store {
		t.Errorf("SchemaHistory %v, CheckpointStore %v; want both the checkpoint store", opts.SchemaHistory, opts.CheckpointStore)
	}
}

// appliedSet is a listenerSet that keeps what it was given last, or
// refuses it when refuse is set.
type appliedSet struct {
	ls     []dispatch.Listener
	refuse bool
}

func (s *appliedSet) Apply(_ context.Context, ls []dispatch.Listener) error {
	if s.refuse {
		return errors.New("refused")
	}
	s.ls = ls
	return nil
}

// A reload that finds a script unchanged keeps its listener running: the
// transport must be handed the listener that stays, not the copy the new
// generation loaded and closed. A reload of unchanged scripts (a SIGHUP
// with nothing edited, or a second SIGHUP that reads what the first one
// did) once left the listener failing every batch with "listener closed";
// and a reload the transport refused closed the running listeners the new
// generation had adopted.
func TestAReloadOfUnchangedScriptsKeepsTheListenerWorking(t *testing.T) {
	dir := t.TempDir()
	scripts, conf := filepath.Join(dir, "scripts"), filepath.Join(dir, "conf.d")
	for _, d := range []string{scripts, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := `return { name = "l", subscribe = {"shop.items"}, handle = function(events) end }`
	if err := os.WriteFile(filepath.Join(scripts, "l.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "source:\n  dsn: mysql://u:p@127.0.0.1:1/db\n  server_id: 7\nscripts:\n  dir: " + scripts + "\n"
	if err := os.WriteFile(filepath.Join(conf, "10.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{confDir: conf, cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	set := &appliedSet{}
	ctx := context.Background()
	if err := d.start(ctx, set, nil); err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	ev := &event.Event{ID: "1", Action: event.Insert, Table: event.NewTable("shop", "items", []event.Column{{Name: "id", Type: "int"}}, []int{0}), After: []event.Value{event.IntValue(1)}}
	for i := range 2 {
		if err := d.Reload(ctx); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		if len(set.ls) != 1 {
			t.Fatalf("reload %d applied %d listeners", i+1, len(set.ls))
		}
		if err := set.ls[0].Handler.Handle(ctx, 0, []*event.Event{ev}); err != nil {
			t.Fatalf("after reload %d the applied listener fails: %v", i+1, err)
		}
	}
	// A reload the transport refuses leaves the running listener alone.
	set.refuse = true
	if err := d.Reload(ctx); err == nil {
		t.Fatal("a refused reload succeeded")
	}
	if err := set.ls[0].Handler.Handle(ctx, 0, []*event.Event{ev}); err != nil {
		t.Fatalf("after a refused reload the running listener fails: %v", err)
	}
}
