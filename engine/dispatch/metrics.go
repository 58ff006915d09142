package dispatch

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/moontide/moontide/engine/event"
)

// The dispatch metrics. Labels are the listener name (bounded by the
// scripts), the source table (bounded per listener by maxTableLabels), the
// stream (a Kafka partition) and a fixed kind; never an event key or id.
var (
	metricEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "events_total",
		Help: "Events a listener finished successfully, by source table (schema.table).",
	}, []string{"listener", "table"})
	metricBatchSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "batch_seconds",
		Help:    "Time from a batch being cut to it being finished, retries and dead lettering included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
	}, []string{"listener"})
	metricHandleSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "handle_seconds",
		Help:    "Time of one Handler.Handle call: the script's time, sink flushes included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
	}, []string{"listener"})
	metricBatchEvents = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "batch_events",
		Help:    "Events per batch handed to a listener.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 8),
	}, []string{"listener"})
	metricFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "handle_failures_total",
		Help: "Handle calls that returned an error (or panicked).",
	}, []string{"listener"})
	metricRetries = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "retries_total",
		Help: "Batches tried again after a failure.",
	}, []string{"listener"})
	metricDeadLetters = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "dead_letters_total",
		Help: "Letters sent to the dead letter: kind=batch for batches that used up their attempts, kind=message for undecodable messages.",
	}, []string{"listener", "kind"})
	metricDeadLetterEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "dead_letter_events_total",
		Help: "Events inside dead-lettered batches.",
	}, []string{"listener"})
	metricInFlight = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "in_flight_events",
		Help: "Events accepted by a listener's runner and not finished yet.",
	}, []string{"listener"})
	metricCommitErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "commit_errors_total",
		Help: "Failed Committer.Commit calls; progress is committed again later.",
	}, []string{"listener"})
	metricCommitted = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "dispatch", Name: "committed_offset",
		Help: "The last offset committed per input stream (Kafka partition; 0 in embedded mode).",
	}, []string{"listener", "stream"})
)

// maxTableLabels bounds the table label values of one listener; further
// tables are counted under "other".
const maxTableLabels = 256

// runnerMetrics holds a runner's metric children, resolved once so that the
// hot path never hashes label values.
type runnerMetrics struct {
	name             string
	batchSeconds     prometheus.Observer
	handleSeconds    prometheus.Observer
	batchEvents      prometheus.Observer
	failures         prometheus.Counter
	retries          prometheus.Counter
	deadBatches      prometheus.Counter
	deadMessages     prometheus.Counter
	deadLetterEvents prometheus.Counter
	inFlight         prometheus.Gauge
	commitErrors     prometheus.Counter

	mu     sync.Mutex
	tables map[tableName]prometheus.Counter
}

func newRunnerMetrics(listener string) *runnerMetrics {
	return &runnerMetrics{
		name:             listener,
		batchSeconds:     metricBatchSeconds.WithLabelValues(listener),
		handleSeconds:    metricHandleSeconds.WithLabelValues(listener),
		batchEvents:      metricBatchEvents.WithLabelValues(listener),
		failures:         metricFailures.WithLabelValues(listener),
		retries:          metricRetries.WithLabelValues(listener),
		deadBatches:      metricDeadLetters.WithLabelValues(listener, "batch"),
		deadMessages:     metricDeadLetters.WithLabelValues(listener, "message"),
		deadLetterEvents: metricDeadLetterEvents.WithLabelValues(listener),
		inFlight:         metricInFlight.WithLabelValues(listener),
		commitErrors:     metricCommitErrors.WithLabelValues(listener),
		tables:           make(map[tableName]prometheus.Counter),
	}
}

func (m *runnerMetrics) committed(stream int, off int64) {
	metricCommitted.WithLabelValues(m.name, strconv.Itoa(stream)).Set(float64(off))
}

// table returns the events counter of a table, shared by the workers.
func (m *runnerMetrics) table(t *event.Table) prometheus.Counter {
	k := tableName{}
	if t != nil {
		k = tableName{t.Schema, t.Name}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.tables[k]
	if !ok {
		label := k.schema + "." + k.table
		if len(m.tables) >= maxTableLabels {
			label = "other"
		}
		c = metricEvents.WithLabelValues(m.name, label)
		m.tables[k] = c
	}
	return c
}

// tableCounters is a worker's lock-free front of runnerMetrics.table, keyed
// by the shared *event.Table so a lookup hashes one pointer.
type tableCounters struct {
	m     *runnerMetrics
	cache map[*event.Table]prometheus.Counter
}

func newTableCounters(m *runnerMetrics) tableCounters {
	return tableCounters{m: m, cache: make(map[*event.Table]prometheus.Counter)}
}

// count adds the events of a finished batch, one Add per run of events of
// the same table (batches are usually long runs of one table).
func (tc *tableCounters) count(batch []*event.Event) {
	for i := 0; i < len(batch); {
		t := batch[i].Table
		j := i + 1
		for j < len(batch) && batch[j].Table == t {
			j++
		}
		c, ok := tc.cache[t]
		if !ok {
			if len(tc.cache) >= 4*maxTableLabels {
				clear(tc.cache) // table versions pile up over many DDLs
			}
			c = tc.m.table(t)
			tc.cache[t] = c
		}
		c.Add(float64(j - i))
		i = j
	}
}
