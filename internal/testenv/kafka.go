package testenv

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TopicMessages returns the value of every message in topic on the test
// Kafka, partition by partition, each partition in offset order.
func TopicMessages(ctx context.Context, t testing.TB, topic string) [][]byte {
	t.Helper()
	brokers := KafkaBrokers(t)
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata of topic %s: %v %v", topic, err, md)
	}
	var out [][]byte
	for _, p := range md.Topics[0].Partitions {
		offs, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
			topic: {kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID)}}})
		if err != nil {
			t.Fatalf("offsets of %s[%d]: %v", topic, p.ID, err)
		}
		po := offs.Topics[topic][0]
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(po.FirstOffset); err != nil {
			t.Fatal(err)
		}
		for off := po.FirstOffset; off < po.LastOffset; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("reading %s[%d] at offset %d of %d: %v", topic, p.ID, off, po.LastOffset, err)
			}
			off = m.Offset + 1
			out = append(out, m.Value)
		}
		r.Close()
	}
	return out
}
