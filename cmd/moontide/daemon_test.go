package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
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
