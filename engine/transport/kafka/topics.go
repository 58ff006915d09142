package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/pattern"
)

// Topics names topics and creates them when they are missing.
type Topics struct {
	// Prefix starts every per-table topic: <Prefix>.<schema>.<table>.
	Prefix string
	// Single, when set, is the one topic that carries every table.
	Single string
	// Partitions and ReplicationFactor are used for topics moontide creates.
	Partitions        int
	ReplicationFactor int

	client *kafkago.Client

	mu    sync.Mutex
	known map[string]bool
}

// NewTopics returns a Topics that talks to the given brokers.
func NewTopics(brokers []string, prefix, single string, partitions, replication int) *Topics {
	return &Topics{
		Prefix: prefix, Single: single, Partitions: partitions, ReplicationFactor: replication,
		client: &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second},
		known:  make(map[string]bool),
	}
}

// Name returns the topic that carries the events of schema.table.
// Characters Kafka does not allow in topic names, and dots inside the
// schema or table name, become '_'; distinct tables can then share a topic,
// which is harmless because listeners filter on the event's own schema and
// table.
func (t *Topics) Name(schema, table string) string {
	if t.Single != "" {
		return t.Single
	}
	return t.Prefix + "." + sanitize(schema) + "." + sanitize(table)
}

func sanitize(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !legal(s[i]) || s[i] == '.' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !legal(c) || c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

func legal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// Ensure creates topic when it does not exist yet and waits until it has a
// leader for every partition, so the first write to it does not fail.
func (t *Topics) Ensure(ctx context.Context, topic string) error {
	t.mu.Lock()
	known := t.known[topic]
	t.mu.Unlock()
	if known {
		return nil
	}
	resp, err := t.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: topic, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor,
	}}})
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for {
		ready, err := t.ready(ctx, topic)
		if err != nil {
			return err
		}
		if ready {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topic %s to have leaders: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.mu.Lock()
	t.known[topic] = true
	t.mu.Unlock()
	return nil
}

func (t *Topics) ready(ctx context.Context, topic string) (bool, error) {
	md, err := t.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, fmt.Errorf("reading metadata of topic %s: %w", topic, err)
	}
	for _, tp := range md.Topics {
		if tp.Name != topic || tp.Error != nil || len(tp.Partitions) == 0 {
			continue
		}
		for _, p := range tp.Partitions {
			if p.Error != nil || p.Leader.ID < 0 {
				return false, nil
			}
		}
		return true, nil
	}
	return false, nil
}

// List returns the topics that may carry tables matching the given
// "schema.table" patterns ('*' in either part). It over-approximates: the
// dispatch side filters on each event's schema and table.
func (t *Topics) List(ctx context.Context, patterns []string) ([]string, error) {
	if t.Single != "" {
		return []string{t.Single}, nil
	}
	md, err := t.client.Metadata(ctx, &kafkago.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	// Topic names hold sanitized names: match them with patterns whose
	// literal runs are sanitized alike.
	safe := make([]pattern.Pattern, len(patterns))
	for i, p := range patterns {
		cp, err := pattern.Parse(p)
		if err != nil {
			return nil, err
		}
		safe[i] = cp.Map(sanitize)
	}
	var out []string
	for _, tp := range md.Topics {
		rest, ok := strings.CutPrefix(tp.Name, t.Prefix+".")
		if !ok || tp.Error != nil {
			continue
		}
		schema, table, ok := strings.Cut(rest, ".")
		if ok && slices.ContainsFunc(safe, func(p pattern.Pattern) bool { return p.Match(schema, table) }) {
			out = append(out, tp.Name)
		}
	}
	return out, nil
}
