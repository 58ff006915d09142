package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

var (
	metricProduced = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "kafka", Name: "acknowledged_events_total",
		Help: "Events Kafka acknowledged (acks=all).",
	})
	metricUnacked = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "kafka", Name: "unacknowledged_events",
		Help: "Events written to Kafka and not yet acknowledged.",
	})
	metricCheckpointTS = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "moontide", Subsystem: "kafka", Name: "checkpoint_timestamp_seconds",
		Help: "Source commit time of the last saved checkpoint, in seconds since the epoch.",
	})
	metricNotRepublished = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "moontide", Subsystem: "kafka", Name: "not_republished_events_total",
		Help: "Events read again from the binlog after a restart and not published, because Kafka already held them.",
	})
)

// ErrKafka marks the errors of a Producer: Kafka refused or did not
// acknowledge a write, or a topic could not be made ready. Capture stops on
// them; the caller builds a new Producer and resumes from the checkpoint.
var ErrKafka = errors.New("kafka")

// ProducerOptions configures a Producer. The zero value of each field but
// Brokers, Topics and Store is usable.
type ProducerOptions struct {
	Brokers []string
	Topics  *Topics
	// Store receives the positions that Kafka has acknowledged up to.
	Store checkpoint.Store
	// ChunkSize is how many messages are handed to the writer at once while
	// a transaction is being read. The default is 2000.
	ChunkSize int
	// Linger is how long the writer waits for a partition batch to fill
	// before sending it. Small, so a trickle of changes is not delayed; the
	// writer never waits for it once a batch is full. The default is 5ms.
	Linger time.Duration
	// MaxInFlight bounds the messages from the oldest unacknowledged one
	// to the newest; past it Event blocks, which stops the binlog reader.
	// The default is 100,000, and at least twice ChunkSize.
	MaxInFlight int
	// SaveInterval is the least time between two saves of the acknowledged
	// position. The default, 0, saves as soon as the position moves, one
	// save at a time, so a restart reads back as little as possible.
	SaveInterval time.Duration
	Logger       *slog.Logger
}

func (o *ProducerOptions) setDefaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 2000
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 100_000
	}
	// A chunk holds its slots until it is handed to the writer.
	o.MaxInFlight = max(o.MaxInFlight, 2*o.ChunkSize)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Producer publishes captured events to Kafka. It implements
// capture.Output: the capture goroutine calls Event and Commit, and the
// Producer saves a transaction's end position only once Kafka acknowledged
// (with acks=all) every message up to it.
//
// Messages are written asynchronously and acknowledgements come back per
// partition in any order, so the Producer numbers every message and keeps a
// low-water mark: the first message not yet acknowledged. A position is
// saved when the low-water mark passes the last message before it.
//
// After a restart, events Kafka acknowledged after the last saved position
// are read again from the binlog; the Producer reads the tails of their
// topics back once and does not publish them again (see published).
//
// The window of numbers between the low-water mark and the next message is
// bounded by MaxInFlight: a slot is taken per message and given back only
// when the mark passes it, not when its own partition acknowledges it. One
// slow partition therefore stops the reader after MaxInFlight messages even
// while the others run ahead, and the ring of acknowledgements, indexed by
// number modulo its size, never holds two live numbers in one entry.
type Producer struct {
	opts   ProducerOptions
	writer *kafkago.Writer

	chunk []kafkago.Message
	next  uint64 // sequence number of the next message
	slots chan struct{}

	saveMu sync.Mutex // one save at a time: the save loop's, or the first Commit's

	mu       sync.Mutex
	win      window
	pending  []pendingCommit
	safe     checkpoint.Position
	saved    checkpoint.Position
	failed   error
	failedCh chan struct{} // closed with the first failure
	lastSize int

	// resume is what an earlier producer published after the stored
	// checkpoint; nil when nothing was stored. Loaded by the first Event.
	resume       *published
	resumeLoaded bool

	moved chan struct{} // signalled when safe moves
	stop  chan struct{}
	done  chan struct{}
}

// window tracks acknowledgements of numbered messages arriving in any order.
type window struct {
	acked []bool // ring indexed by sequence number modulo its length
	low   uint64 // every message below low is acknowledged
}

// ack records seq and returns how far the low-water mark moved. seq must
// lie in [low, low+len(acked)).
func (w *window) ack(seq uint64) uint64 {
	n := uint64(len(w.acked))
	w.acked[seq%n] = true
	from := w.low
	for w.acked[w.low%n] {
		w.acked[w.low%n] = false
		w.low++
	}
	return w.low - from
}

type pendingCommit struct {
	end uint64 // messages below end belong to this position
	pos checkpoint.Position
}

// NewProducer starts a Producer. Close it to flush and save the final
// position.
func NewProducer(opts ProducerOptions) (*Producer, error) {
	opts.setDefaults()
	if len(opts.Brokers) == 0 || opts.Topics == nil || opts.Store == nil {
		return nil, errors.New("kafka producer needs brokers, topics and a checkpoint store")
	}
	p := &Producer{
		opts:     opts,
		slots:    make(chan struct{}, opts.MaxInFlight),
		win:      window{acked: make([]bool, opts.MaxInFlight)},
		failedCh: make(chan struct{}),
		lastSize: 512,
		moved:    make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	p.writer = &kafkago.Writer{
		Addr:         kafkago.TCP(opts.Brokers...),
		Balancer:     &kafkago.Murmur2Balancer{},
		RequiredAcks: kafkago.RequireAll,
		Async:        true,
		BatchSize:    opts.ChunkSize,
		BatchBytes:   16 << 20,
		BatchTimeout: opts.Linger,
		MaxAttempts:  10,
		Completion:   p.completed,
	}
	go p.saveLoop()
	return p, nil
}

// Event queues one event for Kafka. It blocks while MaxInFlight messages
// are unacknowledged, and fails once Kafka refused a write: the capture must
// then restart from the last saved position.
func (p *Producer) Event(ctx context.Context, e *event.Event) error {
	if err := p.err(); err != nil {
		return err
	}
	topic := p.opts.Topics.Name(e.Table.Schema, e.Table.Name)
	if err := p.opts.Topics.Ensure(ctx, topic); err != nil {
		return fmt.Errorf("%w: %w", ErrKafka, err)
	}
	if dup, err := p.republished(ctx, topic, e); err != nil || dup {
		return err
	}
	value, err := event.AppendJSON(make([]byte, 0, p.lastSize+p.lastSize/4), e)
	if err != nil {
		return err
	}
	p.lastSize = len(value)
	key := make([]byte, 0, len(e.Table.Schema)+len(e.Table.Name)+len(e.Key)+2)
	key = append(append(append(append(append(key, e.Table.Schema...), '.'), e.Table.Name...), '/'), e.Key...)
	select {
	case p.slots <- struct{}{}:
	case <-p.failedCh:
		return p.err()
	case <-ctx.Done():
		return ctx.Err()
	}
	p.chunk = append(p.chunk, kafkago.Message{Topic: topic, Key: key, Value: value, WriterData: p.next})
	p.next++
	if len(p.chunk) >= p.opts.ChunkSize {
		return p.flush(ctx)
	}
	return nil
}

// Commit hands the transaction's messages to the writer and records that p
// is safe once they are acknowledged.
func (p *Producer) Commit(ctx context.Context, pos checkpoint.Position) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	first := p.safe.IsZero()
	if p.win.low == p.next {
		p.safe = pos
		p.signalMoved()
	} else {
		p.pending = append(p.pending, pendingCommit{end: p.next, pos: pos})
	}
	p.mu.Unlock()
	if first {
		// The start position (capture.Output): saved before any event.
		if err := p.save(ctx); err != nil {
			return err
		}
	}
	return p.err()
}

// republished reports whether e was published by an earlier producer that
// stopped before it saved a position past e.
func (p *Producer) republished(ctx context.Context, topic string, e *event.Event) (bool, error) {
	if !p.resumeLoaded {
		pos, err := p.opts.Store.Load(ctx)
		switch {
		case err == nil && pos.File != "":
			p.resume = newPublished(p.opts.Topics.client, pos)
		case err == nil:
			// A GTID set alone places no event version: nothing to compare.
		case !errors.Is(err, checkpoint.ErrNotFound):
			return false, fmt.Errorf("reading the checkpoint: %w", err)
		}
		p.resumeLoaded = true
	}
	if p.resume == nil {
		return false, nil
	}
	dup, err := p.resume.has(ctx, topic, e)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrKafka, err)
	}
	if dup {
		metricNotRepublished.Inc()
	}
	return dup, nil
}

// signalMoved wakes the save loop.
func (p *Producer) signalMoved() {
	select {
	case p.moved <- struct{}{}:
	default: // a save is due already
	}
}

// Heartbeat has nothing to publish: an idle source leaves Kafka idle.
func (p *Producer) Heartbeat(context.Context, int64) error { return p.err() }

func (p *Producer) flush(ctx context.Context) error {
	if len(p.chunk) == 0 {
		return nil
	}
	err := p.writer.WriteMessages(ctx, p.chunk...)
	p.chunk = p.chunk[:0:0] // the writer keeps the messages until completion
	if err != nil {
		return fmt.Errorf("writing to %w: %w", ErrKafka, err)
	}
	return nil
}

// completed runs on the writer's goroutines when a partition batch is done.
func (p *Producer) completed(msgs []kafkago.Message, err error) {
	p.mu.Lock()
	if err != nil {
		if p.failed == nil {
			p.failed = fmt.Errorf("%w did not acknowledge %d messages to %s: %w", ErrKafka, len(msgs), msgs[0].Topic, err)
			close(p.failedCh)
		}
		p.mu.Unlock()
		return
	}
	var moved uint64
	for i := range msgs {
		moved += p.win.ack(msgs[i].WriterData.(uint64))
	}
	i := 0
	for ; i < len(p.pending) && p.pending[i].end <= p.win.low; i++ {
		p.safe = p.pending[i].pos
	}
	if i > 0 {
		p.pending = p.pending[i:]
		p.signalMoved()
	}
	p.mu.Unlock()
	metricProduced.Add(float64(len(msgs)))
	for ; moved > 0; moved-- {
		<-p.slots
	}
	metricUnacked.Set(float64(len(p.slots)))
}

func (p *Producer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// saveLoop saves the acknowledged position whenever it moves.
func (p *Producer) saveLoop() {
	defer close(p.done)
	checkpoint.SaveLoop(p.stop, p.moved, 0, p.opts.SaveInterval, func() error {
		err := p.save(context.Background())
		if err != nil {
			p.opts.Logger.Warn("saving checkpoint", "err", err)
		}
		return err
	})
}

// save stores the newest acknowledged position when it moved.
func (p *Producer) save(ctx context.Context) error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	safe := p.safe
	p.mu.Unlock()
	if safe == p.saved || safe.IsZero() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.opts.Store.Save(ctx, safe); err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", safe, err)
	}
	p.saved = safe
	metricCheckpointTS.Set(float64(safe.TS) / 1000)
	return nil
}

// Position returns the newest position whose events Kafka acknowledged.
func (p *Producer) Position() checkpoint.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.safe
}

// Close writes what is queued, waits for every acknowledgement and saves the
// final position. It must not be called concurrently with Event or Commit.
func (p *Producer) Close(ctx context.Context) error {
	flushErr := p.flush(ctx)
	closeErr := p.writer.Close() // blocks until every completion ran
	close(p.stop)
	<-p.done
	saveErr := p.save(ctx)
	return errors.Join(flushErr, closeErr, p.err(), saveErr)
}
