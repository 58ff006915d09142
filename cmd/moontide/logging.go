package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/moontide/moontide/engine/config"
)

// newLogger builds the process logger from the log section: text for a
// terminal, JSON for a collector. Config validation has checked level and
// format already; the errors here guard callers that build a config.Log
// by hand.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("setting up logging: level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("setting up logging: format %q is neither text nor json", c.Format)
	}
}

// setupLogging installs the logger as slog's default, so packages that log
// through slog.Default follow the configuration too.
func setupLogging(c config.Log, w io.Writer) (*slog.Logger, error) {
	l, err := newLogger(c, w)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(l)
	return l, nil
}
