// Command capture measures moontide's binlog capture against the bare
// library it is built on, in one run on one server:
//
//   - raw: go-mysql's BinlogSyncer decoding the rows of a backlog into its
//     own []any rows (the ceiling: what the library does alone);
//   - moontide: capture.Run decoding the same backlog into Events and
//     encoding each to its JSON form (the Kafka message).
//
// It writes a backlog of -rows rows into a fresh database (dropped at the
// end), reads it -runs times each way, alternating, and prints the best
// rate of each and their ratio.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/capture -rows 1000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/moontide/moontide/bench/internal/backlog"
	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run parses the flags, writes the backlog and reads it each way; the
// database is dropped however it ends.
func run() error {
	var src backlog.Flags
	src.Register(flag.CommandLine)
	runs := flag.Int("runs", 3, "reads of the backlog each way; the best counts")
	flag.Parse()
	if src.DSN == "" {
		return errors.New("no source: pass -dsn or eval \"$(dev/services.sh env)\"")
	}
	ctx := context.Background()
	bl, err := src.Write(ctx)
	if err != nil {
		return err
	}
	defer bl.Drop(ctx)
	fmt.Printf("backlog: %d rows in %d-row transactions written in %s (%s .. %s)\n",
		bl.Rows, bl.Chunk, bl.Took.Round(time.Millisecond), bl.Start, bl.End)

	var bestRaw, bestCap float64
	for i := 0; i < *runs; i++ {
		raw, err := bl.RawDecode(ctx)
		if err != nil {
			return err
		}
		cpt, err := captureRate(ctx, bl)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: raw go-mysql %.0f rows/s, moontide capture+JSON %.0f rows/s\n", i+1, raw.Rate(), cpt)
		bestRaw, bestCap = max(bestRaw, raw.Rate()), max(bestCap, cpt)
	}
	fmt.Printf("best: raw %.0f rows/s, moontide %.0f rows/s, ratio %.2f\n", bestRaw, bestCap, bestCap/bestRaw)
	return nil
}

// captureRate reads the backlog with moontide's capture and encodes every
// event to JSON.
func captureRate(ctx context.Context, bl backlog.Backlog) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &jsonOutput{bl: bl, done: cancel}
	sw := backlog.Start()
	if err := capture.Run(ctx, bl.CaptureOptions(), out); err != nil {
		return 0, err
	}
	if !out.finished {
		return 0, errors.New("capture stopped before the end of the backlog")
	}
	if out.n != bl.Rows {
		return 0, fmt.Errorf("capture read %d rows, want %d", out.n, bl.Rows)
	}
	return sw.Measure(out.n, out.end).Rate(), nil
}

// jsonOutput is a capture.Output that encodes every event to its JSON
// form and stops the capture at the backlog's end.
type jsonOutput struct {
	bl       backlog.Backlog
	buf      []byte
	n        int
	bytes    int
	done     func()
	finished bool
	end      time.Time
}

// Event encodes e and counts it if it is a row event.
func (o *jsonOutput) Event(ctx context.Context, e *event.Event) error {
	var err error
	o.buf, err = event.AppendJSON(o.buf[:0], e)
	o.bytes += len(o.buf)
	if e.Action != event.DDL {
		o.n++
	}
	return err
}

// Commit notes when p reaches the backlog's end, and stops the capture.
func (o *jsonOutput) Commit(ctx context.Context, p checkpoint.Position) error {
	if !o.finished && o.bl.Reached(p) {
		o.finished, o.end = true, time.Now()
		o.done()
	}
	return nil
}

// Heartbeat does nothing.
func (o *jsonOutput) Heartbeat(ctx context.Context, ts int64) error { return nil }
