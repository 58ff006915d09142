package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

func newTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test SCRIPT.lua --events FILE.jsonl",
		Short: "Run a listener offline against recorded events",
		Long: `Test runs one listener script against recorded events — the JSON lines that
'moontide tail' prints — with recording builtins, and prints the writes it
would perform, batch by batch, in the order they would be sent. No database,
Kafka or sink is contacted: reads (redis.get, mysql.query, ...) fail with a
clear error in this mode.

Events the listener does not subscribe to are skipped; the rest are cut into
batches of the script's batch size, as the runner would, and handled by one
worker. The exit status is 1 when the script fails to load, an event line is
not a valid event, or a handle call fails.`,
		Example: `  moontide tail 'shop.orders' --limit 100 > orders.jsonl
  moontide test scripts/orders_cache.lua --events orders.jsonl
  moontide test scripts/orders_cache.lua --events orders.jsonl --json | jq .`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			events, _ := cmd.Flags().GetString("events")
			asJSON, _ := cmd.Flags().GetBool("json")
			return testScript(cmd, args[0], events, asJSON)
		},
	}
	cmd.Flags().String("events", "", "JSON lines of events, as 'moontide tail' prints them (- for stdin)")
	cmd.Flags().Bool("json", false, "print each write as a JSON object")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// testScript loads the script's directory in recording mode, feeds it the
// recorded events and prints the writes.
func testScript(cmd *cobra.Command, script, eventsFile string, asJSON bool) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	opts := scriptOptions(cfg, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
	opts.Record = true
	opts.Print = cmd.ErrOrStderr()
	gen, err := lua.Load(filepath.Dir(script), opts)
	if err != nil {
		return err
	}
	defer gen.Close()
	var l *lua.Listener
	for _, c := range gen.Listeners() {
		if same, _ := sameFile(c.File(), script); same {
			l = c
		}
	}
	if l == nil {
		return fmt.Errorf("%s is not a listener script (it must return a listener table)", script)
	}
	spec := l.Spec()
	match, err := dispatch.NewMatcher(spec.Subscribe)
	if err != nil {
		return err
	}

	in := cmd.InOrStdin()
	if eventsFile != "-" {
		f, err := os.Open(eventsFile)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	out := cmd.OutOrStdout()
	var (
		dec     event.Decoder
		batch   []*event.Event
		batchNo int
		ops     int
	)
	run := func() error {
		if len(batch) == 0 {
			return nil
		}
		batchNo++
		if err := l.Handle(context.Background(), 0, batch); err != nil {
			return err
		}
		for _, op := range l.Recorded() {
			ops++
			if asJSON {
				line, err := json.Marshal(struct {
					Batch int `json:"batch"`
					lua.Op
				}{batchNo, op})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", line)
			} else {
				fmt.Fprintf(out, "batch %d: %s\n", batchNo, op)
			}
		}
		batch = batch[:0]
		return nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	total := 0
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		e, err := dec.Decode(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", eventsFile, line, err)
		}
		if !match.MatchEvent(e) {
			continue
		}
		total++
		if batch = append(batch, e); len(batch) == spec.Batch {
			if err := run(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", eventsFile, err)
	}
	if err := run(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d events in %d batches, %d writes\n", spec.Name, total, batchNo, ops)
	return nil
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
