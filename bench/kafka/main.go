// Command kafka measures moontide's Kafka mode stage by stage against the
// bare binlog library, in one run, on the real MariaDB and Kafka of
// dev/services.sh:
//
//   - raw: go-mysql's BinlogSyncer decoding the rows of a backlog into its
//     own []any rows (the ceiling, as in bench/capture);
//   - capture→Kafka: capture.Run into a kafka.Producer (acks=all, the
//     options cmd/moontide uses by default), timed from the start of capture
//     until the Producer's acknowledged position reaches the backlog's end;
//   - Kafka→dispatch: a kafka.Dispatcher running one listener whose
//     dispatch.Handler only counts, reading the topic written by the step
//     before from the earliest offset, timed from Run until every row was
//     handled (group join included; the rate after the first event is
//     printed too).
//
// The backlog is -rows rows written as -chunk-row INSERT transactions into
// a fresh database (dropped at the end). Each run uses a fresh topic prefix
// and consumer group, deleted at the end of the run; the topic is created
// before the capture is timed. Rates are rows per second of wall time; the
// CPU seconds the bench process used in each stage are printed beside them
// (the broker and the database run outside it). The load average is
// printed with every run, since the machine may be shared.
//
//	eval "$(dev/services.sh env)"
//	go run ./bench/kafka -rows 1000000 -runs 2 -cpuprofile /tmp/kafka.prof
//	go tool pprof -top -nodecount 15 /tmp/kafka.prof
//
// -cpuprofile profiles the first run's -profile-stage (dispatch or
// produce).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/bench/internal/backlog"
	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/transport/kafka"
	"github.com/moontide/moontide/internal/gctune"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run parses the flags, writes the backlog and runs the stages; the
// database is dropped however it ends.
func run() error {
	gctune.Apply() // as the moontide binary runs
	var src backlog.Flags
	src.Register(flag.CommandLine)
	brokersFlag := flag.String("brokers", os.Getenv("MOONTIDE_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $MOONTIDE_KAFKA_BROKERS)")
	runs := flag.Int("runs", 1, "runs of the three stages; each run uses fresh topics")
	partitions := flag.Int("partitions", 6, "partitions of the bench topic (conf.d default 6)")
	batchSize := flag.Int("producer-batch", 1000, "producer ChunkSize (conf.d kafka.batch_size, default 1000)")
	linger := flag.Duration("linger", 10*time.Millisecond, "producer Linger (conf.d kafka.batch_timeout, default 10ms)")
	batch := flag.Int("batch", 500, "listener batch size (the demo listener's 500)")
	workers := flag.Int("workers", 2, "workers of the dispatch pass's listener")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the first run's -profile-stage to this file")
	profileStage := flag.String("profile-stage", "dispatch", "the stage -cpuprofile profiles: produce or dispatch")
	flag.Parse()
	if *profileStage != "produce" && *profileStage != "dispatch" {
		return fmt.Errorf("-profile-stage is produce or dispatch, not %q", *profileStage)
	}
	if src.DSN == "" || *brokersFlag == "" {
		return errors.New("no source or brokers: pass -dsn and -brokers or eval \"$(dev/services.sh env)\"")
	}
	ctx := context.Background()
	bl, err := src.Write(ctx)
	if err != nil {
		return err
	}
	defer bl.Drop(ctx)
	fmt.Printf("backlog: %s\n", bl)

	b := bench{brokers: strings.Split(*brokersFlag, ","), bl: bl, partitions: *partitions,
		producerBatch: *batchSize, linger: *linger, batch: *batch, workers: *workers,
		profile: *cpuprofile, profileStage: *profileStage}
	for i := 1; i <= *runs; i++ {
		fmt.Printf("run %d: load average %s\n", i, backlog.LoadAvg())
		raw, err := bl.RawDecode(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: raw go-mysql decode        %9.0f rows/s  (%s)\n", i, raw.Rate(), raw)
		prod, cons, err := b.run(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: capture→Kafka (acked)      %9.0f rows/s  (%s)  ratio to raw %.2f\n", i, prod.Rate(), prod, prod.Rate()/raw.Rate())
		fmt.Printf("run %d: Kafka→dispatch (no-op)     %9.0f rows/s  (%s)  ratio to raw %.2f; %.0f rows/s after the first event (%s before it)\n",
			i, cons.Rate(), cons, cons.Rate()/raw.Rate(), float64(cons.Rows)/(cons.Wall-cons.Startup).Seconds(), cons.Startup.Round(time.Millisecond))
		fmt.Printf("run %d: load average %s\n", i, backlog.LoadAvg())
	}
	return nil
}

// bench holds what the Kafka stages share.
type bench struct {
	brokers       []string
	bl            backlog.Backlog
	partitions    int
	producerBatch int
	linger        time.Duration
	batch         int
	workers       int
	// profile, when set, is the file of a CPU profile of the stage named
	// profileStage in the next run; run clears it.
	profile      string
	profileStage string
}

// run publishes the backlog to fresh topics, consumes it back, and deletes
// the topics and the consumer group.
func (b *bench) run(ctx context.Context) (prod, cons backlog.Measure, err error) {
	prefix := fmt.Sprintf("moontide-bench-%08x", rand.Uint32())
	topics := kafka.NewTopics(b.brokers, prefix, "", b.partitions, 1)
	topic := topics.Name(b.bl.Schema, b.bl.Table)
	group := prefix + "-g"
	client := &kafkago.Client{Addr: kafkago.TCP(b.brokers...), Timeout: 30 * time.Second}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := client.DeleteGroups(dctx, &kafkago.DeleteGroupsRequest{GroupIDs: []string{group + ".count"}}); derr != nil {
			log.Printf("deleting consumer group: %v", derr)
		}
		if _, derr := client.DeleteTopics(dctx, &kafkago.DeleteTopicsRequest{Topics: []string{topic}}); derr != nil {
			log.Printf("deleting topic %s: %v", topic, derr)
		}
	}()
	if err := topics.Ensure(ctx, topic); err != nil {
		return prod, cons, err
	}
	stop, err := b.startProfile("produce")
	if err != nil {
		return prod, cons, err
	}
	prod, err = b.produce(ctx, topics)
	if err = errors.Join(err, stop()); err != nil {
		return prod, cons, err
	}
	if stop, err = b.startProfile("dispatch"); err != nil {
		return prod, cons, err
	}
	cons, err = b.consume(ctx, topics, group)
	return prod, cons, errors.Join(err, stop())
}

// startProfile starts the CPU profile if stage is the one to profile and
// it was not taken yet; the returned function stops it.
func (b *bench) startProfile(stage string) (func() error, error) {
	if b.profile == "" || stage != b.profileStage {
		return func() error { return nil }, nil
	}
	path := b.profile
	b.profile = ""
	return backlog.StartCPUProfile(path)
}

// produce runs capture into a Producer until Kafka acknowledged the
// backlog's end position.
func (b bench) produce(ctx context.Context, topics *kafka.Topics) (backlog.Measure, error) {
	p, err := kafka.NewProducer(kafka.ProducerOptions{
		Brokers: b.brokers, Topics: topics, Store: &checkpoint.Memory{},
		ChunkSize: b.producerBatch, Linger: b.linger, Logger: backlog.Discard,
	})
	if err != nil {
		return backlog.Measure{}, err
	}
	out := &countingOutput{Output: p}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw := backlog.Start()
	errc := make(chan error, 1)
	go func() { errc <- capture.Run(ctx, b.bl.CaptureOptions(), out) }()
	end, err := backlog.WaitFor(errc, time.Millisecond, func() bool { return b.bl.Reached(p.Position()) })
	m := sw.Measure(int(out.rows.Load()), end)
	cancel()
	if err == nil {
		err = <-errc
	}
	closeCtx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer ccancel()
	err = errors.Join(err, p.Close(closeCtx))
	if err == nil && m.Rows != b.bl.Rows {
		err = fmt.Errorf("capture produced %d rows, want %d", m.Rows, b.bl.Rows)
	}
	return m, err
}

// countingOutput counts the row events passing to the Producer, so the
// bench knows capture delivered every row.
type countingOutput struct {
	capture.Output
	rows atomic.Int64
}

// Event counts a row event and passes it on.
func (o *countingOutput) Event(ctx context.Context, e *event.Event) error {
	if e.Action != event.DDL {
		o.rows.Add(1)
	}
	return o.Output.Event(ctx, e)
}

// consume runs a Dispatcher with one counting listener from the earliest
// offset until every row of the backlog was handled once.
func (b bench) consume(ctx context.Context, topics *kafka.Topics, group string) (backlog.Measure, error) {
	h := backlog.NewCounter(b.bl.Rows)
	d := kafka.NewDispatcher(kafka.DispatcherOptions{
		Brokers: b.brokers, Topics: topics, GroupPrefix: group,
		Runner: dispatch.RunnerOptions{Logger: backlog.Discard}, Logger: backlog.Discard,
	})
	spec := dispatch.Spec{Name: "count", Subscribe: []string{b.bl.Schema + "." + b.bl.Table},
		Batch: b.batch, Workers: b.workers, Start: "earliest"}
	if err := d.Apply(ctx, []dispatch.Listener{{Spec: spec, Handler: h}}); err != nil {
		return backlog.Measure{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw := backlog.Start()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	end, err := backlog.WaitFor(errc, time.Millisecond, func() bool { return h.Distinct() >= int64(b.bl.Rows) })
	m := sw.Measure(int(h.Distinct()), end)
	m.Startup = h.FirstAt().Sub(sw.Began)
	cancel()
	if err == nil {
		err = <-errc
	}
	if dup := h.Handled() - h.Distinct(); err == nil && dup > 0 {
		fmt.Printf("note: %d rows handled twice (redelivered)\n", dup)
	}
	return m, err
}
