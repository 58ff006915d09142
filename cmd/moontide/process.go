package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/moontide/moontide/engine/capture"
	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/transport/embedded"
	"github.com/moontide/moontide/engine/transport/kafka"
)

// role says which halves of the pipeline a process runs.
type role struct{ capture, dispatch bool }

// runProcess is the body of run, capture and dispatch: it loads the
// configuration, wires capture and dispatch for the configured transport,
// serves the admin endpoints, and runs until SIGTERM or SIGINT.
func runProcess(cmd *cobra.Command, r role, only []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	d, err := newDaemon(cmd, cfg)
	if err != nil {
		return err
	}
	d.only = only
	ctx, cancel := d.signalContext(cmd.Context())
	defer cancel()
	d.cancel = cancel
	if cfg.Kafka.Embedded() {
		if r != (role{true, true}) {
			return fmt.Errorf("%s needs kafka.brokers; without brokers use 'moontide run'", cmd.CommandPath())
		}
		return d.runEmbedded(ctx)
	}
	return d.runKafka(ctx, r)
}

// runEmbedded joins capture and dispatch through the in-memory transport.
func (d *daemon) runEmbedded(ctx context.Context) error {
	store, err := d.openStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	saved, err := store.Load(ctx)
	if err != nil && !errors.Is(err, checkpoint.ErrNotFound) {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	tr := embedded.New(store, embedded.Options{
		Runner: dispatch.RunnerOptions{DeadLetter: &dispatch.FileDeadLetters{Dir: d.deadLetterDir()}},
		Logger: d.log,
		Resume: saved,
	})
	// The transport outlives the signal: after capture stopped it finishes
	// in-flight batches and saves the final checkpoint.
	trCtx, trCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer trCancel()
	trDone := make(chan error, 1)
	go func() { trDone <- tr.Run(trCtx) }()

	if err := d.start(ctx, tr, func() any { return tr.Status() }); err != nil {
		trCancel()
		return errors.Join(err, <-trDone)
	}
	defer d.stop()
	stopAdmin, err := d.serveAdmin()
	if err != nil {
		trCancel()
		return errors.Join(err, <-trDone)
	}
	defer stopAdmin()

	opts, err := d.captureOptions(ctx, store)
	if err != nil {
		trCancel()
		return errors.Join(err, <-trDone)
	}
	capErr := capture.Run(ctx, opts, tr)
	trCancel()
	return errorsJoinNonNil(capErr, <-trDone)
}

// runKafka runs capture into Kafka, dispatch from Kafka, or both.
func (d *daemon) runKafka(ctx context.Context, r role) error {
	k := d.cfg.Kafka
	topics := kafka.NewTopics(k.Brokers, k.TopicPrefix, k.SingleTopic, k.Partitions, k.ReplicationFactor)
	var stopAdmin func()
	errc := make(chan error, 2)
	parts := 0
	if r.dispatch {
		dl := kafka.NewDeadLetters(k.Brokers, k.DeadLetterPrefix, topics)
		defer dl.Close()
		disp := kafka.NewDispatcher(kafka.DispatcherOptions{
			Brokers: k.Brokers, Topics: topics, GroupPrefix: k.GroupPrefix, DeadLetters: dl, Logger: d.log,
		})
		if err := d.start(ctx, disp, func() any { return disp.Status() }); err != nil {
			return err
		}
		defer d.stop()
		parts++
		go func() { errc <- disp.Run(ctx) }()
	}
	var err error
	if stopAdmin, err = d.serveAdmin(); err != nil {
		return err
	}
	defer stopAdmin()
	if r.capture {
		parts++
		go func() { errc <- d.captureToKafka(ctx, topics) }()
	}
	var errs []error
	for ; parts > 0; parts-- {
		err := <-errc
		errs = append(errs, err)
		if err != nil && ctx.Err() == nil {
			d.log.Error("stopping", "err", err)
			// One half failed for good: stop the other so the process
			// exits and its supervisor can restart it.
			d.cancelOthers()
		}
	}
	return errorsJoinNonNil(errs...)
}

// cancelOthers ends the process as a SIGTERM would.
func (d *daemon) cancelOthers() {
	if d.cancel != nil {
		d.cancel()
	}
}

// captureToKafka publishes the binlog to Kafka until ctx is done. When Kafka
// fails to acknowledge, the producer is rebuilt and capture resumes from
// the last acknowledged checkpoint after a backoff; other errors end it.
func (d *daemon) captureToKafka(ctx context.Context, topics *kafka.Topics) error {
	store, err := d.openStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	opts, err := d.captureOptions(ctx, store)
	if err != nil {
		return err
	}
	k := d.cfg.Kafka
	backoff := time.Second
	for {
		p, err := kafka.NewProducer(kafka.ProducerOptions{
			Brokers: k.Brokers, Topics: topics, Store: store,
			ChunkSize: k.BatchSize, Linger: k.BatchTimeout, Logger: d.log,
		})
		if err != nil {
			return err
		}
		capErr := capture.Run(ctx, opts, p)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		closeErr := p.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return errorsJoinNonNil(closeErr)
		}
		if !errors.Is(capErr, kafka.ErrKafka) {
			return errors.Join(capErr, closeErr)
		}
		d.log.Warn("kafka failed; resuming capture from the last acknowledged checkpoint", "err", capErr, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
		if opts, err = d.captureOptions(ctx, store); err != nil {
			return err
		}
	}
}
