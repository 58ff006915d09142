package capture

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// asPayload hands a stream MariaDB's transactions the way go-mysql hands
// over a compressed MySQL transaction: everything after the GTID event in
// one TransactionPayloadEvent, every inner event but the last at the
// payload's start position.
type asPayload struct {
	s     *stream
	inner []*replication.BinlogEvent
	in    bool
}

func (w *asPayload) HandleEvent(be *replication.BinlogEvent) error {
	if _, ok := be.Event.(*replication.MariadbGTIDEvent); ok {
		w.in, w.inner = true, nil
		return w.s.HandleEvent(be)
	}
	if !w.in {
		return w.s.HandleEvent(be)
	}
	w.inner = append(w.inner, be)
	if _, ok := be.Event.(*replication.XIDEvent); !ok {
		return nil
	}
	w.in = false
	first := w.inner[0].Header
	start, end := first.LogPos-first.EventSize, be.Header.LogPos
	for _, e := range w.inner {
		e.Header.LogPos = start
	}
	be.Header.LogPos = end
	h := *be.Header
	h.EventType, h.EventSize = replication.TRANSACTION_PAYLOAD_EVENT, end-start
	return w.s.HandleEvent(&replication.BinlogEvent{Header: &h, Event: &replication.TransactionPayloadEvent{Events: w.inner}})
}

// TestIntegrationACompressedTransactionLosesNoRows reads transactions of
// several rows events as one compressed payload, where the rows events
// share a position: every row must come out once, with ids of its own.
func TestIntegrationACompressedTransactionLosesNoRows(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	db := testenv.Source(t)
	schema, from := idTables(ctx, t, db, "a", "b")
	execAll(ctx, t, db, "BEGIN",
		"INSERT INTO `"+schema+"`.b VALUES (1), (2)",
		"INSERT INTO `"+schema+"`.a VALUES (1)",
		"UPDATE `"+schema+"`.b SET id = 20 WHERE id = 2",
		"INSERT INTO `"+schema+"`.b VALUES (3)",
		"COMMIT")

	c, err := New(Options{DSN: sourceDSN(t), ServerID: testServerID(), Start: from, Include: []string{schema + ".*"}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs := serverCharsets(ctx, t, c.db)
	start, err := c.resolveStart(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s := newStream(c, cs, rec, start)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx, s.file = runCtx, start.file
	cfg := c.syncerConfig()
	cfg.RenderJSONAsMySQLText = true
	cfg.EventCacheCount = 1
	cfg.RowsEventDecodeFunc = s.decodeRowsHook
	cfg.SynchronousEventHandler = &asPayload{s: s}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: start.file, Pos: start.pos})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = streamer.GetEvent(runCtx) }()

	want := []string{"insert b 1", "insert b 2", "insert a 1", "update b 20", "insert b 3"}
	evs := rec.waitFor(ctx, t, "the five rows", func(evs []*event.Event) bool { return len(evs) >= len(want) })
	cancel()
	syncer.Close()
	if s.handleErr != nil && !errors.Is(s.handleErr, context.Canceled) {
		t.Fatal(s.handleErr)
	}
	var got []string
	ids := map[string]bool{}
	for i, e := range evs {
		got = append(got, e.Action.String()+" "+e.Table.Name+" "+e.Key)
		if ids[e.ID] {
			t.Errorf("id %s is not unique", e.ID)
		}
		ids[e.ID] = true
		if i == 0 {
			continue
		}
		prev := evs[i-1]
		if c, ok := prev.Mark().Compare(e.Mark()); !ok || c >= 0 {
			t.Errorf("mark of %s is not after %s's", e.ID, prev.ID)
		}
		// Rows of one statement may share a version; a later statement's
		// must have a greater one, or a sink with external versions would
		// keep the older write.
		sameStatement := prev.Order>>32 == e.Order>>32
		if prev.Version > e.Version || !sameStatement && prev.Version == e.Version {
			t.Errorf("version of %s (%d) does not grow from %s's (%d)", e.ID, e.Version, prev.ID, prev.Version)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
