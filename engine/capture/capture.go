package capture

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql" // also registers the driver behind the metadata connection
	"github.com/prometheus/client_golang/prometheus"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/schema"
)

// Options configure a capture. The zero value of every optional field is a
// usable default.
type Options struct {
	// DSN is the source server. The user needs REPLICATION SLAVE and
	// REPLICATION CLIENT (MariaDB ≥ 10.5: BINLOG MONITOR) and SELECT on
	// information_schema. Required.
	DSN config.MySQLDSN
	// Flavor is "mysql" or "mariadb"; it decides the GTID syntax and a few
	// binlog events. The default is "mariadb".
	Flavor string
	// ServerID is the replica id announced to the server; it must be unique
	// among the server's replicas. Required (0 is refused by the server).
	ServerID uint32
	// Start is where to begin: "" (the stored checkpoint, else latest),
	// "checkpoint" (the stored checkpoint, and fail without one),
	// "earliest" (the oldest binlog still on the server), "latest",
	// "FILE:POS", or a GTID set. See config.ParseStart.
	Start string
	// Include and Exclude are schema.table patterns ('*' in either part).
	// Empty Include means every table.
	Include, Exclude []string
	// Heartbeat is how often an idle server sends a heartbeat; it keeps lag
	// honest and lets capture notice a dead connection. The default is 1s.
	Heartbeat time.Duration
	// Charset of the replication connection. The default is utf8mb4.
	Charset string
	// Logger receives capture's logs. The default is slog.Default().
	Logger *slog.Logger
	// CheckpointStore is read once at start to resume. Capture never saves
	// to it: the Output does, once the events before a Commit are
	// delivered. It may be nil when Start does not need it.
	CheckpointStore checkpoint.Store
	// MaxBackoff caps the wait between reconnect attempts after a lost
	// connection; the wait starts at 500ms and doubles. The default is 30s.
	MaxBackoff time.Duration
	// SchemaHistory keeps the schema history capture follows when the
	// server does not write binlog_row_metadata=FULL (see package schema):
	// read once at start for the start position, and saved whenever a DDL
	// statement changes it, before that statement's Commit reaches the
	// Output. Every checkpoint store implements it; give the one that is
	// the CheckpointStore, so the history stays with the position it
	// belongs to. Nil keeps the history in memory only, so every start
	// takes a fresh snapshot of information_schema as the schema at the
	// start position. Unused when the binlog has FULL metadata.
	SchemaHistory SchemaHistoryStore
}

// SchemaHistoryStore keeps capture's schema history, an opaque blob, next to
// the checkpoint. The checkpoint package's stores implement it.
type SchemaHistoryStore interface {
	// LoadSchemaHistory returns the saved history, or an error wrapping
	// checkpoint.ErrNotFound when none was saved.
	LoadSchemaHistory(ctx context.Context) ([]byte, error)
	// SaveSchemaHistory replaces the saved history durably.
	SaveSchemaHistory(ctx context.Context, data []byte) error
}

func (o *Options) defaults() error {
	if o.Flavor == "" {
		o.Flavor = mysql.MariaDBFlavor
	}
	if o.Flavor != mysql.MariaDBFlavor && o.Flavor != mysql.MySQLFlavor {
		return fmt.Errorf("flavor must be mysql or mariadb, not %q", o.Flavor)
	}
	if o.ServerID == 0 {
		return errors.New("server_id must not be 0: the server refuses replicas with id 0")
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.Charset == "" {
		o.Charset = "utf8mb4"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	return nil
}

// Run captures until ctx is done or a non-transient error occurs, calling
// out for every row change, DDL statement, transaction end and heartbeat,
// in binlog order and from one goroutine. A lost connection is retried with
// backoff from the last transaction boundary; events already handed to out
// are not handed over again. Run returns nil when ctx is done.
func Run(ctx context.Context, opts Options, out Output) error {
	c, err := New(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Run(ctx, out)
}

// Capturer reads one source. Build it with New, call Run once, then Close.
type Capturer struct {
	opts   Options
	log    *slog.Logger
	db     *sql.DB
	filter *Filter
	cur    atomic.Pointer[stream] // the running stream, for tests
}

// New checks the options and opens the metadata connection. It does not
// talk to the server yet; Run does.
func New(opts Options) (*Capturer, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("configuring capture: %w", err)
	}
	if _, err := config.ParseStart(opts.Flavor, opts.Start); err != nil {
		return nil, fmt.Errorf("configuring capture: start: %w", err)
	}
	f, err := NewFilter(opts.Include, opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("configuring capture: %w", err)
	}
	dsn := opts.DSN
	dsn.Database = ""
	db, err := sql.Open("mysql", dsn.DriverDSN())
	if err != nil {
		return nil, fmt.Errorf("opening source %s: %w", opts.DSN, err)
	}
	db.SetMaxOpenConns(2)
	return &Capturer{opts: opts, log: opts.Logger.With("component", "capture"), db: db, filter: f}, nil
}

// Close releases the metadata connection.
func (c *Capturer) Close() error { return c.db.Close() }

// Run captures until ctx is done or a non-transient error occurs; see the
// package function Run.
func (c *Capturer) Run(ctx context.Context, out Output) error {
	binlog, err := c.checkServer(ctx)
	if err != nil {
		return err
	}
	server, err := schema.ServerOptions(ctx, c.db, c.opts.Flavor)
	if err != nil {
		if !binlog.fullMetadata {
			return fmt.Errorf("reading the schema of %s: %w", c.opts.DSN, err)
		}
		c.log.Warn("reading the server's collations failed; using the built-in list", "err", err)
		server.Collations = schema.BuiltinCollations()
	}
	// Statements capture parses (DDL, statement-written row changes) may
	// name any of the server's charsets and collations.
	server.Collations.TeachParser()
	cs := newCharsets(server.Collations, c.db, c.log)
	start, err := c.resolveStart(ctx)
	if err != nil {
		return err
	}
	var history *schema.History
	if !binlog.fullMetadata {
		if history, err = c.openHistory(ctx, server, cs, start); err != nil {
			return err
		}
	}
	c.log.Info("capture starting", "source", c.opts.DSN.String(), "from", start.String())
	s := newStream(c, cs, &metered{out: out, counters: map[meterKey]prometheus.Counter{}}, start)
	s.history = history
	s.lastCommit.ServerID = binlog.serverID
	c.cur.Store(s)
	if !s.lastCommit.IsZero() {
		// See Output.Commit: the start is a boundary before any event.
		if err := out.Commit(ctx, s.lastCommit); err != nil {
			return err
		}
	}
	backoff := 500 * time.Millisecond
	for {
		err := s.run(ctx)
		if s.handleErr != nil && !errors.Is(s.handleErr, context.Canceled) && !errors.Is(s.handleErr, context.DeadlineExceeded) {
			// The output or the decoder failed: that is the answer, even
			// when ctx ended meanwhile.
			return s.handleErr
		}
		if ctx.Err() != nil {
			return nil
		}
		if !s.transient(err) {
			return err
		}
		if s.progressed {
			backoff = 500 * time.Millisecond
		}
		metricReconnects.Inc()
		c.log.Warn("binlog connection lost; reconnecting", "err", err, "resume", s.resumePos().String(), "wait", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

// checkServer verifies the server writes a binlog capture can read, with a
// message that says what to change when it does not.
func (c *Capturer) checkServer(ctx context.Context) (binlogSettings, error) {
	vars := map[string]string{}
	rows, err := c.db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin','binlog_format','binlog_row_image','binlog_row_metadata','binlog_row_value_options','gtid_mode','server_id')")
	if err != nil {
		return binlogSettings{}, fmt.Errorf("connecting to source %s: %w", c.opts.DSN, explainServerError(err))
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return binlogSettings{}, fmt.Errorf("reading server variables of %s: %w", c.opts.DSN, err)
		}
		vars[strings.ToLower(k)] = strings.ToUpper(v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return binlogSettings{}, fmt.Errorf("reading server variables of %s: %w", c.opts.DSN, err)
	}
	b, err := checkVariables(vars)
	if err != nil {
		return b, fmt.Errorf("source %s %w", c.opts.DSN, err)
	}
	if b.rowImage != "FULL" {
		c.log.Warn("binlog_row_image is not FULL: row images lack unchanged columns, which events carry as missing", "binlog_row_image", b.rowImage)
	}
	if !b.fullMetadata {
		c.log.Info("binlog_row_metadata is not FULL: the binlog lacks column names, ENUM/SET labels and primary keys, so capture follows them in a schema history built from information_schema and the DDL it reads (binlog_row_metadata=FULL needs none)",
			"binlog_row_metadata", b.rowMetadata)
	}
	// SHOW BINARY LOGS needs REPLICATION CLIENT (BINLOG MONITOR on MariaDB
	// 10.5+): the same right the dump needs, checked before we rely on it.
	if _, err := c.binaryLogs(ctx); err != nil {
		return b, err
	}
	return b, nil
}

// binlogSettings is what capture needs to know of the server's binlog.
type binlogSettings struct {
	rowImage    string // binlog_row_image
	rowMetadata string // binlog_row_metadata, "" on servers without it
	// fullMetadata: TABLE_MAP events carry column names, signedness,
	// ENUM/SET labels, collations and the primary key, so capture needs no
	// schema history.
	fullMetadata bool
	// serverID is the source's server_id, 0 if unknown; positions carry
	// it (checkpoint.Position.ServerID).
	serverID uint32
}

// checkVariables decides from the server's global variables (lower-case
// names, upper-case values) whether capture can read its binlog. Its error
// follows "source <dsn> " and says what to change.
func checkVariables(vars map[string]string) (binlogSettings, error) {
	b := binlogSettings{rowImage: vars["binlog_row_image"], rowMetadata: vars["binlog_row_metadata"]}
	if b.rowImage == "" {
		b.rowImage = "FULL" // servers before binlog_row_image always wrote full images
	}
	b.fullMetadata = b.rowMetadata == "FULL"
	if id, err := strconv.ParseUint(vars["server_id"], 10, 32); err == nil {
		b.serverID = uint32(id)
	}
	if vars["log_bin"] != "ON" && vars["log_bin"] != "1" {
		return b, errors.New("has binary logging off: start it with log_bin=ON (and binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL)")
	}
	if vars["binlog_format"] != "ROW" {
		return b, fmt.Errorf("has binlog_format=%s: capture needs ROW (SET GLOBAL binlog_format='ROW' and put it in the server config; sessions already open keep the old format)", vars["binlog_format"])
	}
	if v := vars["binlog_row_value_options"]; strings.Contains(v, "PARTIAL_JSON") {
		return b, fmt.Errorf("has binlog_row_value_options=%s: partial JSON updates do not carry whole values; set it to ''", v)
	}
	return b, nil
}

// openHistory returns the schema history in force at start: the saved one
// rewound to start when it reaches that far, else a snapshot of
// information_schema taken now and recorded at start (and saved). opts are
// the server's (schema.ServerOptions), cs its charsets.
func (c *Capturer) openHistory(ctx context.Context, opts schema.Options, cs charsets, start startPos) (*schema.History, error) {
	at := schema.Pos{File: start.file, Pos: start.pos}
	store := c.opts.SchemaHistory
	if store != nil && start.file != "" {
		h, err := c.loadHistory(ctx, store, opts, at)
		if err != nil || h != nil {
			return h, err
		}
	}
	h, err := schema.Snapshot(ctx, c.db, opts, at)
	if err != nil {
		return nil, fmt.Errorf("reading the schema of %s: %w", c.opts.DSN, err)
	}
	if err := c.checkSnapshot(ctx, start, cs); err != nil {
		return nil, err
	}
	c.log.Info("schema history: took a snapshot of information_schema as the schema at the start position; no DDL since changed a captured table",
		"pos", at.String(), "tables", len(h.Tables()))
	if store != nil {
		if err := saveHistory(ctx, store, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// checkSnapshot refuses a snapshot just taken as the schema at start when
// a DDL statement since start changed a captured table (see
// snapshotConflict). A start by GTID alone has no position to read from
// and is not checked.
func (c *Capturer) checkSnapshot(ctx context.Context, start startPos, cs charsets) error {
	if start.file == "" {
		return nil
	}
	now, err := c.latest(ctx)
	if err != nil {
		return err
	}
	c.log.Info("schema history: reading the binlog since the start for DDL the snapshot would hide", "from", start.String(), "to", now.String())
	cf, err := c.snapshotConflict(ctx, start, now, cs)
	if err != nil || cf == nil {
		return err
	}
	return fmt.Errorf("capture %s at %s: the binlog lacks column names (binlog_row_metadata is not FULL) and no schema history is saved, "+
		"so capture takes today's schema from information_schema as the schema at the start %s; but %q changed the table since, "+
		"and its rows before that would get the wrong columns: start at %s or later (source.start, with no checkpoint stored)",
		cf.table, cf.pos, start, cf.query, cf.pos)
}

// loadHistory loads the saved history rewound to at, or returns nil when
// none is saved or it does not reach at (DDL after what it saw may have
// run, so it is stale).
func (c *Capturer) loadHistory(ctx context.Context, store SchemaHistoryStore, opts schema.Options, at schema.Pos) (*schema.History, error) {
	data, err := store.LoadSchemaHistory(ctx)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading the schema history: %w", err)
	}
	h, warning, err := schema.Unmarshal(data, opts, at)
	if err != nil {
		return nil, fmt.Errorf("loading the schema history: %w", err)
	}
	// The history is complete up to the last statement it saw, and up to
	// the stored checkpoint: capture read every event before it.
	reach := h.Saved()
	if c.opts.CheckpointStore != nil {
		if cp, err := c.opts.CheckpointStore.Load(ctx); err == nil && cp.File != "" {
			if p := (schema.Pos{File: cp.File, Pos: cp.Pos}); p.Compare(reach) > 0 {
				reach = p
			}
		}
	}
	if at.Compare(reach) > 0 {
		c.log.Warn("schema history: the saved history ends before the start position; taking a fresh snapshot instead", "saved_through", reach.String(), "pos", at.String())
		return nil, nil
	}
	if warning != nil {
		c.log.Warn("schema history: "+warning.Error(), "pos", at.String())
	}
	c.log.Info("schema history: loaded", "pos", at.String(), "tables", len(h.Tables()))
	return h, nil
}

// saveHistory saves the whole history.
func saveHistory(ctx context.Context, store SchemaHistoryStore, h *schema.History) error {
	data, err := h.Marshal()
	if err != nil {
		return err
	}
	if err := store.SaveSchemaHistory(ctx, data); err != nil {
		return fmt.Errorf("saving the schema history at %s: %w", h.Applied(), err)
	}
	return nil
}

// binaryLogs lists the binlog files the server still has, oldest first.
func (c *Capturer) binaryLogs(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("listing binlogs of %s: %w", c.opts.DSN, explainServerError(err))
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var files []string
	for rows.Next() {
		dst := make([]any, len(cols))
		var name string
		dst[0] = &name
		for i := 1; i < len(dst); i++ {
			dst[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("listing binlogs of %s: %w", c.opts.DSN, err)
		}
		files = append(files, name)
	}
	return files, rows.Err()
}

// startPos is a resolved start position.
type startPos struct {
	file string
	pos  uint32
	// gtid is the GTID set executed up to the position. gtidKnown tells an
	// empty set from an unknown one.
	gtid      string
	gtidKnown bool
	// byGTID starts the dump by gtid rather than by file and position.
	byGTID bool
}

func (p startPos) String() string {
	if p.byGTID {
		return "gtid " + p.gtid
	}
	return fmt.Sprintf("%s:%d", p.file, p.pos)
}

// resolveStart turns Options.Start and the stored checkpoint into a
// position on the server, and checks the server still has it.
func (c *Capturer) resolveStart(ctx context.Context) (startPos, error) {
	st, _ := config.ParseStart(c.opts.Flavor, c.opts.Start) // checked in New
	var p startPos
	switch st.Kind {
	case config.StartDefault, config.StartCheckpoint:
		var cp checkpoint.Position
		err := checkpoint.ErrNotFound
		if c.opts.CheckpointStore != nil {
			cp, err = c.opts.CheckpointStore.Load(ctx)
		}
		switch {
		case err == nil && !cp.IsZero():
			if cp.Flavor != "" && cp.Flavor != c.opts.Flavor {
				return p, fmt.Errorf("the stored checkpoint %s is for a %s server, the source is configured as %s", cp, cp.Flavor, c.opts.Flavor)
			}
			p = startPos{file: cp.File, pos: cp.Pos, gtid: cp.GTIDSet, gtidKnown: cp.GTIDSet != "", byGTID: cp.GTIDSet != ""}
			c.log.Info("resuming from the stored checkpoint", "pos", cp.String())
		case errors.Is(err, checkpoint.ErrNotFound) || (err == nil && cp.IsZero()):
			if st.Kind == config.StartCheckpoint {
				return p, errors.New("start is checkpoint but no checkpoint is stored; start from earliest or latest")
			}
			return c.latest(ctx)
		default:
			return p, fmt.Errorf("loading the checkpoint: %w", err)
		}
	case config.StartLatest:
		return c.latest(ctx)
	case config.StartEarliest:
		files, err := c.binaryLogs(ctx)
		if err != nil {
			return p, err
		}
		if len(files) == 0 {
			return p, fmt.Errorf("source %s lists no binary logs", c.opts.DSN)
		}
		p = startPos{file: files[0], pos: 4}
	case config.StartFilePos:
		p = startPos{file: st.File, pos: st.Pos}
	case config.StartGTID:
		p = startPos{gtid: st.GTID, gtidKnown: true, byGTID: true}
	}
	if p.file != "" && !p.byGTID {
		files, err := c.binaryLogs(ctx)
		if err != nil {
			return p, err
		}
		if !slices.Contains(files, p.file) {
			return p, purgedError(p.file, files)
		}
	}
	if !p.gtidKnown && c.opts.Flavor == mysql.MariaDBFlavor {
		// Knowing the GTID state at the start lets every checkpoint carry
		// the GTID set, so a resume survives a failover.
		p.gtid, p.gtidKnown = c.mariadbGTIDAt(ctx, p.file, p.pos)
	}
	return p, nil
}

// latest is the server's current end of binlog.
func (c *Capturer) latest(ctx context.Context) (startPos, error) {
	var p startPos
	for _, q := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} {
		rows, err := c.db.QueryContext(ctx, q)
		if err != nil {
			var drvErr *driver.MySQLError
			if errors.As(err, &drvErr) && drvErr.Number == 1064 { // syntax: try the other spelling
				continue
			}
			return p, fmt.Errorf("reading the binlog position of %s: %w", c.opts.DSN, explainServerError(err))
		}
		cols, _ := rows.Columns()
		ok := rows.Next()
		if ok {
			dst := make([]any, len(cols))
			dst[0], dst[1] = &p.file, &p.pos
			for i := 2; i < len(dst); i++ {
				dst[i] = new(sql.RawBytes)
			}
			err = rows.Scan(dst...)
		}
		rows.Close()
		if err != nil {
			return p, fmt.Errorf("reading the binlog position of %s: %w", c.opts.DSN, err)
		}
		if !ok {
			return p, fmt.Errorf("source %s reports no binlog position: is log_bin on?", c.opts.DSN)
		}
		if c.opts.Flavor == mysql.MariaDBFlavor {
			p.gtid, p.gtidKnown = c.mariadbGTIDAt(ctx, p.file, p.pos)
		}
		return p, nil
	}
	return p, fmt.Errorf("reading the binlog position of %s: neither SHOW MASTER STATUS nor SHOW BINARY LOG STATUS works", c.opts.DSN)
}

// mariadbGTIDAt asks MariaDB for the GTID state at file:pos. It reports
// false when the server cannot say; checkpoints then carry only file and
// position until the next binlog file begins with its GTID list.
func (c *Capturer) mariadbGTIDAt(ctx context.Context, file string, pos uint32) (string, bool) {
	var g sql.NullString
	if err := c.db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&g); err != nil {
		c.log.Warn("reading the GTID state at the start position failed", "pos", fmt.Sprintf("%s:%d", file, pos), "err", err)
		return "", false
	}
	return g.String, g.Valid
}

// purgedError says that file is gone and what the user can do.
func purgedError(file string, files []string) error {
	oldest := "none"
	if len(files) > 0 {
		oldest = files[0]
	}
	return fmt.Errorf("%w: binlog %s is no longer on the server (oldest is %s), and the changes in it with it; start from earliest, and copy the captured tables to the sinks again", ErrPurged, file, oldest)
}

// ErrPurged means the start position is older than the oldest binlog the
// server keeps: events were lost for this capture, and only a full sync can
// bring the destinations back in step.
var ErrPurged = errors.New("start position purged")

// explainServerError adds what to do to the server errors a user can fix.
func explainServerError(err error) error {
	var code uint16
	var myErr *mysql.MyError
	var drvErr *driver.MySQLError
	switch {
	case errors.As(err, &myErr):
		code = myErr.Code
	case errors.As(err, &drvErr):
		code = drvErr.Number
	}
	switch code {
	case 1227, 1142, 1044:
		return fmt.Errorf("%w (the capture user needs: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* — on MariaDB 10.5+ REPLICATION SLAVE, BINLOG MONITOR, SELECT)", err)
	case 1045:
		return fmt.Errorf("%w (check the user and password in the source dsn)", err)
	}
	return err
}

// isTransient reports whether err is a lost connection worth retrying,
// rather than a refusal that retrying cannot fix.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	var myErr *mysql.MyError
	if errors.As(err, &myErr) {
		// Server-side errors are answers, not outages, except the ones a
		// restarting or overloaded server gives.
		switch myErr.Code {
		case mysql.ER_CON_COUNT_ERROR, mysql.ER_SERVER_SHUTDOWN, 1927 /* ER_CONNECTION_KILLED */, mysql.ER_QUERY_INTERRUPTED:
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "connection refused", "EOF", "i/o timeout", "bad connection", "use of closed network connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// quietHandler passes go-mysql's warnings and errors to our logger but
// drops its info chatter (it logs every rotate and its whole config).
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
