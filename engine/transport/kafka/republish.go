package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
)

// published knows which events a previous producer got into Kafka after the
// checkpoint this one resumes from, so that a restart does not publish them
// a second time.
//
// A producer saves its position some time after Kafka acknowledged it, so a
// killed producer leaves acknowledged events past its checkpoint. Capture
// reads them again from the binlog; published tells which are already in
// their topic, by event id. Only events Kafka had not acknowledged (or
// written but not yet committed) when the producer died are published twice.
//
// The events after the checkpoint are found per partition by stepping back
// from its end until a message older than the checkpoint: writes to one
// partition are ordered, so nothing after the checkpoint lies before it. A
// message that is not a moontide event is not one capture would publish and
// is passed over. Any mistake here could only make a duplicate, never skip
// an event: an event is skipped only when its id was read back from the
// topic it is about to be written to.
type published struct {
	client *kafkago.Client
	from   uint64                         // events at or above this version may be in Kafka already
	topics map[string]map[string]struct{} // per topic read back: the ids found and not yet met again
	dec    event.Decoder
}

// tailStep is the first stretch of a partition read back; it doubles until
// it reaches a message from before the checkpoint.
const tailStep = 256

func newPublished(client *kafkago.Client, resume checkpoint.Position) *published {
	return &published{
		client: client,
		from:   event.MakeVersion(event.FileSeq(resume.File), resume.Pos, 0),
		topics: make(map[string]map[string]struct{}),
	}
}

// has reports whether e is in topic already. Each event is asked about once,
// so a match is forgotten.
func (r *published) has(ctx context.Context, topic string, e *event.Event) (bool, error) {
	if e.Version < r.from {
		return false, nil
	}
	ids, ok := r.topics[topic]
	if !ok {
		var err error
		if ids, err = r.readBack(ctx, topic); err != nil {
			return false, err
		}
		r.topics[topic] = ids
	}
	if _, ok := ids[e.ID]; !ok {
		return false, nil
	}
	delete(ids, e.ID)
	return true, nil
}

// readBack returns the ids of the events at or after the checkpoint in
// every partition of topic.
func (r *published) readBack(ctx context.Context, topic string) (map[string]struct{}, error) {
	md, err := r.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading back topic %s: %w", topic, err)
	}
	var reqs []kafkago.OffsetRequest
	for _, tp := range md.Topics {
		if tp.Name != topic {
			continue
		}
		if tp.Error != nil {
			return nil, fmt.Errorf("reading back topic %s: %w", topic, tp.Error)
		}
		for _, p := range tp.Partitions {
			reqs = append(reqs, kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
		}
	}
	ids := make(map[string]struct{})
	if len(reqs) == 0 {
		return ids, nil
	}
	offs, err := r.offsets(ctx, topic, reqs)
	if err != nil {
		return nil, err
	}
	for _, po := range offs {
		if err := r.readPartition(ctx, topic, po.Partition, po.FirstOffset, po.LastOffset, ids); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// offsets lists the first and last offsets of topic's partitions, waiting
// out the moments after a topic's creation or a leader change when a
// partition has no leader the client knows.
func (r *published) offsets(ctx context.Context, topic string, reqs []kafkago.OffsetRequest) ([]kafkago.PartitionOffsets, error) {
	for attempt := 1; ; attempt++ {
		res, err := r.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
		if err == nil {
			for _, po := range res.Topics[topic] {
				if po.Error != nil {
					err = fmt.Errorf("%s[%d]: %w", topic, po.Partition, po.Error)
					break
				}
			}
		}
		var kerr kafkago.Error
		if err == nil || !errors.As(err, &kerr) || !kerr.Temporary() || attempt == 50 {
			if err != nil {
				return nil, fmt.Errorf("reading back topic %s: %w", topic, err)
			}
			return res.Topics[topic], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reading back topic %s: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readPartition adds to ids the events of one partition, between offsets
// first and end (exclusive), written at or after the checkpoint.
func (r *published) readPartition(ctx context.Context, topic string, part int, first, end int64, ids map[string]struct{}) error {
	start := end
	for step := int64(tailStep); start > first; step *= 2 {
		start = max(first, end-step)
		older := false
		err := r.scan(ctx, topic, part, start, end, func(e *event.Event) bool {
			older = e.Version < r.from
			return false // only the oldest event of the stretch matters
		})
		if err != nil {
			return err
		}
		if older {
			break
		}
	}
	return r.scan(ctx, topic, part, start, end, func(e *event.Event) bool {
		if e.Version >= r.from {
			ids[e.ID] = struct{}{}
		}
		return true
	})
}

// scan decodes the events of a partition from offset from up to end
// (exclusive) and hands them to fn until it returns false.
func (r *published) scan(ctx context.Context, topic string, part int, from, end int64, fn func(*event.Event) bool) error {
	for off := from; off < end; {
		res, err := r.client.Fetch(ctx, &kafkago.FetchRequest{
			Topic: topic, Partition: part, Offset: off,
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("reading back %s[%d] at offset %d: %w", topic, part, off, err)
		}
		before := off
		for off < end {
			rec, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading back %s[%d] at offset %d: %w", topic, part, off, err)
			}
			if rec.Offset < off {
				continue // a record batch may start before the offset asked for
			}
			off = rec.Offset + 1
			value, err := protocol.ReadAll(rec.Value)
			if err != nil {
				return fmt.Errorf("reading back %s[%d] at offset %d: %w", topic, part, rec.Offset, err)
			}
			e, err := r.dec.Decode(value)
			if err != nil {
				continue
			}
			if !fn(e) {
				return nil
			}
		}
		if off == before {
			// Nothing at or after off: the log ends earlier than its
			// offsets said (compaction or retention moved it).
			return nil
		}
	}
	return nil
}
