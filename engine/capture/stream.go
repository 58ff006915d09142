package capture

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/schema"
)

// rawRows is the body of a rows event (after its header), which the
// RowsEventDecodeFunc hook stashes in RowsEvent.Rows so that the handler
// decodes it straight into event.Values.
type rawRows []byte

// stream is the state of one capture across reconnects. Its methods run on
// go-mysql's reading goroutine (SynchronousEventHandler), one event at a
// time, so it needs no locks.
type stream struct {
	c   *Capturer
	cs  charsets
	out Output
	ctx context.Context

	// Where the binlog is being read.
	file    string
	fileSeq uint64

	// The open transaction.
	inTx   bool
	txID   string
	txGTID string
	txSeq  uint64
	// rowsEvents counts the transaction's rows events so far, whether
	// captured or not; rowsEvent is the number of the one being read.
	rowsEvents, rowsEvent uint64
	// standalone: the open transaction is one statement that commits on
	// its own (DDL, GRANT, ...), not a group ended by XID or COMMIT. From
	// MariaDB's GTID event; on MySQL until a BEGIN arrives.
	standalone bool
	inPayload  bool  // reading the events of a compressed transaction
	txTS       int64 // commit time when the server says (MySQL 8), else 0
	pending    *mysql.MariadbGTID
	// pendingMySQL is the open transaction's MySQL GTID (gno 0: none),
	// added to gtid at its commit when go-mysql does not: a dump by file
	// and position keeps no GTID set, and its XID events carry none.
	pendingMySQL mysqlGTID

	// gtid is the GTID set executed up to the last commit, or nil when
	// unknown.
	gtid mysql.GTIDSet
	// byGTID starts the dump from lastCommit.GTIDSet rather than its file
	// and position: for a resume from a stored checkpoint or a GTID start,
	// until the first commit gives an exact position on this server.
	byGTID bool

	// Table versions: by table id for the current statement, by TABLE_MAP
	// content across statements so repeated maps reuse one *event.Table.
	byID    map[uint64]*tableVersion
	byBytes map[string]*tableVersion

	// lastCommit is where to resume after a lost connection; emitted is the
	// place (see here) of the last rows or DDL event handed to out, so a
	// reconnect does not hand its rows over twice.
	lastCommit checkpoint.Position
	emitted    event.Mark
	progressed bool // an event arrived since the last (re)connect

	// connID is the server's id of the current replication connection
	// (for tests that cut it).
	connID atomic.Uint32

	// history is the schema history when the binlog lacks FULL metadata,
	// else nil.
	history *schema.History

	dec       rowDecoder
	evSlab    []event.Event
	idBuf     []byte
	handleErr error
	syncErr   error
}

func newStream(c *Capturer, cs charsets, out Output, start startPos) *stream {
	s := &stream{
		c: c, cs: cs, out: out,
		byID:    map[uint64]*tableVersion{},
		byBytes: map[string]*tableVersion{},
	}
	s.lastCommit = checkpoint.Position{File: start.file, Pos: start.pos, GTIDSet: start.gtid, Flavor: c.opts.Flavor}
	s.byGTID = start.byGTID
	if start.gtidKnown {
		if g, err := mysql.ParseGTIDSet(c.opts.Flavor, start.gtid); err == nil {
			s.gtid = g
		}
	}
	return s
}

// followServer makes sure a connection reads the server the stream was
// reading. A failover behind the same address serves other binlog files,
// where the last commit's file and position and the emitted mark mean
// nothing: the stream then resumes by GTID set and hands the rest of the
// open transaction over again (a duplicate, never a gap), and tells the
// output first, with a commit of the same place on the new server.
func (s *stream) followServer(ctx context.Context) error {
	var id uint32
	if err := s.c.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return fmt.Errorf("reading the source's server_id: %w", err)
	}
	was := s.lastCommit.ServerID
	if was == 0 || id == was {
		s.lastCommit.ServerID = id
		return nil
	}
	if s.lastCommit.GTIDSet == "" {
		return fmt.Errorf("the source %s is now server_id %d, not %d, and capture has no GTID set to find its place there: start it again from a position of this server",
			s.c.opts.DSN, id, was)
	}
	s.c.log.Warn("the source is another server than before; resuming by GTID set, the open transaction is handed over again",
		"server_id", id, "was", was, "gtid_set", s.lastCommit.GTIDSet)
	s.lastCommit.ServerID = id
	s.emitted = event.Mark{}
	s.byGTID = true
	if err := s.out.Commit(ctx, s.lastCommit); err != nil {
		s.handleErr = err // the output's answer, not an outage
		return err
	}
	return nil
}

// resumePos is where the next connection starts.
func (s *stream) resumePos() checkpoint.Position { return s.lastCommit }

// transient reports whether the last run ended by a lost connection.
func (s *stream) transient(err error) bool {
	if s.handleErr != nil {
		return false
	}
	return isTransient(err)
}

// run reads the binlog from the last commit until ctx is done or an error.
func (s *stream) run(ctx context.Context) error {
	s.ctx = ctx
	s.handleErr = nil
	s.progressed = false
	s.inTx = false
	s.pending, s.pendingMySQL = nil, mysqlGTID{}
	clear(s.byID)
	if err := s.followServer(ctx); err != nil {
		return err
	}
	o := s.c.opts
	cfg := s.c.syncerConfig()
	cfg.RenderJSONAsMySQLText = true
	cfg.EventCacheCount = 1 // unused: events go to HandleEvent synchronously
	cfg.RowsEventDecodeFunc = s.decodeRowsHook
	cfg.SynchronousEventHandler = s
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	start := s.lastCommit
	var streamer *replication.BinlogStreamer
	var err error
	if s.byGTID || start.File == "" {
		gset, perr := mysql.ParseGTIDSet(o.Flavor, start.GTIDSet)
		if perr != nil {
			return fmt.Errorf("parsing the GTID set %q to start from: %w", start.GTIDSet, perr)
		}
		s.gtid = gset.Clone()
		streamer, err = syncer.StartSyncGTID(gset)
	} else {
		s.file, s.fileSeq = start.File, event.FileSeq(start.File)
		streamer, err = syncer.StartSync(mysql.Position{Name: start.File, Pos: start.Pos})
	}
	if err != nil {
		return s.explain(ctx, fmt.Errorf("starting the binlog dump from %s: %w", start, explainServerError(err)))
	}
	s.connID.Store(syncer.LastConnectionID())
	_, err = streamer.GetEvent(ctx) // returns only when the stream ends: events go to HandleEvent
	// Close waits for go-mysql's goroutine, which runs HandleEvent, to end:
	// only then is the stream's state ours to read.
	syncer.Close()
	if s.handleErr != nil {
		return s.handleErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s.explain(ctx, fmt.Errorf("reading the binlog at %s:%d: %w", s.file, s.emittedPosOr(), explainServerError(err)))
}

func (s *stream) emittedPosOr() uint32 {
	if s.emitted.File == s.file {
		return s.emitted.Pos
	}
	return s.lastCommit.Pos
}

// explain turns the server's "binlog purged" answer into advice.
func (s *stream) explain(ctx context.Context, err error) error {
	var myErr *mysql.MyError
	if errors.As(err, &myErr) && myErr.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		files, lerr := s.c.binaryLogs(ctx)
		if lerr == nil {
			what := s.lastCommit.File
			if s.lastCommit.GTIDSet != "" {
				what = "holding GTID " + s.lastCommit.GTIDSet
			}
			return fmt.Errorf("%w (server said: %v)", purgedError(what, files), myErr)
		}
	}
	return err
}

// decodeRowsHook replaces go-mysql's row decoding: it only reads the rows
// event header (which resolves the table map) and keeps the body for
// HandleEvent, which decodes it straight into event.Values. For MySQL
// tables with binary JSON columns, go-mysql also decodes the rows, so its
// JSON renderer can be reused for those columns.
func (s *stream) decodeRowsHook(re *replication.RowsEvent, data []byte) error {
	pos, err := re.DecodeHeader(data)
	if err != nil {
		return err
	}
	var goRows [][]any
	if s.c.opts.Flavor == mysql.MySQLFlavor && re.Table.JsonColumnCount() > 0 {
		if err := re.DecodeData(pos, data); err != nil {
			return err
		}
		goRows = re.Rows
	}
	re.Rows = append(goRows, []any{rawRows(data[pos:])})
	return nil
}

// HandleEvent is called by go-mysql for every binlog event, in order.
func (s *stream) HandleEvent(be *replication.BinlogEvent) error {
	if err := s.handle(be); err != nil {
		s.handleErr = err
		return err
	}
	return nil
}

func (s *stream) handle(be *replication.BinlogEvent) error {
	ctx := s.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	s.progressed = true
	h := be.Header
	switch ev := be.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(ev.NextLogName)
		s.fileSeq = event.FileSeq(s.file)
		if !s.inTx && s.lastCommit.File == "" {
			// Started from a GTID: the fake rotate names the file.
			s.lastCommit.File, s.lastCommit.Pos = s.file, uint32(ev.Position)
		}
	case *replication.MariadbGTIDListEvent:
		if s.gtid == nil && !s.inTx && len(ev.GTIDs) > 0 {
			set := &mysql.MariadbGTIDSet{Sets: map[uint32]*mysql.MariadbGTID{}}
			for i := range ev.GTIDs {
				if err := set.AddSet(&ev.GTIDs[i]); err != nil {
					return fmt.Errorf("reading the GTID list at %s:%d: %w", s.file, h.LogPos, err)
				}
			}
			s.gtid = set
		}
	case *replication.MariadbGTIDEvent:
		g := ev.GTID
		s.begin(h, g.String())
		s.standalone = ev.IsStandalone()
		s.pending = &g
	case *replication.GTIDEvent:
		s.beginMySQL(h, ev)
	case *replication.GtidTaggedLogEvent:
		s.beginMySQL(h, &ev.GTIDEvent)
	case *replication.QueryEvent:
		return s.query(ctx, h, ev)
	case *replication.ExecuteLoadQueryEvent:
		// LOAD DATA written as a statement: its rows are not in the binlog.
		q, ok := loadQuery(be.RawData)
		if !ok {
			return fmt.Errorf("capture at %s:%d: the binlog holds a LOAD DATA statement capture cannot read; %s",
				s.file, h.LogPos, statementChangeAdvice)
		}
		text, vars, err := s.cs.statement(ctx, q)
		if err != nil {
			return fmt.Errorf("capture at %s:%d: %w", s.file, h.LogPos, err)
		}
		return s.refuseStatementChange(h, q, text, vars)
	case *replication.XIDEvent:
		return s.commit(ctx, h, ev.GSet)
	case *replication.TableMapEvent:
		return s.tableMap(ctx, be, ev)
	case *replication.RowsEvent:
		// Counted before the filter: Event.Order must not depend on it.
		s.rowsEvent = s.rowsEvents
		s.rowsEvents++
		return s.rows(ctx, h, ev)
	case *replication.TransactionPayloadEvent:
		// A compressed MySQL transaction: go-mysql gives every inner event
		// but the last the payload's start position.
		s.inPayload = true
		defer func() { s.inPayload = false }()
		for _, inner := range ev.Events {
			if err := s.handle(inner); err != nil {
				return err
			}
		}
	case *replication.HeartbeatEvent:
		if !s.inTx {
			return s.out.Heartbeat(ctx, time.Now().UnixMilli())
		}
	}
	return nil
}

// begin opens a transaction whose id is gtid, or its start position.
func (s *stream) begin(h *replication.EventHeader, gtid string) {
	s.inTx = true
	s.standalone = true
	s.txSeq = 0
	s.rowsEvents = 0
	s.txTS = 0
	s.txGTID = gtid
	if gtid != "" {
		s.txID = gtid
	} else {
		s.txID = s.file + ":" + strconv.FormatUint(uint64(h.LogPos-h.EventSize), 10)
	}
}

// mysqlGTID is a MySQL transaction's GTID.
type mysqlGTID struct {
	sid uuid.UUID
	tag mysql.Tag
	gno int64
}

func (s *stream) beginMySQL(h *replication.EventHeader, ev *replication.GTIDEvent) {
	var g mysqlGTID
	gtid := ""
	if sid, err := uuid.FromBytes(ev.SID); err == nil && ev.GNO != 0 { // anonymous transactions have GNO 0
		g = mysqlGTID{sid: sid, tag: ev.Tag, gno: ev.GNO}
		gtid = sid.String() + ":"
		if tag := ev.Tag.String(); tag != "" {
			gtid += tag + ":"
		}
		gtid += strconv.FormatInt(ev.GNO, 10)
	}
	s.begin(h, gtid)
	s.pendingMySQL = g
	if ev.ImmediateCommitTimestamp != 0 {
		s.txTS = int64(ev.ImmediateCommitTimestamp / 1000)
	}
}

// query handles BEGIN, COMMIT, ROLLBACK and DDL statements, and refuses a
// row change written as a statement that may touch a captured table.
func (s *stream) query(ctx context.Context, h *replication.EventHeader, ev *replication.QueryEvent) error {
	q, vars, err := s.cs.statement(ctx, ev)
	if err != nil {
		return fmt.Errorf("capture at %s:%d: %w", s.file, h.LogPos, err)
	}
	kind, targets := classifyQuery(q, string(ev.Schema))
	if kind == queryDML {
		if err := s.refuseStatementChange(h, ev, q, vars); err != nil {
			return err
		}
	}
	switch kind {
	case queryBegin:
		if !s.inTx {
			s.begin(h, "")
		}
		s.standalone = false
		return nil
	case queryCommit, queryRollback:
		return s.commit(ctx, h, ev.GSet)
	case queryDDL:
		if !s.inTx {
			s.begin(h, "")
		}
		if s.history != nil {
			// Saved before the statement's Commit, so a saved checkpoint
			// is never ahead of its schema.
			if err := s.followDDL(ctx, h, ev, q, vars, targets); err != nil {
				return err
			}
		}
		if err := s.ddl(ctx, h, q, string(ev.Schema), targets); err != nil {
			return err
		}
		if !s.standalone || opensTransaction(q) {
			// CREATE TABLE ... SELECT: the rows and the commit follow in
			// the same transaction (MariaDB's GTID event says so; MySQL
			// 8.0.21+ writes CREATE TABLE ... START TRANSACTION).
			return nil
		}
		return s.commit(ctx, h, ev.GSet)
	default:
		if !s.inTx {
			s.begin(h, "")
		}
		if s.standalone {
			// A statement that is its own transaction (GRANT, ANALYZE
			// TABLE, ...) still moves the resume point past itself.
			return s.commit(ctx, h, ev.GSet)
		}
		return nil
	}
}

// ddl emits one ddl event per captured table the statement names (one for
// the schema when it names none) and forgets cached table versions, so the
// next TABLE_MAP is read afresh.
func (s *stream) ddl(ctx context.Context, h *replication.EventHeader, q, schema string, targets []ddlTarget) error {
	clear(s.byBytes)
	s.rowsEvent = 0 // the statement has a position of its own; Order is the target's index
	if s.skip(h) {
		return nil
	}
	if len(targets) == 0 {
		targets = []ddlTarget{{schema: schema}}
	}
	emitted := map[ddlTarget]bool{}
	for i, t := range targets {
		if emitted[t] {
			continue
		}
		emitted[t] = true
		if t.table == "" && !s.c.filter.MatchSchema(t.schema) || t.table != "" && !s.c.filter.Match(t.schema, t.table) {
			continue
		}
		tbl := event.NewTable(t.schema, t.table, nil, nil)
		e := s.newEvent()
		*e = event.Event{
			Action:    event.DDL,
			Table:     tbl,
			Statement: q,
		}
		s.fill(e, h, i)
		if err := s.out.Event(ctx, e); err != nil {
			return err
		}
	}
	s.markEmitted(h)
	return nil
}

// followDDL applies a DDL statement to the schema history and saves the
// history when it changed. A statement the history cannot follow is an
// error when it concerns a captured table (its rows could not be decoded
// right), and a warning otherwise. Every table counts, captured or not: a
// RENAME can make an uncaptured table a captured one.
func (s *stream) followDDL(ctx context.Context, h *replication.EventHeader, ev *replication.QueryEvent, q string, vars statusVars, targets []ddlTarget) error {
	relevant := false
	for _, t := range targets {
		relevant = relevant || t.table != "" || t.database
	}
	if !relevant {
		return nil // views, routines, triggers, events
	}
	changed, err := s.history.Apply(schema.DDL{
		Pos: schema.Pos{File: s.file, Pos: h.LogPos}, Schema: string(ev.Schema), Query: q,
		SQLMode: vars.sqlMode, ServerCollation: vars.serverCollation,
	})
	if err != nil {
		var names []schema.TableName
		var ae *schema.ApplyError
		if errors.As(err, &ae) {
			names = ae.Tables
		}
		for _, t := range targets {
			names = append(names, schema.TableName{Schema: t.schema, Table: t.table})
		}
		for _, n := range names {
			if n.Table != "" && s.c.filter.Match(n.Schema, n.Table) {
				return fmt.Errorf("capture %s at %s:%d: the schema history cannot follow the statement %q: %w; "+
					"without binlog_row_metadata=FULL capture needs it to know the table's columns: set binlog_row_metadata=FULL on the server, or start from a position after this statement",
					n, s.file, h.LogPos, schema.Abbreviate(q), err)
			}
		}
		s.c.log.Warn("schema history: a DDL statement about no captured table could not be followed; tables it names are unknown from here on",
			"pos", fmt.Sprintf("%s:%d", s.file, h.LogPos), "statement", schema.Abbreviate(q), "err", err)
	}
	if changed && !utf8.ValidString(q) {
		// It is not text of its client's charset that the server converts
		// to Unicode (statement).
		cs, _ := s.cs.lookup(vars.clientCollation)
		s.c.log.Warn("schema history: a DDL statement that capture could not decode from its client's charset was read as bytes; column names and ENUM or SET labels in it that are not ASCII may be misread",
			"pos", fmt.Sprintf("%s:%d", s.file, h.LogPos), "charset", cs.name, "statement", schema.Abbreviate(q))
	}
	if changed && s.c.opts.SchemaHistory != nil {
		return saveHistory(ctx, s.c.opts.SchemaHistory, s.history)
	}
	return nil
}

// refuseStatementChange stops capture at a row change the binlog holds as
// an SQL statement (a session with binlog_format=STATEMENT or MIXED, or
// the DELETE a server writes for a MEMORY table emptied by its restart),
// when it may change a captured table: which rows it changed is not in the
// binlog, and going on would lose them without a word.
func (s *stream) refuseStatementChange(h *replication.EventHeader, ev *replication.QueryEvent, q string, vars statusVars) error {
	tables, _, err := schema.WrittenTables(q, string(ev.Schema), vars.sqlMode)
	if err != nil {
		return fmt.Errorf("capture at %s:%d: the binlog holds a row change as an SQL statement whose tables capture cannot tell (%v): %s; %s",
			s.file, h.LogPos, err, schema.Abbreviate(q), statementChangeAdvice)
	}
	for _, t := range tables {
		if s.c.filter.Match(t.Schema, t.Table) {
			return fmt.Errorf("capture %s.%s at %s:%d: the binlog holds a row change as an SQL statement, not as rows: %s; %s",
				t.Schema, t.Table, s.file, h.LogPos, schema.Abbreviate(q), statementChangeAdvice)
		}
	}
	return nil
}

// statementChangeAdvice ends the error of refuseStatementChange.
const statementChangeAdvice = "capture cannot know which rows changed, so it stops here rather than lose them. " +
	"Have every session write binlog_format=ROW (SET SESSION binlog_format overrides the server's), " +
	"apply this statement's effect downstream, and start capture after its transaction"

// commit ends the open transaction and tells the output where to resume.
func (s *stream) commit(ctx context.Context, h *replication.EventHeader, gset mysql.GTIDSet) error {
	if s.pending != nil {
		if s.gtid == nil {
			// First GTID seen without a known starting set: the set is
			// unknown until the next GTID list, but MariaDB positions are
			// per domain, so this GTID alone is not the whole state.
		} else if m, ok := s.gtid.(*mysql.MariadbGTIDSet); ok {
			if err := m.AddSet(s.pending); err != nil {
				return fmt.Errorf("tracking GTID %s at %s:%d: %w", s.pending, s.file, h.LogPos, err)
			}
		}
		s.pending = nil
	}
	if g := s.pendingMySQL; g.gno != 0 && gset == nil {
		if m, ok := s.gtid.(*mysql.MysqlGTIDSet); ok {
			m.AddGTIDWithTag(g.sid, g.tag, g.gno)
		}
	}
	s.pendingMySQL = mysqlGTID{}
	if gset != nil && s.c.opts.Flavor == mysql.MySQLFlavor {
		s.gtid = gset
	}
	p := checkpoint.Position{File: s.file, Pos: h.LogPos, Flavor: s.c.opts.Flavor, TS: s.txTS, ServerID: s.lastCommit.ServerID}
	if p.TS == 0 {
		p.TS = int64(h.Timestamp) * 1000
	}
	if s.gtid != nil {
		p.GTIDSet = s.gtid.String()
	}
	s.inTx = false
	s.lastCommit = p
	s.byGTID = false
	// Only a later event handed over makes a commit old news: a DDL
	// statement's own events come from the commit's position.
	end := s.here(h)
	end.Order = math.MaxUint64
	if end.AtOrBefore(s.emitted) {
		return nil
	}
	return s.out.Commit(ctx, p)
}

// skip reports whether the event at h was already handed over before a
// reconnect. The rows event's number tells apart the rows events of a
// compressed transaction, which share one position.
func (s *stream) skip(h *replication.EventHeader) bool {
	return s.here(h).AtOrBefore(s.emitted)
}

func (s *stream) markEmitted(h *replication.EventHeader) { s.emitted = s.here(h) }

// here is the place of the event at h: its position and, for a rows event,
// its number in the transaction.
func (s *stream) here(h *replication.EventHeader) event.Mark {
	return event.Mark{File: s.file, Pos: h.LogPos, Order: s.rowsEvent << 32}
}

// tableMap resolves a TABLE_MAP to a table version, reusing the previous
// one when the map's bytes (after the table id) are identical.
func (s *stream) tableMap(ctx context.Context, be *replication.BinlogEvent, tm *replication.TableMapEvent) error {
	key := tableMapKey(be)
	tv, ok := s.byBytes[string(key)]
	if !ok {
		schemaName, name := string(tm.Schema), string(tm.Table)
		included := s.c.filter.Match(schemaName, name)
		if included {
			var def *schema.Table
			if s.history != nil && len(tm.ColumnName) == 0 {
				// No names in the map: the definition comes from the
				// schema history. (A map with names, from a time the
				// server wrote FULL metadata, describes itself.)
				var err error
				if def, err = s.history.Lookup(schemaName, name); err != nil {
					return fmt.Errorf("capture %s.%s at %s:%d: %w", schemaName, name, s.file, be.Header.LogPos, err)
				}
			}
			if err := s.cs.prepare(ctx, collationsOf(tm, def)...); err != nil {
				return fmt.Errorf("capture %s.%s at %s:%d: %w", schemaName, name, s.file, be.Header.LogPos, err)
			}
			var err error
			tv, err = buildTable(tm, s.cs, s.c.opts.Flavor, def)
			if err != nil {
				var mismatch *defMismatchError
				if errors.As(err, &mismatch) {
					err = fmt.Errorf("%w; the schema history is out of step with the binlog (did DDL run between the start position and the snapshot at start?): set binlog_row_metadata=FULL on the server, or start from a later position", err)
				}
				return fmt.Errorf("capture %s.%s at %s:%d: %w", schemaName, name, s.file, be.Header.LogPos, err)
			}
			if len(tv.table.PK) == 0 && len(tm.PrimaryKey) == 0 {
				s.c.log.Debug("table has no primary key: its events share the empty key", "table", schemaName+"."+name)
			}
		} else {
			tv = &tableVersion{table: event.NewTable(schemaName, name, nil, nil)}
		}
		tv.included = included
		if len(s.byBytes) >= 4096 {
			clear(s.byBytes)
		}
		s.byBytes[string(key)] = tv
	}
	s.byID[tm.TableID] = tv
	return nil
}

// tableMapKey is the part of a TABLE_MAP event that describes the table:
// its body after the table id, without the checksum.
func tableMapKey(be *replication.BinlogEvent) []byte {
	raw := be.RawData
	body := raw[replication.EventHeaderSize:]
	if n := len(body) - replication.BinlogChecksumLength; n >= 8 {
		body = body[:n]
	}
	// Skip the 6-byte table id (4 bytes on ancient servers, whose maps
	// we then key with two id bytes included: harmless, only less reuse).
	if len(body) > 6 {
		body = body[6:]
	}
	return body
}

// rows emits one event per row of a rows event.
func (s *stream) rows(ctx context.Context, h *replication.EventHeader, re *replication.RowsEvent) error {
	tv := s.byID[re.TableID]
	if tv == nil {
		return fmt.Errorf("capture at %s:%d: rows for table id %d without its TABLE_MAP (did the start position fall inside a transaction?)", s.file, h.LogPos, re.TableID)
	}
	if !tv.included {
		return nil
	}
	if !s.inTx {
		s.begin(h, "")
	}
	if len(re.Rows) == 0 {
		return fmt.Errorf("capture %s.%s at %s:%d: rows event was not decoded", tv.table.Schema, tv.table.Name, s.file, h.LogPos)
	}
	raw, ok := re.Rows[len(re.Rows)-1][0].(rawRows)
	if !ok {
		return fmt.Errorf("capture %s.%s at %s:%d: rows event was decoded by go-mysql, not capture", tv.table.Schema, tv.table.Name, s.file, h.LogPos)
	}
	goRows := re.Rows[:len(re.Rows)-1]
	data := []byte(raw)
	switch h.EventType {
	case replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		var err error
		if data, err = mysql.DecompressMariadbData(data); err != nil {
			return fmt.Errorf("capture %s.%s at %s:%d: decompressing rows: %w", tv.table.Schema, tv.table.Name, s.file, h.LogPos, err)
		}
	case replication.PARTIAL_UPDATE_ROWS_EVENT:
		return fmt.Errorf("capture %s.%s at %s:%d: partial JSON updates do not carry whole values; set binlog_row_value_options=''", tv.table.Schema, tv.table.Name, s.file, h.LogPos)
	}
	var action event.Action
	switch re.Type() {
	case replication.EnumRowsEventTypeInsert:
		action = event.Insert
	case replication.EnumRowsEventTypeUpdate:
		action = event.Update
	case replication.EnumRowsEventTypeDelete:
		action = event.Delete
	default:
		return fmt.Errorf("capture %s.%s at %s:%d: unknown rows event type %s", tv.table.Schema, tv.table.Name, s.file, h.LogPos, h.EventType)
	}
	if int(re.ColumnCount) != len(tv.cols) {
		return fmt.Errorf("capture %s.%s at %s:%d: rows event has %d columns, its TABLE_MAP %d", tv.table.Schema, tv.table.Name, s.file, h.LogPos, re.ColumnCount, len(tv.cols))
	}
	skip := s.skip(h)
	pos, img := 0, 0
	for idx := 0; pos < len(data); idx++ {
		var before, after []event.Value
		var n int
		var err error
		image := func(bitmap []byte) ([]event.Value, error) {
			var jsonRow []any
			if img < len(goRows) {
				jsonRow = goRows[img]
			}
			img++
			row, used, err := s.dec.decodeImage(tv, bitmap, data[pos:], jsonRow)
			n = used
			return row, err
		}
		switch action {
		case event.Insert:
			after, err = image(re.ColumnBitmap1)
			pos += n
		case event.Delete:
			before, err = image(re.ColumnBitmap1)
			pos += n
		case event.Update:
			if before, err = image(re.ColumnBitmap1); err == nil {
				pos += n
				after, err = image(re.ColumnBitmap2)
				pos += n
			}
		}
		if err != nil {
			return fmt.Errorf("capture %s.%s at %s:%d: row %d: %w", tv.table.Schema, tv.table.Name, s.file, h.LogPos, idx, err)
		}
		if skip {
			s.txSeq++
			continue
		}
		e := s.newEvent()
		*e = event.Event{Action: action, Table: tv.table, Before: before, After: after}
		s.fill(e, h, idx)
		if action == event.Delete {
			e.Key = event.MakeKey(tv.table, before)
		} else {
			e.Key = event.MakeKey(tv.table, after)
		}
		if err := s.out.Event(ctx, e); err != nil {
			return err
		}
	}
	if !skip {
		s.markEmitted(h)
	}
	return nil
}

// fill sets the fields every event of the rows event at h shares, and the
// row's own id, version and sequence.
func (s *stream) fill(e *event.Event, h *replication.EventHeader, idx int) {
	b := append(s.idBuf[:0], s.file...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(h.LogPos), 10)
	b = append(b, ':')
	versionRow := idx
	if s.inPayload {
		// The rows events of a compressed transaction share a position:
		// the id names the rows event too, and the version grows with it
		// (its rows, distinct rows of one statement, share one version).
		b = strconv.AppendUint(b, s.rowsEvent, 10)
		b = append(b, ':')
		versionRow = int(min(s.rowsEvent, math.MaxInt32))
	}
	b = strconv.AppendInt(b, int64(idx), 10)
	s.idBuf = b
	e.ID = string(b)
	e.TS = s.txTS
	if e.TS == 0 {
		e.TS = int64(h.Timestamp) * 1000
	}
	e.Pos = event.Position{File: s.file, Pos: h.LogPos, GTID: s.txGTID}
	e.Order = s.rowsEvent<<32 | uint64(idx)
	e.Version = event.MakeVersion(s.fileSeq, h.LogPos, versionRow)
	e.Tx = event.Tx{ID: s.txID, Seq: s.txSeq}
	s.txSeq++
}

// newEvent returns a zeroed Event from a slab: the output may keep it.
func (s *stream) newEvent() *event.Event {
	if len(s.evSlab) == 0 {
		s.evSlab = make([]event.Event, 64)
	}
	e := &s.evSlab[0]
	s.evSlab = s.evSlab[1:]
	return e
}
