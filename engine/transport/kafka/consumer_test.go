package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// recorder is a dispatch.Handler that remembers the ids it handled.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
	got  chan struct{}
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}, got: make(chan struct{}, 1)} }

func (r *recorder) Handle(_ context.Context, _ int, batch []*event.Event) error {
	r.mu.Lock()
	for _, e := range batch {
		r.seen[e.ID]++
	}
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// publish writes n insert events of shop.orders through a Producer.
func publish(t *testing.T, ctx context.Context, brokers []string, topics *Topics, from, n int) {
	t.Helper()
	p, err := NewProducer(ProducerOptions{Brokers: brokers, Topics: topics, Store: &checkpoint.Memory{}})
	if err != nil {
		t.Fatal(err)
	}
	tbl := event.NewTable("shop", "orders", []event.Column{{Name: "id", Type: "int"}}, []int{0})
	for i := from; i < from+n; i++ {
		e := &event.Event{ID: fmt.Sprintf("e%d", i), Action: event.Insert, Table: tbl, After: []event.Value{event.IntValue(int64(i))}}
		e.Key = event.MakeKey(tbl, e.After)
		if err := p.Event(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(ctx, checkpoint.Position{File: "b.000001", Pos: 4}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// listen runs one runner fed by one consumer of group until stop is closed.
func listen(t *testing.T, brokers []string, topics *Topics, group string, h dispatch.Handler) (stop func()) {
	t.Helper()
	spec := dispatch.Spec{Name: group, Subscribe: []string{"shop.orders"}, Batch: 50, Workers: 2, MaxWait: 20 * time.Millisecond}
	c := NewConsumer(ConsumerOptions{Brokers: brokers, Topics: topics, Group: group, Subscribe: spec.Subscribe, Earliest: true, Rescan: time.Second})
	r, err := dispatch.NewRunner(spec, h, dispatch.RunnerOptions{Committer: c, CommitInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = r.Run(context.Background()) }()
	go func() {
		defer wg.Done()
		if err := c.Run(ctx, r); err != nil {
			t.Errorf("consumer: %v", err)
		}
		r.Stop()
	}()
	return func() { cancel(); wg.Wait() }
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestIntegrationConsumerCommitsWhatTheListenerFinished(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	topics := NewTopics(brokers, testenv.UniqueName(t, "cons"), "", 4, 1)
	group := testenv.UniqueName(t, "g")
	publish(t, ctx, brokers, topics, 0, 500)

	first := newRecorder()
	stop := listen(t, brokers, topics, group, first)
	waitFor(t, ctx, "the first 500 events", func() bool { return first.count() == 500 })
	stop()

	// The group resumes after what it committed: the next consumer sees
	// only new events.
	publish(t, ctx, brokers, topics, 500, 100)
	second := newRecorder()
	stop = listen(t, brokers, topics, group, second)
	defer stop()
	waitFor(t, ctx, "the next 100 events", func() bool { return second.count() == 100 })
	for id := range second.seen {
		var n int
		fmt.Sscanf(id, "e%d", &n)
		if n < 500 {
			t.Errorf("event %s handled again after its offset was committed", id)
		}
	}
}

func TestIntegrationTwoConsumersShareAndHandOverPartitions(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	topics := NewTopics(brokers, testenv.UniqueName(t, "share"), "", 4, 1)
	group := testenv.UniqueName(t, "g")
	publish(t, ctx, brokers, topics, 0, 400)

	a, b := newRecorder(), newRecorder()
	stopA := listen(t, brokers, topics, group, a)
	stopB := listen(t, brokers, topics, group, b)
	waitFor(t, ctx, "the first 400 events", func() bool { return len(union(a, b)) == 400 })
	stopA()
	publish(t, ctx, brokers, topics, 400, 400)
	waitFor(t, ctx, "B to take over every partition", func() bool { return len(union(a, b)) == 800 })
	stopB()
	if a.count() == 0 && b.count() == 800 {
		t.Log("A got no partition before B joined; the handover was not exercised this run")
	}
}

func union(rs ...*recorder) map[string]bool {
	u := map[string]bool{}
	for _, r := range rs {
		r.mu.Lock()
		for id := range r.seen {
			u[id] = true
		}
		r.mu.Unlock()
	}
	return u
}

func TestIntegrationUndecodableMessagesGoToTheDeadLetterTopic(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx := testenv.Context(t, 0)
	topics := NewTopics(brokers, testenv.UniqueName(t, "poison"), "", 1, 1)
	group := testenv.UniqueName(t, "g")
	publish(t, ctx, brokers, topics, 0, 5)
	topic := topics.Name("shop", "orders")
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafkago.Message{Value: []byte(`{"v":1,"garbage":true}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	publish(t, ctx, brokers, topics, 5, 5)

	dl := NewDeadLetters(brokers, testenv.UniqueName(t, "dlq"), topics)
	defer dl.Close()
	rec := newRecorder()
	spec := dispatch.Spec{Name: "poisoned", Subscribe: []string{"shop.orders"}, Batch: 10, MaxWait: 20 * time.Millisecond}
	c := NewConsumer(ConsumerOptions{Brokers: brokers, Topics: topics, Group: group, Subscribe: spec.Subscribe, Earliest: true})
	r, err := dispatch.NewRunner(spec, rec, dispatch.RunnerOptions{Committer: c, DeadLetter: dl, CommitInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = r.Run(context.Background()) }()
	go func() { defer wg.Done(); _ = c.Run(runCtx, r); r.Stop() }()
	waitFor(t, ctx, "the 10 valid events after the bad one", func() bool { return rec.count() == 10 })
	cancel()
	wg.Wait()

	rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: dl.Topic("poisoned"), MaxWait: 100 * time.Millisecond})
	defer rd.Close()
	m, err := rd.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("reading the dead-letter topic: %v", err)
	}
	if string(m.Value) != `{"v":1,"garbage":true}` {
		t.Errorf("dead letter %q, want the raw message", m.Value)
	}
	var cause string
	for _, h := range m.Headers {
		if h.Key == "moontide-error" {
			cause = string(h.Value)
		}
	}
	if !strings.Contains(cause, "decoding event") || !strings.Contains(cause, topic) {
		t.Errorf("moontide-error header %q does not say what failed where", cause)
	}
}
