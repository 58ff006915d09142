package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

func newTailCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail [schema.table ...]",
		Short: "Print change events as they happen",
		Long: `Tail prints change events as JSON lines on stdout, one per changed row, in the
form scripts receive them. It is for looking, not for building on: it never
saves a checkpoint and never commits Kafka offsets, so running it changes
nothing for capture or dispatch.

Arguments are schema.table patterns ('*' allowed in each part, a name with
a dot in backquotes: shop.` + "`order.items`" + `); without any, every table the
source section includes is shown. Events come straight from
the binlog under a replica id of its own, so tail does not disturb a running
capture, and they are exactly the JSON capture publishes to Kafka.

On a server without binlog_row_metadata=FULL, tail reads the table definitions
from information_schema when it starts and follows the DDL it reads from there;
with --from earliest or an older FILE:POS they are right only if no DDL ran
since that position (a difference tail can see is an error, never a guess).`,
		Example: `  moontide tail 'shop.*'
  moontide tail shop.orders --from earliest --limit 10`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			from, _ := cmd.Flags().GetString("from")
			limit, _ := cmd.Flags().GetInt("limit")
			tables, _ := cmd.Flags().GetStringSlice("tables")
			if limit < 0 {
				return &usageError{cmd: cmd, err: fmt.Errorf("--limit must not be negative, not %d", limit)}
			}
			if strings.EqualFold(strings.TrimSpace(from), "checkpoint") || strings.TrimSpace(from) == "" {
				return &usageError{cmd: cmd, err: errors.New("--from must be latest, earliest, FILE:POS or a GTID set: tail never reads or writes the checkpoint")}
			}
			include := append(append([]string(nil), args...), tables...)
			if len(include) == 0 {
				include = cfg.Source.Include
			}
			if _, err := capture.NewFilter(include, cfg.Source.Exclude); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			dsn, err := cfg.Source.MySQLDSN()
			if err != nil {
				return err
			}
			// This build reads the binlog directly even when kafka.brokers
			// is set: the events are the same bytes capture publishes.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			out := &tailOutput{w: bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10), limit: limit, done: cancel}
			err = capture.Run(ctx, capture.Options{
				DSN:       dsn,
				Flavor:    cfg.Source.Flavor,
				ServerID:  tailServerID(cfg.Source.ServerID),
				Start:     from,
				Include:   include,
				Exclude:   cfg.Source.Exclude,
				Heartbeat: cfg.Source.Heartbeat,
				Charset:   cfg.Source.Charset,
				Logger:    log,
				// No SchemaHistory: on a server without FULL metadata tail
				// follows the schema in memory from a snapshot at its start,
				// and never writes next to the daemon's checkpoint.
				SchemaHistory: nil,
			}, out)
			if ferr := out.w.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("writing events: %w", ferr)
			}
			if errors.Is(err, errLimitReached) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().String("from", "latest",
		"where to begin: latest, earliest, FILE:POS or a GTID set")
	cmd.Flags().Int("limit", 0, "stop after this many events; 0 means run until interrupted")
	cmd.Flags().StringSlice("tables", nil,
		"schema.table patterns to show, repeatable or comma-separated (added to the arguments)")
	return cmd
}

// tailServerID picks a replica id of tail's own, far from the configured
// one, so tail does not cut off a running capture (the server drops the
// older of two replicas with one id).
func tailServerID(configured uint32) uint32 {
	for {
		id := 0x40000000 + rand.Uint32N(0x3fffffff)
		if id != configured {
			return id
		}
	}
}

// errLimitReached ends capture once --limit events are printed.
var errLimitReached = errors.New("event limit reached")

// tailOutput prints each event as its JSON form, one per line: exactly
// the bytes capture would publish to Kafka.
type tailOutput struct {
	w     *bufio.Writer
	buf   []byte
	n     int
	limit int
	done  func()
}

func (o *tailOutput) Event(ctx context.Context, e *event.Event) error {
	var err error
	if o.buf, err = event.AppendJSON(o.buf[:0], e); err != nil {
		return err
	}
	o.buf = append(o.buf, '\n')
	if _, err := o.w.Write(o.buf); err != nil {
		return fmt.Errorf("writing events: %w", err)
	}
	o.n++
	if o.limit > 0 && o.n >= o.limit {
		if err := o.w.Flush(); err != nil {
			return fmt.Errorf("writing events: %w", err)
		}
		o.done()
		return errLimitReached
	}
	return nil
}

// Commit flushes at each transaction end, so a terminal sees whole
// transactions promptly without a write per event.
func (o *tailOutput) Commit(ctx context.Context, p checkpoint.Position) error {
	return o.w.Flush()
}

func (o *tailOutput) Heartbeat(ctx context.Context, ts int64) error { return o.w.Flush() }
