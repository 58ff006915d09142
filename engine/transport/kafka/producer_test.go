package kafka

import (
	"context"
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

// frozenStore loads its position but keeps none of the saves, as a
// producer killed before they reached the store would leave it.
type frozenStore struct{ checkpoint.Memory }

func (s *frozenStore) Save(context.Context, checkpoint.Position) error { return nil }

func TestIntegrationProducerDoesNotRepublishAfterAKill(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	topics := NewTopics(brokers, testenv.UniqueName(t, "rep"), "", 3, 1)
	tbl := event.NewTable("shop", "orders", []event.Column{{Name: "id", Type: "int"}}, []int{0})
	commitPos := func(tx int) checkpoint.Position {
		return checkpoint.Position{File: "b.000001", Pos: uint32(10_000*tx + 9_000)}
	}
	// publish sends transactions from..to as capture reads them: tx's rows
	// lie between the commit of tx-1 and its own.
	const rows = 300 // more per partition than the first stretch read back
	publish := func(p *Producer, from, to int) {
		t.Helper()
		for tx := from; tx <= to; tx++ {
			for r := range rows {
				pos := uint32(10_000*tx + r)
				e := &event.Event{ID: fmt.Sprintf("b.000001:%d:0", pos), Action: event.Insert, Table: tbl,
					Version: event.MakeVersion(1, pos, 0), After: []event.Value{event.IntValue(int64(r))}}
				e.Key = event.MakeKey(tbl, e.After)
				if err := p.Event(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Commit(ctx, commitPos(tx)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A first producer gets transactions 1..4 acknowledged but dies with
	// the checkpoint still after transaction 0.
	frozen := &frozenStore{}
	_ = frozen.Memory.Save(ctx, commitPos(0))
	first, err := NewProducer(ProducerOptions{Brokers: brokers, Topics: topics, Store: frozen, ChunkSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	publish(first, 1, 4)
	if err := first.flush(ctx); err != nil {
		t.Fatal(err)
	}
	for first.Position() != commitPos(4) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = first.writer.Close()
	close(first.stop)
	<-first.done

	// The restart reads 1..6 again from the binlog.
	store := &checkpoint.Memory{}
	_ = store.Save(ctx, commitPos(0))
	second, err := NewProducer(ProducerOptions{Brokers: brokers, Topics: topics, Store: store, ChunkSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	publish(second, 1, 6)
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.Last(); got != commitPos(6) {
		t.Errorf("checkpoint %v, want %v", got, commitPos(6))
	}

	count := map[string]int{}
	for _, m := range testenv.TopicMessages(ctx, t, topics.Name("shop", "orders")) {
		e, err := event.Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		count[e.ID]++
	}
	if len(count) != 6*rows {
		t.Errorf("%d distinct events in Kafka, want %d", len(count), 6*rows)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s is in Kafka %d times", id, n)
		}
	}
}

func TestProducerSavesTheStartAtOnce(t *testing.T) {
	store := &checkpoint.Memory{}
	p, err := NewProducer(ProducerOptions{Brokers: []string{"127.0.0.1:1"}, Topics: NewTopics([]string{"127.0.0.1:1"}, "p", "", 1, 1), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	start := checkpoint.Position{File: "b.000001", Pos: 4}
	if err := p.Commit(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	if got := store.Last(); got != start {
		t.Errorf("saved %s after the first commit, want %s", got, start)
	}
}
