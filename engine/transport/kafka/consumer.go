package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

// ConsumerOptions configures the consumer group of one listener.
type ConsumerOptions struct {
	Brokers []string
	Topics  *Topics
	// Group is the consumer group, <group prefix>.<listener>.
	Group string
	// Subscribe lists the listener's "schema.table" patterns; the consumer
	// reads the topics that may carry them.
	Subscribe []string
	// Earliest makes a group without committed offsets start at the oldest
	// message instead of the newest.
	Earliest bool
	// Rescan is how often the topic list is read again, so tables created
	// later are picked up. The default is 30s.
	Rescan time.Duration
	Logger *slog.Logger
}

// Consumer feeds one listener's Runner from its Kafka consumer group and
// commits offsets for it. It implements dispatch.Committer: the runner calls
// Commit only for offsets whose every earlier message of the partition is
// finished, and the Consumer turns that into a group commit. Offsets are
// never committed on fetch.
//
// A rebalance is handled by kafka-go's group reader: partitions taken away
// stop being fetched, and a commit of the old generation is refused by the
// coordinator, so the new owner resumes from the last offset the runner
// finished — never past an unfinished message.
type Consumer struct {
	opts ConsumerOptions
	log  *slog.Logger

	mu      sync.Mutex
	reader  *kafkago.Reader
	streams map[topicPartition]int
	parts   []topicPartition
	last    []int64 // per stream: the offset delivered last
}

type topicPartition struct {
	topic     string
	partition int
}

// NewConsumer prepares the consumer; Run starts reading.
func NewConsumer(opts ConsumerOptions) *Consumer {
	if opts.Rescan <= 0 {
		opts.Rescan = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Consumer{
		opts:    opts,
		log:     opts.Logger.With("group", opts.Group),
		streams: make(map[topicPartition]int),
	}
}

// Run reads the listener's topics into the runner until ctx is done. When
// the set of matching topics changes, it drains the runner (so every
// delivered message is committed), and joins the group again with the new
// topics.
func (c *Consumer) Run(ctx context.Context, r *dispatch.Runner) error {
	for {
		topics, err := c.waitTopics(ctx)
		if err != nil {
			return err
		}
		changed, err := c.consume(ctx, r, topics)
		if err != nil || !changed {
			return err
		}
	}
}

// DrainTimeout bounds how long a stopping consumer waits for the runner to
// finish what it was given, so that the offsets are committed before the
// group is left.
const DrainTimeout = 30 * time.Second

// waitTopics returns the matching topics, waiting for one to exist.
func (c *Consumer) waitTopics(ctx context.Context) ([]string, error) {
	for {
		topics, err := c.opts.Topics.List(ctx, c.opts.Subscribe)
		if err != nil {
			c.log.Warn("listing topics", "err", err)
		} else if len(topics) > 0 {
			slices.Sort(topics)
			return topics, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(c.opts.Rescan, 2*time.Second)):
		}
	}
}

// consume reads topics until ctx is done (false) or the matching topics
// changed (true).
func (c *Consumer) consume(ctx context.Context, r *dispatch.Runner, topics []string) (bool, error) {
	start := kafkago.LastOffset
	if c.opts.Earliest {
		start = kafkago.FirstOffset
	}
	reader := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:               c.opts.Brokers,
		GroupID:               c.opts.Group,
		GroupTopics:           topics,
		StartOffset:           start,
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               100 * time.Millisecond,
		ReadBatchTimeout:      time.Second,
		CommitInterval:        0, // synchronous commits, only through Commit
		WatchPartitionChanges: true,
		HeartbeatInterval:     time.Second,
		SessionTimeout:        10 * time.Second,
		RebalanceTimeout:      10 * time.Second,
	})
	c.mu.Lock()
	c.reader = reader
	c.mu.Unlock()
	defer func() {
		// Whatever was delivered is finished and committed while this
		// reader is still a member of the group; then the group is left.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
		defer cancel()
		if err := r.Drain(dctx); err != nil && !errors.Is(err, dispatch.ErrStopped) {
			c.log.Warn("draining listener before leaving the group", "err", err)
		}
		c.mu.Lock()
		c.reader = nil
		c.mu.Unlock()
		if err := reader.Close(); err != nil {
			c.log.Warn("closing reader", "err", err)
		}
	}()
	c.log.Info("consuming", "topics", topics)

	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{})
	go func() {
		t := time.NewTicker(c.opts.Rescan)
		defer t.Stop()
		for {
			select {
			case <-readCtx.Done():
				return
			case <-t.C:
				now, err := c.opts.Topics.List(readCtx, c.opts.Subscribe)
				if err != nil {
					continue
				}
				slices.Sort(now)
				if !slices.Equal(now, topics) {
					close(changed)
					cancel()
					return
				}
			}
		}
	}()

	var dec event.Decoder
	for {
		m, err := reader.FetchMessage(readCtx)
		if err != nil {
			select {
			case <-changed:
				return true, nil
			default:
			}
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("fetching from %v: %w", topics, err)
		}
		d := dispatch.Delivery{Stream: c.stream(m.Topic, m.Partition, m.Offset), Offset: m.Offset}
		if d.Event, d.Err = dec.Decode(m.Value); d.Err != nil {
			d.Err = fmt.Errorf("message %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, d.Err)
			d.Raw = m.Value
		}
		if err := r.Deliver(readCtx, d); err != nil {
			if errors.Is(err, dispatch.ErrStopped) || ctx.Err() != nil {
				return false, nil
			}
			select {
			case <-changed:
				return true, nil
			default:
			}
			return false, err
		}
	}
}

// stream returns the runner's stream number for a message of a topic
// partition. A partition that comes back after a rebalance restarts at its
// committed offset, below what was delivered before; the runner needs
// offsets that grow, so the partition then becomes a new stream. Commits of
// the old stream still name the partition: they only ever cover messages the
// listener finished, so at worst they move the offset past messages the new
// stream handles a second time, never past unfinished ones.
func (c *Consumer) stream(topic string, partition int, offset int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	tp := topicPartition{topic, partition}
	id, ok := c.streams[tp]
	if !ok || offset <= c.last[id] {
		id = len(c.parts)
		c.streams[tp] = id
		c.parts = append(c.parts, tp)
		c.last = append(c.last, offset)
	}
	c.last[id] = offset
	return id
}

// Commit commits offset+1 of the stream's partition for the group: the
// next message to read after every finished one.
func (c *Consumer) Commit(ctx context.Context, stream int, offset int64) error {
	c.mu.Lock()
	reader := c.reader
	tp := c.parts[stream]
	c.mu.Unlock()
	if reader == nil {
		return fmt.Errorf("committing %s/%d@%d: the reader is closed", tp.topic, tp.partition, offset)
	}
	// CommitMessages commits the message's offset + 1.
	return reader.CommitMessages(ctx, kafkago.Message{Topic: tp.topic, Partition: tp.partition, Offset: offset})
}
