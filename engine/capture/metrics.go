package capture

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

var (
	metricEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "capture", Name: "events_total",
		Help: "Events read from the binlog, per source table and action.",
	}, []string{"schema", "table", "action"})
	metricLag = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "capture", Name: "lag_seconds",
		Help: "Now minus the source commit time of the last transaction read (0 after a heartbeat of an idle source).",
	})
	metricReconnects = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "capture", Name: "reconnects_total",
		Help: "Times the binlog connection was lost and opened again.",
	})
)

// metered counts what passes to the output and tracks the capture lag. It
// keeps one counter per table version and action, so the hot path does no
// label lookup.
type metered struct {
	out      Output
	counters map[meterKey]prometheus.Counter
}

type meterKey struct {
	table  *event.Table
	action event.Action
}

func (m *metered) Event(ctx context.Context, e *event.Event) error {
	k := meterKey{e.Table, e.Action}
	c, ok := m.counters[k]
	if !ok {
		if len(m.counters) > 10_000 { // table versions pile up over schema changes
			clear(m.counters)
		}
		c = metricEvents.WithLabelValues(e.Table.Schema, e.Table.Name, e.Action.String())
		m.counters[k] = c
	}
	c.Inc()
	return m.out.Event(ctx, e)
}

func (m *metered) Commit(ctx context.Context, p checkpoint.Position) error {
	if p.TS > 0 {
		metricLag.Set(max(0, time.Since(time.UnixMilli(p.TS)).Seconds()))
	}
	return m.out.Commit(ctx, p)
}

func (m *metered) Heartbeat(ctx context.Context, ts int64) error {
	metricLag.Set(0)
	return m.out.Heartbeat(ctx, ts)
}
