package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	// The parser needs a driver for literal values (DEFAULT 'x',
	// ENUM labels); this is the one it ships for tools without TiDB.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// DDL is one statement read from a QUERY event.
type DDL struct {
	// Pos is the end of the QUERY event: where the change takes effect.
	Pos Pos
	// Schema is the session's default database, which qualifies
	// unqualified table names.
	Schema string
	// Query is the statement.
	Query string
	// SQLMode is the session's sql_mode as the server's bits (the QUERY
	// event carries it); ANSI_QUOTES and NO_BACKSLASH_ESCAPES change how
	// the statement reads. Zero means the defaults.
	SQLMode uint64
	// ServerCollation is the session's collation_server, the default of a
	// CREATE DATABASE that names no charset; zero means Options'.
	ServerCollation uint64
}

// TableName names a table.
type TableName struct {
	Schema, Table string
}

// String is schema.table.
func (n TableName) String() string { return n.Schema + "." + n.Table }

// ApplyError reports a statement the History could not follow. The tables
// it names have no definition from Pos on (Lookup says why).
type ApplyError struct {
	Pos   Pos
	Query string
	// Tables are the tables the failure concerns; none when the statement
	// could not be parsed.
	Tables []TableName
	Err    error
}

// Error names the tables the statement concerns, then the cause.
func (e *ApplyError) Error() string {
	if len(e.Tables) == 0 {
		return e.Err.Error()
	}
	names := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		names[i] = t.String()
	}
	return fmt.Sprintf("%s: %v", strings.Join(names, ", "), e.Err)
}

// Unwrap returns the cause.
func (e *ApplyError) Unwrap() error { return e.Err }

// ErrParse is wrapped by the ApplyError of a statement the parser does not
// understand.
var ErrParse = errors.New("the SQL parser does not understand the statement")

// sql_mode bits as servers number them.
const (
	sqlModePipesAsConcat      = 1 << 1
	sqlModeANSIQuotes         = 1 << 2
	sqlModeIgnoreSpace        = 1 << 3
	sqlModeNoBackslashEscapes = 1 << 20
)

// isSystemSchema reports whether schema is one of the server's own, whose
// tables the History does not track.
func isSystemSchema(schema string) bool {
	switch strings.ToLower(schema) {
	case "mysql", "information_schema", "performance_schema", "sys":
		return true
	}
	return false
}

// Apply follows one DDL statement. It reports whether any definition
// changed. A statement at or before Applied was applied already and is
// ignored. A statement that cannot be parsed, or that does not fit the
// History (ALTER of a table it does not know, a column that is not there),
// is an *ApplyError; the tables it concerns are marked lost, every other
// change of the statement is kept, and the History goes on.
func (h *History) Apply(d DDL) (changed bool, err error) {
	if d.Pos.Compare(h.applied) <= 0 {
		return false, nil
	}
	h.applied = d.Pos
	stmts, err := h.parse(d)
	if err != nil {
		return false, &ApplyError{Pos: d.Pos, Query: d.Query, Err: fmt.Errorf("%w: %v", ErrParse, err)}
	}
	a := &applier{h: h, d: d}
	for _, st := range stmts {
		a.stmt(st)
	}
	if len(a.failed) > 0 {
		return a.changed, &ApplyError{Pos: d.Pos, Query: d.Query, Tables: a.failed, Err: errors.Join(a.errs...)}
	}
	return a.changed, nil
}

func (h *History) parse(d DDL) ([]ast.StmtNode, error) {
	q := mariadbSpellings(d.Query, d.SQLMode)
	if !h.taught {
		h.opts.Collations.TeachParser()
		h.taught = true
	}
	return parseSQL(q, d.SQLMode)
}

// sqlParser parses every statement the package reads; guarded by parserMu.
var sqlParser = parser.New()

// parseSQL parses q as a session with sql_mode bits sqlMode would.
func parseSQL(q string, sqlMode uint64) ([]ast.StmtNode, error) {
	parserMu.Lock()
	defer parserMu.Unlock()
	sqlParser.SetSQLMode(parserMode(sqlMode))
	stmts, _, err := sqlParser.Parse(q, "", "")
	return stmts, err
}

// parserMode is the parser's SQL mode for a statement's sql_mode bits
// (DDL.SQLMode): the ones that change how SQL text reads.
func parserMode(sqlMode uint64) mysql.SQLMode {
	var mode mysql.SQLMode
	if sqlMode&sqlModePipesAsConcat != 0 {
		mode |= mysql.ModePipesAsConcat
	}
	if sqlMode&sqlModeANSIQuotes != 0 {
		mode |= mysql.ModeANSIQuotes
	}
	if sqlMode&sqlModeIgnoreSpace != 0 {
		mode |= mysql.ModeIgnoreSpace
	}
	if sqlMode&sqlModeNoBackslashEscapes != 0 {
		mode |= mysql.ModeNoBackslashEscapes
	}
	return mode
}

// WrittenTables returns the tables a row-changing statement (INSERT,
// REPLACE, UPDATE, DELETE, after WITH too, or LOAD DATA) may write, qualified with
// defaultSchema. The parser knows the server's charsets and collations
// once they were taught (Collations.TeachParser). It errs towards more: every table of an UPDATE's or a
// DELETE's join, and the aliases a multi-table DELETE names. ok is false
// when q changes no rows.
func WrittenTables(q, defaultSchema string, sqlMode uint64) (tables []TableName, ok bool, err error) {
	stmts, err := parseSQL(q, sqlMode)
	if err != nil {
		return nil, false, err
	}
	var v tableNames
	for _, st := range stmts {
		switch st := st.(type) {
		case *ast.InsertStmt:
			st.Table.Accept(&v)
		case *ast.LoadDataStmt:
			st.Table.Accept(&v)
		case *ast.UpdateStmt:
			st.TableRefs.Accept(&v)
		case *ast.DeleteStmt:
			st.TableRefs.Accept(&v)
			if st.Tables != nil {
				st.Tables.Accept(&v)
			}
		default:
			continue
		}
		ok = true
	}
	for _, t := range v.names {
		schema := t.Schema.O
		if schema == "" {
			schema = defaultSchema
		}
		tables = append(tables, TableName{schema, t.Name.O})
	}
	return tables, ok, nil
}

// tableNames collects the table names of a syntax tree.
type tableNames struct{ names []*ast.TableName }

func (v *tableNames) Enter(n ast.Node) (ast.Node, bool) {
	if t, ok := n.(*ast.TableName); ok {
		v.names = append(v.names, t)
	}
	return n, false
}

func (v *tableNames) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// applier applies the statements of one DDL.
type applier struct {
	h       *History
	d       DDL
	changed bool
	failed  []TableName
	errs    []error
}

func (a *applier) name(t *ast.TableName) TableName {
	schema := t.Schema.O
	if schema == "" {
		schema = a.d.Schema
	}
	return TableName{schema, t.Name.O}
}

func (a *applier) put(n TableName, def *Table) {
	if def != nil {
		def.Schema, def.Name = n.Schema, n.Table
	}
	a.h.put(a.h.key(n.Schema, n.Table), tableVersion{Pos: a.d.Pos, Def: def})
	a.changed = true
}

func (a *applier) drop(n TableName) {
	if a.h.exists(a.h.key(n.Schema, n.Table)) {
		a.put(n, nil)
	}
}

// errSystemVersioned is why the history stops following a table WITH SYSTEM
// VERSIONING at its first ALTER or index change: MariaDB keeps the unseen
// row_start and row_end columns last, appends row_end to new unique keys,
// and more the history does not model; a guess could label timestamps
// with each other's names.
var errSystemVersioned = errors.New("the table is system-versioned (WITH SYSTEM VERSIONING), and the schema history does not follow changes to such a table; set binlog_row_metadata=FULL on the server")

// lose marks n lost: from here on the History cannot say what it looks
// like.
func (a *applier) lose(n TableName, err error) {
	a.h.put(a.h.key(n.Schema, n.Table), tableVersion{Pos: a.d.Pos, Lost: fmt.Sprintf("%v (statement: %s)", err, Abbreviate(a.d.Query))})
	a.changed = true
	a.failed = append(a.failed, n)
	a.errs = append(a.errs, err)
}

// Abbreviate shortens a statement for a message: whitespace runs become one
// space, and past 300 bytes it is cut.
func Abbreviate(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 300 {
		return q[:300] + "..."
	}
	return q
}

func (a *applier) stmt(st ast.StmtNode) {
	switch s := st.(type) {
	case *ast.CreateTableStmt:
		a.createTable(s)
	case *ast.AlterTableStmt:
		a.alterTable(s)
	case *ast.RenameTableStmt:
		for _, tt := range s.TableToTables {
			a.rename(a.name(tt.OldTable), a.name(tt.NewTable))
		}
	case *ast.DropTableStmt:
		if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
			return
		}
		for _, t := range s.Tables {
			a.drop(a.name(t))
		}
	case *ast.CreateSequenceStmt:
		a.createSequence(s)
	case *ast.DropSequenceStmt:
		for _, t := range s.Sequences {
			a.drop(a.name(t))
		}
	case *ast.DropIndexStmt:
		a.alterKeys(s.Table, func(t *Table) (bool, error) { return dropIndex(t, s.IndexName), nil })
	case *ast.CreateIndexStmt:
		if s.KeyType == ast.IndexKeyTypeUnique {
			a.alterKeys(s.Table, func(t *Table) (bool, error) {
				if s.IfNotExists && t.key(s.IndexName) >= 0 {
					return false, nil
				}
				return true, addUnique(t, s.IndexName, s.IndexPartSpecifications)
			})
		}
	case *ast.CreateDatabaseStmt:
		a.createDatabase(s)
	case *ast.AlterDatabaseStmt:
		schema := s.Name.O
		if s.AlterDefaultDatabase || schema == "" {
			schema = a.d.Schema
		}
		if isSystemSchema(schema) || schema == "" {
			return
		}
		coll, ok, err := a.databaseCollation(s.Options)
		if err != nil || !ok {
			return // a change of something else (encryption, read only)
		}
		a.h.putDB(schema, dbVersion{Pos: a.d.Pos, Collation: coll})
		a.changed = true
	case *ast.DropDatabaseStmt:
		schema := s.Name.O
		if isSystemSchema(schema) {
			return
		}
		k := a.h.dbKey(schema)
		for n := range a.h.tables {
			if n.schema == k && a.h.exists(n) {
				a.h.put(n, tableVersion{Pos: a.d.Pos})
				a.changed = true
			}
		}
		if len(a.h.dbs[k]) > 0 {
			a.h.putDB(schema, dbVersion{Pos: a.d.Pos, Dropped: true})
			a.changed = true
		}
	}
	// Everything else (views, routines, triggers, non-unique indexes,
	// TRUNCATE) changes no column.
}

func (a *applier) createDatabase(s *ast.CreateDatabaseStmt) {
	schema := s.Name.O
	if isSystemSchema(schema) {
		return
	}
	if vs := a.h.dbs[a.h.dbKey(schema)]; s.IfNotExists && len(vs) > 0 && !vs[len(vs)-1].Dropped {
		return
	}
	coll, ok, err := a.databaseCollation(s.Options)
	if err != nil || !ok {
		coll = a.d.ServerCollation
		if coll == 0 {
			coll = a.h.opts.ServerCollation
		}
	}
	a.h.putDB(schema, dbVersion{Pos: a.d.Pos, Collation: coll})
	a.changed = true
}

func (a *applier) databaseCollation(opts []*ast.DatabaseOption) (uint64, bool, error) {
	var cs, coll string
	for _, o := range opts {
		switch o.Tp {
		case ast.DatabaseOptionCharset:
			cs = o.Value
		case ast.DatabaseOptionCollate:
			coll = o.Value
		}
	}
	if cs == "" && coll == "" {
		return 0, false, nil
	}
	id, err := a.collation(cs, coll, false, 0)
	return id, err == nil, err
}

// collation resolves a charset and collation as a column or table
// declares them: COLLATE wins, then the charset's default (its _bin
// collation with the BINARY attribute), then the inherited collation.
func (a *applier) collation(cs, coll string, binAttr bool, inherited uint64) (uint64, error) {
	c := a.h.opts.Collations
	switch {
	case coll != "":
		id, ok := c.ID(coll)
		if !ok {
			return 0, fmt.Errorf("unknown collation %s", coll)
		}
		return id, nil
	case cs != "":
		cs = normalizeCharset(cs)
		if cs == "binary" {
			return CollationBinary, nil
		}
		if binAttr {
			if id, ok := c.ID(cs + "_bin"); ok {
				return id, nil
			}
		}
		id, ok := c.Default(cs)
		if !ok {
			return 0, fmt.Errorf("unknown charset %s", cs)
		}
		return id, nil
	case binAttr:
		if id, ok := c.ID(c.Charset(inherited) + "_bin"); ok {
			return id, nil
		}
	}
	return inherited, nil
}

// tableCollation is the default collation a CREATE or ALTER TABLE's options
// set, if they set one.
func (a *applier) tableCollation(opts []*ast.TableOption) (id uint64, convert, ok bool, err error) {
	var cs, coll string
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			cs = o.StrValue
			if o.Default || cs == "" {
				cs = "DEFAULT"
			}
			convert = convert || o.UintValue == ast.TableOptionCharsetWithConvertTo
		case ast.TableOptionCollate:
			coll = o.StrValue
		}
	}
	if cs == "" && coll == "" {
		return 0, false, false, nil
	}
	if cs == "DEFAULT" {
		if coll == "" {
			return 0, convert, false, nil // the caller's inherited default
		}
		cs = ""
	}
	id, err = a.collation(cs, coll, false, 0)
	return id, convert, err == nil, err
}

func (a *applier) createTable(s *ast.CreateTableStmt) {
	if s.TemporaryKeyword != ast.TemporaryNone {
		return
	}
	n := a.name(s.Table)
	if isSystemSchema(n.Schema) {
		return
	}
	if s.IfNotExists && a.h.exists(a.h.key(n.Schema, n.Table)) {
		return // a table the History lost stays lost: its definition is never guessed
	}
	if s.ReferTable != nil {
		src := a.name(s.ReferTable)
		cur := a.h.current(a.h.key(src.Schema, src.Table))
		if cur == nil || isSystemSchema(src.Schema) {
			a.lose(n, fmt.Errorf("CREATE TABLE LIKE %s, a table the schema history does not know", src))
			return
		}
		a.put(n, cur.clone())
		return
	}
	t := &Table{Collation: a.h.dbCollation(n.Schema)}
	coll, _, ok, err := a.tableCollation(s.Options)
	if err != nil {
		a.lose(n, err)
		return
	}
	if ok {
		t.Collation = coll
	}
	for _, cd := range s.Cols {
		c, keys, err := a.column(cd, t.Collation)
		if err != nil {
			a.lose(n, err)
			return
		}
		if t.Column(c.Name) >= 0 {
			a.lose(n, fmt.Errorf("column %s defined twice", c.Name))
			return
		}
		t.Columns = append(t.Columns, c)
		keys.apply(t, c.Name)
	}
	for _, c := range s.Constraints {
		if err := applyConstraint(t, c); err != nil {
			a.lose(n, err)
			return
		}
	}
	a.put(n, t)
}

// sequenceColumns are the columns of every MariaDB sequence (its SHOW
// CREATE TABLE): a sequence is a one-row table, and the binlog carries that
// row when the sequence is created and when NEXTVAL refills its cache.
var sequenceColumns = []Column{
	{Name: "next_not_cached_value", Type: "bigint", NotNull: true},
	{Name: "minimum_value", Type: "bigint", NotNull: true},
	{Name: "maximum_value", Type: "bigint", NotNull: true},
	{Name: "start_value", Type: "bigint", NotNull: true},
	{Name: "increment", Type: "bigint", NotNull: true},
	{Name: "cache_size", Type: "bigint", Unsigned: true, NotNull: true},
	{Name: "cycle_option", Type: "tinyint", Unsigned: true, NotNull: true},
	{Name: "cycle_count", Type: "bigint", NotNull: true},
}

// createSequence defines a sequence's table; ALTER SEQUENCE changes its
// values, never its columns.
func (a *applier) createSequence(s *ast.CreateSequenceStmt) {
	n := a.name(s.Name)
	if isSystemSchema(n.Schema) || s.IfNotExists && a.h.exists(a.h.key(n.Schema, n.Table)) {
		return
	}
	a.put(n, &Table{Collation: a.h.dbCollation(n.Schema), Columns: slices.Clone(sequenceColumns)})
}

// alterKeys changes the keys of table tn (CREATE/DROP INDEX).
func (a *applier) alterKeys(tn *ast.TableName, f func(t *Table) (bool, error)) {
	n := a.name(tn)
	if isSystemSchema(n.Schema) {
		return
	}
	cur := a.h.current(a.h.key(n.Schema, n.Table))
	if cur == nil {
		if !a.h.lost(a.h.key(n.Schema, n.Table)) {
			a.lose(n, fmt.Errorf("an index change of a table the schema history does not know"))
		}
		return
	}
	if cur.SystemVersioned {
		a.lose(n, errSystemVersioned)
		return
	}
	t := cur.clone()
	changed, err := f(t)
	if err != nil {
		a.lose(n, err)
		return
	}
	if changed {
		a.put(n, t)
	}
}

// applyConstraint applies a PRIMARY KEY or UNIQUE constraint; others
// (indexes, foreign keys, checks) change nothing the history keeps.
func applyConstraint(t *Table, c *ast.Constraint) error {
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		return setPK(t, c.Keys)
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		return addUnique(t, c.Name, c.Keys)
	}
	return nil
}

// setPK makes parts the primary key; its columns become NOT NULL, as the
// server makes them.
func setPK(t *Table, parts []*ast.IndexPartSpecification) error {
	var pk []string
	for _, k := range parts {
		if k.Column == nil {
			return fmt.Errorf("a primary key on an expression")
		}
		i := t.Column(k.Column.Name.O)
		if i < 0 {
			return fmt.Errorf("primary key column %s is not in the table", k.Column.Name.O)
		}
		t.Columns[i].NotNull = true
		pk = append(pk, t.Columns[i].Name)
	}
	t.PK = pk
	return nil
}

// addUnique adds a UNIQUE key, named as the server names it when the
// statement does not: after its first column, with _2, _3... if taken.
func addUnique(t *Table, name string, parts []*ast.IndexPartSpecification) error {
	k := Key{Name: name}
	for _, p := range parts {
		if p.Column == nil {
			k.Partial = true // an expression
			continue
		}
		i := t.Column(p.Column.Name.O)
		if i < 0 {
			return fmt.Errorf("unique key column %s is not in the table", p.Column.Name.O)
		}
		k.Columns = append(k.Columns, t.Columns[i].Name)
		k.Partial = k.Partial || p.Length > 0
	}
	if k.Name == "" && len(k.Columns) > 0 {
		k.Name = uniqueKeyName(t, k.Columns[0])
	}
	if t.key(k.Name) >= 0 || strings.EqualFold(k.Name, "PRIMARY") {
		return fmt.Errorf("a second key named %s", k.Name)
	}
	t.Unique = append(t.Unique, k)
	return nil
}

func uniqueKeyName(t *Table, base string) string {
	if t.key(base) < 0 && !strings.EqualFold(base, "PRIMARY") {
		return base
	}
	for i := 2; ; i++ {
		if name := fmt.Sprintf("%s_%d", base, i); t.key(name) < 0 {
			return name
		}
	}
}

// dropIndex drops the PRIMARY key or the UNIQUE key called name; other
// indexes are not kept. It reports whether t changed.
func dropIndex(t *Table, name string) bool {
	if strings.EqualFold(name, "PRIMARY") {
		t.PK = nil
		return true
	}
	if i := t.key(name); i >= 0 {
		t.Unique = slices.Delete(t.Unique, i, i+1)
		return true
	}
	return false
}

// columnKeys are the keys a column definition declares inline.
type columnKeys struct{ primary, unique bool }

func (k columnKeys) apply(t *Table, col string) {
	if k.primary {
		t.PK = []string{col}
	}
	if k.unique {
		t.Unique = append(t.Unique, Key{Name: uniqueKeyName(t, col), Columns: []string{col}})
	}
}

// column builds a column from its definition; inherited is the table's
// default collation. keys reports an inline PRIMARY KEY or UNIQUE.
func (a *applier) column(cd *ast.ColumnDef, inherited uint64) (c Column, keys columnKeys, err error) {
	c.Name = cd.Name.Name.O
	tp := cd.Tp
	if tp == nil {
		return c, keys, fmt.Errorf("column %s has no type", c.Name)
	}
	var coll string
	for _, o := range cd.Options {
		switch o.Tp {
		case ast.ColumnOptionCollate:
			coll = o.StrValue
		case ast.ColumnOptionPrimaryKey:
			keys.primary, c.NotNull = true, true
		case ast.ColumnOptionUniqKey:
			keys.unique = true
		case ast.ColumnOptionNotNull:
			c.NotNull = true
		case ast.ColumnOptionNull:
			c.NotNull = false
		}
	}
	if coll == "" {
		coll = tp.GetCollate()
	}
	binary := strings.EqualFold(tp.GetCharset(), "binary") || strings.EqualFold(coll, "binary")
	c.Type, err = typeName(tp, binary, a.h.opts.Flavor)
	if err != nil {
		return c, keys, fmt.Errorf("column %s: %w", c.Name, err)
	}
	switch {
	case tp.GetType() == mysql.TypeJSON:
		if c.Type == "longtext" { // MariaDB's JSON
			c.Collation, _ = a.h.opts.Collations.ID("utf8mb4_bin")
		}
	case isBinaryString(c.Type):
		c.Collation = CollationBinary
	case isText(c.Type):
		c.Collation, err = a.collation(tp.GetCharset(), coll, mysql.HasBinaryFlag(tp.GetFlag()), inherited)
		if err != nil {
			return c, keys, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if c.Collation == CollationBinary {
			c.Type = binaryType(c.Type)
		}
	}
	if c.Type == "enum" || c.Type == "set" {
		c.Labels = slices.Clone(tp.GetElems())
		if c.Labels == nil {
			c.Labels = []string{}
		}
	}
	c.Unsigned = isNumeric(c.Type) && mysql.HasUnsignedFlag(tp.GetFlag())
	return c, keys, nil
}

// typeName names a parsed column type as information_schema's DATA_TYPE
// does.
func typeName(tp *types.FieldType, binary bool, flavor string) (string, error) {
	pick := func(text, bin string) string {
		if binary {
			return bin
		}
		return text
	}
	switch tp.GetType() {
	case mysql.TypeTiny:
		return "tinyint", nil
	case mysql.TypeShort:
		return "smallint", nil
	case mysql.TypeInt24:
		return "mediumint", nil
	case mysql.TypeLong:
		return "int", nil
	case mysql.TypeLonglong:
		return "bigint", nil
	case mysql.TypeFloat:
		return "float", nil
	case mysql.TypeDouble:
		return "double", nil
	case mysql.TypeNewDecimal:
		return "decimal", nil
	case mysql.TypeBit:
		return "bit", nil
	case mysql.TypeYear:
		return "year", nil
	case mysql.TypeDate:
		return "date", nil
	case mysql.TypeDatetime:
		return "datetime", nil
	case mysql.TypeTimestamp:
		return "timestamp", nil
	case mysql.TypeDuration:
		return "time", nil
	case mysql.TypeVarchar, mysql.TypeVarString:
		return pick("varchar", "varbinary"), nil
	case mysql.TypeString:
		return pick("char", "binary"), nil
	case mysql.TypeTinyBlob:
		return pick("tinytext", "tinyblob"), nil
	case mysql.TypeBlob:
		return pick("text", "blob"), nil
	case mysql.TypeMediumBlob:
		return pick("mediumtext", "mediumblob"), nil
	case mysql.TypeLongBlob:
		return pick("longtext", "longblob"), nil
	case mysql.TypeEnum:
		return "enum", nil
	case mysql.TypeSet:
		return "set", nil
	case mysql.TypeJSON:
		if flavor == "mysql" {
			return "json", nil
		}
		return "longtext", nil
	case mysql.TypeGeometry:
		return "geometry", nil
	}
	return "", fmt.Errorf("unsupported type %s", tp.String())
}

// binaryType is the binary string type a character type becomes under the
// binary charset.
func binaryType(typ string) string {
	switch typ {
	case "char":
		return "binary"
	case "varchar":
		return "varbinary"
	case "tinytext":
		return "tinyblob"
	case "text":
		return "blob"
	case "mediumtext":
		return "mediumblob"
	case "longtext":
		return "longblob"
	}
	return typ
}

func isNumeric(typ string) bool {
	switch typ {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "float", "double", "decimal":
		return true
	}
	return false
}

func (a *applier) rename(from, to TableName) {
	if isSystemSchema(from.Schema) && isSystemSchema(to.Schema) {
		return
	}
	var cur *Table
	if !isSystemSchema(from.Schema) {
		if a.h.lost(a.h.key(from.Schema, from.Table)) {
			a.put(from, nil)
			a.lose(to, fmt.Errorf("renamed from %s, which the schema history lost track of", from))
			return
		}
		cur = a.h.current(a.h.key(from.Schema, from.Table))
		if cur != nil {
			a.put(from, nil)
		}
	}
	if isSystemSchema(to.Schema) {
		return
	}
	if cur == nil {
		a.lose(to, fmt.Errorf("renamed from %s, a table the schema history does not know", from))
		return
	}
	a.put(to, cur.clone())
}

func (a *applier) alterTable(s *ast.AlterTableStmt) {
	n := a.name(s.Table)
	if isSystemSchema(n.Schema) {
		return
	}
	cur := a.h.current(a.h.key(n.Schema, n.Table))
	if cur == nil {
		if a.h.lost(a.h.key(n.Schema, n.Table)) {
			// Already lost; a RENAME moves the loss along.
			for _, sp := range s.Specs {
				if sp.Tp == ast.AlterTableRenameTable {
					a.put(n, nil)
					a.lose(a.name(sp.NewTable), fmt.Errorf("renamed from %s, which the schema history lost track of", n))
				}
			}
			return
		}
		a.lose(n, fmt.Errorf("ALTER TABLE of a table the schema history does not know"))
		return
	}
	if cur.SystemVersioned {
		a.lose(n, errSystemVersioned)
		return
	}
	t := cur.clone()
	newName := n
	changed := false
	for _, sp := range s.Specs {
		ch, err := a.alterSpec(t, sp, &newName)
		if err != nil {
			a.lose(n, err)
			if newName != n {
				a.lose(newName, err)
			}
			return
		}
		changed = changed || ch
	}
	if newName != n {
		a.put(n, nil)
		if isSystemSchema(newName.Schema) {
			return
		}
		a.put(newName, t)
		return
	}
	if changed {
		a.put(n, t)
	}
}

// alterSpec applies one clause of an ALTER TABLE to t.
func (a *applier) alterSpec(t *Table, sp *ast.AlterTableSpec, newName *TableName) (bool, error) {
	switch sp.Tp {
	case ast.AlterTableOption:
		coll, convert, ok, err := a.tableCollation(sp.Options)
		if err != nil {
			return false, err
		}
		if !ok && !convert {
			return false, nil
		}
		if !ok {
			coll = a.h.dbCollation(t.Schema)
		}
		t.Collation = coll
		if convert {
			for i := range t.Columns {
				c := &t.Columns[i]
				if isText(c.Type) {
					c.Collation = coll
					if coll == CollationBinary {
						c.Type = binaryType(c.Type)
					}
				}
			}
		}
		return true, nil
	case ast.AlterTableAddColumns:
		for _, cd := range sp.NewColumns {
			c, keys, err := a.column(cd, t.Collation)
			if err != nil {
				return false, err
			}
			if t.Column(c.Name) >= 0 {
				if sp.IfNotExists {
					continue
				}
				return false, fmt.Errorf("ADD COLUMN %s: the column is there already", c.Name)
			}
			if err := insertColumn(t, c, sp.Position); err != nil {
				return false, err
			}
			keys.apply(t, c.Name)
		}
		for _, c := range sp.NewConstraints {
			if err := applyConstraint(t, c); err != nil {
				return false, err
			}
		}
		return true, nil
	case ast.AlterTableAddConstraint:
		if sp.Constraint != nil {
			if sp.Constraint.IfNotExists && sp.Constraint.Name != "" && t.key(sp.Constraint.Name) >= 0 {
				return false, nil
			}
			return true, applyConstraint(t, sp.Constraint)
		}
	case ast.AlterTableDropColumn:
		old := sp.OldColumnName.Name.O
		i := t.Column(old)
		if i < 0 {
			if sp.IfExists {
				return false, nil
			}
			return false, fmt.Errorf("DROP COLUMN %s: there is no such column", old)
		}
		t.dropColumn(t.Columns[i].Name)
		t.Columns = slices.Delete(t.Columns, i, i+1)
		return true, nil
	case ast.AlterTableDropPrimaryKey:
		t.PK = nil
		return true, nil
	case ast.AlterTableDropIndex:
		return dropIndex(t, sp.Name), nil
	case ast.AlterTableRenameIndex:
		if i := t.key(sp.FromKey.O); i >= 0 {
			t.Unique[i].Name = sp.ToKey.O
			return true, nil
		}
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		if len(sp.NewColumns) != 1 {
			return false, fmt.Errorf("MODIFY/CHANGE with %d columns", len(sp.NewColumns))
		}
		old := sp.NewColumns[0].Name.Name.O
		if sp.Tp == ast.AlterTableChangeColumn {
			old = sp.OldColumnName.Name.O
		}
		i := t.Column(old)
		if i < 0 {
			if sp.IfExists {
				return false, nil
			}
			return false, fmt.Errorf("MODIFY/CHANGE COLUMN %s: there is no such column", old)
		}
		c, keys, err := a.column(sp.NewColumns[0], t.Collation)
		if err != nil {
			return false, err
		}
		if j := t.Column(c.Name); j >= 0 && j != i {
			return false, fmt.Errorf("CHANGE COLUMN %s to %s: the column is there already", old, c.Name)
		}
		t.renameColumn(t.Columns[i].Name, c.Name)
		if slices.ContainsFunc(t.PK, func(p string) bool { return strings.EqualFold(p, c.Name) }) {
			c.NotNull = true // a primary-key column stays NOT NULL
		}
		if sp.Position == nil || sp.Position.Tp == ast.ColumnPositionNone {
			t.Columns[i] = c
		} else {
			t.Columns = slices.Delete(t.Columns, i, i+1)
			if err := insertColumn(t, c, sp.Position); err != nil {
				return false, err
			}
		}
		keys.apply(t, c.Name)
		return true, nil
	case ast.AlterTableRenameColumn:
		old, to := sp.OldColumnName.Name.O, sp.NewColumnName.Name.O
		i := t.Column(old)
		if i < 0 {
			if sp.IfExists {
				return false, nil
			}
			return false, fmt.Errorf("RENAME COLUMN %s: there is no such column", old)
		}
		if j := t.Column(to); j >= 0 && j != i {
			return false, fmt.Errorf("RENAME COLUMN %s TO %s: the column is there already", old, to)
		}
		t.renameColumn(t.Columns[i].Name, to)
		t.Columns[i].Name = to
		return true, nil
	case ast.AlterTableRenameTable:
		*newName = a.name(sp.NewTable)
		return true, nil
	}
	// Indexes, defaults, partitions, engine options: no column changes.
	return false, nil
}

// insertColumn places c as pos says: last, FIRST or AFTER a column.
func insertColumn(t *Table, c Column, pos *ast.ColumnPosition) error {
	at := len(t.Columns)
	if pos != nil {
		switch pos.Tp {
		case ast.ColumnPositionFirst:
			at = 0
		case ast.ColumnPositionAfter:
			i := t.Column(pos.RelativeColumn.Name.O)
			if i < 0 {
				return fmt.Errorf("column %s AFTER %s: there is no such column", c.Name, pos.RelativeColumn.Name.O)
			}
			at = i + 1
		}
	}
	t.Columns = slices.Insert(t.Columns, at, c)
	return nil
}
