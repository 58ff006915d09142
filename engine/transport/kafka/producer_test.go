package kafka

import (
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

func TestIntegrationProducerSavesOnlyAcknowledgedPositions(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	prefix := testenv.UniqueName(t, "prod")
	topics := NewTopics(brokers, prefix, "", 3, 1)
	store := &checkpoint.Memory{}
	p, err := NewProducer(ProducerOptions{Brokers: brokers, Topics: topics, Store: store, ChunkSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	tbl := event.NewTable("shop", "orders", []event.Column{{Name: "id", Type: "int"}, {Name: "note", Type: "text"}}, []int{0})
	const txs, rows = 5, 20
	sent := map[string]bool{}
	for tx := 0; tx < txs; tx++ {
		for r := 0; r < rows; r++ {
			e := &event.Event{ID: fmt.Sprintf("b.000001:%d:%d", tx, r), Action: event.Insert, Table: tbl,
				After: []event.Value{event.IntValue(int64(r)), event.StringValue("tx " + fmt.Sprint(tx))}}
			e.Key = event.MakeKey(tbl, e.After)
			if err := p.Event(ctx, e); err != nil {
				t.Fatal(err)
			}
			sent[e.ID] = true
		}
		if err := p.Commit(ctx, checkpoint.Position{File: "b.000001", Pos: uint32(1000 + tx)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	last, err := store.Load(ctx)
	if err != nil || last.Pos != 1000+txs-1 {
		t.Fatalf("final checkpoint %v (%v), want b.000001:%d", last, err, 1000+txs-1)
	}

	topic := topics.Name("shop", "orders")
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, GroupID: prefix + ".check", Topic: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	lastSeq := map[string]int{} // per key: the tx number seen last, to check order
	for len(sent) > 0 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("reading back (%d still missing): %v", len(sent), err)
		}
		e, err := event.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		var tx, row int
		fmt.Sscanf(e.ID, "b.000001:%d:%d", &tx, &row)
		if prev, ok := lastSeq[e.Key]; ok && prev > tx {
			t.Errorf("key %s: tx %d arrived after tx %d", e.Key, tx, prev)
		}
		lastSeq[e.Key] = tx
		if string(m.Key) != "shop.orders/"+e.Key {
			t.Errorf("message key %q", m.Key)
		}
		delete(sent, e.ID)
	}
}
