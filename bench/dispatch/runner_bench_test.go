// Package dispatchbench measures dispatch.Runner alone: routing, batching,
// per-key workers and the watermark, with a handler that does nothing. It
// is the ceiling the Lua handler and the sinks are measured against.
//
//	go test -run '^$' -bench . -benchmem ./bench/dispatch/
package dispatchbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

type noop struct{}

func (noop) Handle(context.Context, int, []*event.Event) error { return nil }

type nopCommitter struct{}

func (nopCommitter) Commit(context.Context, int, int64) error { return nil }

// events builds a reusable pool: 2 subscribed tables and 1 that is not,
// 1000 keys each. The runner never modifies events, so the pool is sent
// round and round.
func events() []*event.Event {
	cols := []event.Column{{Name: "id", Type: "bigint"}}
	tables := []*event.Table{
		event.NewTable("shop", "orders", cols, []int{0}),
		event.NewTable("shop", "order_items", cols, []int{0}),
		event.NewTable("blog", "posts", cols, []int{0}),
	}
	pool := make([]*event.Event, 4096)
	for i := range pool {
		t := tables[0]
		switch i % 10 {
		case 7, 8:
			t = tables[1]
		case 9:
			t = tables[2] // 10% not subscribed
		}
		pool[i] = &event.Event{ID: fmt.Sprint(i), Action: event.Update, Table: t, Key: fmt.Sprint(i % 1000)}
	}
	return pool
}

func BenchmarkRunner(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			spec := dispatch.Spec{Name: "bench", Subscribe: []string{"shop.order*"}, Workers: workers, Batch: 256, MaxWait: 5 * time.Millisecond}
			r, err := dispatch.NewRunner(spec, noop{}, dispatch.RunnerOptions{
				Committer: nopCommitter{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				b.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- r.Run(context.Background()) }()
			pool := events()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := r.Deliver(ctx, dispatch.Delivery{Event: pool[i%len(pool)], Offset: int64(i)}); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.Drain(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			b.StopTimer()
			r.Stop()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}
