package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/event"
)

// DeadLetters writes what listeners gave up on to the topic
// <prefix>.<listener>: each event's JSON form, or an undecodable message's
// raw bytes, with the error in the header moontide-error. It implements
// dispatch.DeadLetter.
type DeadLetters struct {
	Prefix string
	topics *Topics
	writer *kafkago.Writer
}

// NewDeadLetters returns dead letters for the given brokers; topics creates
// the dead-letter topics when missing.
func NewDeadLetters(brokers []string, prefix string, topics *Topics) *DeadLetters {
	return &DeadLetters{
		Prefix: prefix,
		topics: topics,
		writer: &kafkago.Writer{
			Addr:         kafkago.TCP(brokers...),
			RequiredAcks: kafkago.RequireAll,
			// A dead letter is written synchronously and rarely: do not
			// wait for a batch to fill.
			BatchTimeout: time.Millisecond,
		},
	}
}

// Topic is the dead-letter topic of a listener.
func (d *DeadLetters) Topic(listener string) string { return d.Prefix + "." + sanitize(listener) }

// Put writes a failed batch, one message per event, and returns once Kafka
// acknowledged all of them.
func (d *DeadLetters) Put(ctx context.Context, listener string, batch []*event.Event, cause error) error {
	topic := d.Topic(listener)
	if err := d.topics.Ensure(ctx, topic); err != nil {
		return err
	}
	msgs := make([]kafkago.Message, len(batch))
	for i, e := range batch {
		value, err := event.AppendJSON(nil, e)
		if err != nil {
			return fmt.Errorf("dead-lettering event %s of listener %q: %w", e.ID, listener, err)
		}
		msgs[i] = kafkago.Message{Topic: topic, Key: []byte(e.Key), Value: value, Headers: headers(listener, cause)}
	}
	if err := d.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("writing %d dead letters of listener %q to %s: %w", len(msgs), listener, topic, err)
	}
	return nil
}

// PutRaw writes an undecodable message as it came, with where it came from.
func (d *DeadLetters) PutRaw(ctx context.Context, listener string, stream int, offset int64, raw []byte, cause error) error {
	topic := d.Topic(listener)
	if err := d.topics.Ensure(ctx, topic); err != nil {
		return err
	}
	h := append(headers(listener, cause),
		kafkago.Header{Key: "moontide-stream", Value: []byte(strconv.Itoa(stream))},
		kafkago.Header{Key: "moontide-offset", Value: []byte(strconv.FormatInt(offset, 10))})
	if err := d.writer.WriteMessages(ctx, kafkago.Message{Topic: topic, Value: raw, Headers: h}); err != nil {
		return fmt.Errorf("writing a dead letter of listener %q to %s: %w", listener, topic, err)
	}
	return nil
}

func headers(listener string, cause error) []kafkago.Header {
	return []kafkago.Header{
		{Key: "moontide-listener", Value: []byte(listener)},
		{Key: "moontide-error", Value: []byte(cause.Error())},
	}
}

// Close flushes and closes the writer.
func (d *DeadLetters) Close() error { return d.writer.Close() }
