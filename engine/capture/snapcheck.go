package capture

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/schema"
)

// syncerConfig is the part of a binlog dump's settings every reader of
// this capture shares.
func (c *Capturer) syncerConfig() replication.BinlogSyncerConfig {
	o := c.opts
	return replication.BinlogSyncerConfig{
		ServerID:                o.ServerID,
		Flavor:                  o.Flavor,
		Host:                    o.DSN.Host,
		Port:                    uint16(o.DSN.Port),
		User:                    o.DSN.User,
		Password:                o.DSN.Password,
		Charset:                 o.Charset,
		HeartbeatPeriod:         o.Heartbeat,
		ReadTimeout:             max(5*o.Heartbeat, 10*time.Second),
		DisableRetrySync:        true, // we reconnect at a transaction boundary ourselves
		TimestampStringLocation: time.UTC,
		VerifyChecksum:          true,
		Logger:                  slog.New(quietHandler{o.Logger.Handler()}).With("component", "go-mysql"),
		FillZeroLogPos:          o.Flavor == mysql.MariaDBFlavor,
	}
}

// Why snapshotConflict exists
//
// A history that starts afresh is a snapshot of information_schema taken
// now but recorded at the start position S, and capture applies every DDL
// statement from S on top of it. That is exact for a table the snapshot
// shows as it was at S, and for a table that the binlog after S defines
// anew with CREATE TABLE (the history takes it from the CREATE). It is
// wrong for a table that existed at S and was changed between S and the
// snapshot: the snapshot shows it after the change, so its rows before the
// change would get the wrong columns, and a renamed column the wrong name,
// with nothing in a MINIMAL table map to tell. snapshotConflict reads the
// binlog over that stretch, before capture emits anything, to find such a
// statement.

// conflict is a statement that changed a captured table between the start
// and the snapshot.
type conflict struct {
	table string
	pos   schema.Pos
	query string
}

// snapshotConflict reads the binlog from from to to and returns the first
// DDL statement that changed a captured table the stretch had not defined
// with CREATE TABLE first; nil when there is none.
func (c *Capturer) snapshotConflict(ctx context.Context, from, to startPos, cs charsets) (*conflict, error) {
	file, pos := from.file, from.pos
	end := schema.Pos{File: to.file, Pos: to.pos}
	past := func() bool { return schema.Pos{File: file, Pos: pos}.Compare(end) >= 0 }
	if past() {
		return nil, nil
	}
	cfg := c.syncerConfig()
	cfg.RowsEventDecodeFunc = func(*replication.RowsEvent, []byte) error { return nil } // rows are not needed here
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: from.file, Pos: from.pos})
	if err != nil {
		return nil, fmt.Errorf("reading the binlog from %s to check the schema snapshot: %w", from, explainServerError(err))
	}
	defined := map[string]bool{} // captured tables the stretch created before changing them
	for !past() {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the binlog at %s:%d to check the schema snapshot: %w", file, pos, explainServerError(err))
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file, pos = string(e.NextLogName), uint32(e.Position)
			continue
		case *replication.QueryEvent:
			q, _, err := cs.statement(ctx, e)
			if err != nil {
				return nil, err
			}
			if cf := c.conflictIn(q, string(e.Schema), schema.Pos{File: file, Pos: ev.Header.LogPos}, defined); cf != nil {
				return cf, nil
			}
		}
		if ev.Header.LogPos > 0 {
			pos = ev.Header.LogPos
		}
	}
	return nil, nil
}

// conflictIn is snapshotConflict's verdict on one statement q, run in
// database db, at pos.
func (c *Capturer) conflictIn(q, db string, pos schema.Pos, defined map[string]bool) *conflict {
	kind, targets := classifyQuery(q, db)
	if kind != queryDDL {
		return nil
	}
	verb := strings.ToUpper((&tokenizer{s: q}).word())
	if verb == "TRUNCATE" {
		return nil // rows go, columns stay
	}
	create := createOf(q)
	for _, t := range targets {
		switch {
		case t.database:
			// DROP DATABASE takes its tables' definitions with it;
			// CREATE and ALTER DATABASE change no existing table.
			if verb == "DROP" && c.filter.MatchSchema(t.schema) {
				return &conflict{table: t.schema + ".*", pos: pos, query: q}
			}
		case t.table == "" || !c.filter.Match(t.schema, t.table):
		case defined[t.schema+"."+t.table]:
		case create == definesTable:
			defined[t.schema+"."+t.table] = true
		case create == createsIfMissing:
			// No change if the table was there, and a table it creates
			// is as the snapshot saw it unless a later statement changes
			// it, which then conflicts. CREATE ... LIKE conflicts at
			// once: it copies another table of that moment, which the
			// snapshot may not know.
		default:
			return &conflict{table: t.schema + "." + t.table, pos: pos, query: q}
		}
	}
	return nil
}
