package capture

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/schema"
)

// column says how to decode one column of a row image. It is built once
// per table version, so the per-row work is a switch on typ.
type column struct {
	typ      byte   // the real type: ENUM and SET resolved from MYSQL_TYPE_STRING
	meta     uint16 // the table map's metadata for the column
	unsigned bool
	text     textKind
	decoder  textDecoder // of textOther text; nil: it stays bytes
	length   int         // CHAR/BINARY: declared length in bytes
	fsp      int         // fractional-second digits of temporal types
	prec     int         // DECIMAL precision
	scale    int         // DECIMAL scale
	labels   []string    // ENUM and SET labels, in definition order
}

// tableVersion is a table as one TABLE_MAP event describes it: the Table
// every event of it shares, and how to decode its rows.
type tableVersion struct {
	table    *event.Table
	cols     []column
	included bool
	// mysqlJSON is set when the table has a MySQL binary JSON column; rows
	// of such tables are also decoded by go-mysql, whose JSON renderer we
	// borrow for those columns.
	mysqlJSON bool
}

// buildTable turns a TABLE_MAP event into a tableVersion. Without def, the
// map itself must carry column names and the rest (binlog_row_metadata=
// FULL); with def, the table's definition from the schema history, names,
// signedness, labels and the primary key come from def, after checkDef
// found the map and def to agree. Either way a row is never labelled with
// names that may be wrong.
func buildTable(tm *replication.TableMapEvent, cs charsets, flavor string, def *schema.Table) (*tableVersion, error) {
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	var unsigned map[int]bool
	var collations map[int]uint64
	var enums, sets map[int][]string
	if def == nil {
		if len(names) != n {
			return nil, fmt.Errorf("the table map has no column names (binlog_row_metadata is not FULL)")
		}
		unsigned = tm.UnsignedMap()
		collations = tm.CollationMap()
		enums = tm.EnumStrValueMap()
		sets = tm.SetStrValueMap()
		// The map writes labels in their column's charset; events carry
		// UTF-8.
		for i, id := range tm.EnumSetCollationMap() {
			cset, ok := cs.lookup(id)
			if kind := textKindOf(cset.name); !ok || kind == textUTF8 || kind == textBinary {
				continue
			}
			for _, labels := range []map[int][]string{enums, sets} {
				if l, ok := labels[i]; ok {
					if labels[i], ok = decodeLabels(cs, cset.name, l); !ok {
						return nil, fmt.Errorf("column %s: ENUM or SET labels in charset %s that capture cannot decode", names[i], cset.name)
					}
				}
			}
		}
	} else {
		if err := checkDef(tm, def, cs); err != nil {
			return nil, &defMismatchError{err}
		}
		names = make([]string, n)
		unsigned = map[int]bool{}
		// The history's labels are UTF-8 already, whatever their charset.
		collations = map[int]uint64{}
		enums, sets = map[int][]string{}, map[int][]string{}
		for i, c := range def.Columns {
			names[i] = c.Name
			unsigned[i] = c.Unsigned
			if c.Collation != 0 {
				collations[i] = c.Collation
			}
			if c.Labels != nil {
				enums[i], sets[i] = c.Labels, c.Labels
			}
		}
		// A map with MINIMAL metadata has each numeric column's signedness
		// and each character column's collation, which checkDef found to
		// agree with the history's (up to YEAR, which the server flags
		// unsigned, and collations of one charset kind): the map's are
		// the exact ones.
		maps.Copy(unsigned, tm.UnsignedMap())
		maps.Copy(collations, tm.CollationMap())
	}
	tv := &tableVersion{cols: make([]column, n)}
	cols := make([]event.Column, n)
	for i := 0; i < n; i++ {
		c := &tv.cols[i]
		c.typ = tm.ColumnType[i]
		c.meta = tm.ColumnMeta[i]
		c.unsigned = unsigned[i]
		var typ string
		var err error
		typ, err = c.resolve(i, tm, cs, collations, enums, sets, flavor)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", names[i], err)
		}
		if c.typ == mysql.MYSQL_TYPE_JSON {
			tv.mysqlJSON = true
		}
		cols[i] = event.Column{Name: names[i], Type: typ}
	}
	var pk []int
	if def != nil {
		pk = def.PKIndexes()
	} else {
		pk = make([]int, 0, len(tm.PrimaryKey))
		for _, p := range tm.PrimaryKey {
			if int(p) >= n {
				return nil, fmt.Errorf("primary-key column %d of %d", p, n)
			}
			pk = append(pk, int(p))
		}
	}
	tv.table = event.NewTable(string(tm.Schema), string(tm.Table), cols, pk)
	return tv, nil
}

// collationsOf returns the collations of a table's text: those the table
// map names and, with def, those of the schema history.
func collationsOf(tm *replication.TableMapEvent, def *schema.Table) []uint64 {
	ids := slices.Collect(maps.Values(tm.CollationMap()))
	ids = slices.AppendSeq(ids, maps.Values(tm.EnumSetCollationMap()))
	if def != nil {
		for _, c := range def.Columns {
			ids = append(ids, c.Collation)
		}
	}
	return ids
}

// decodeLabels converts ENUM or SET labels from charset name to UTF-8.
func decodeLabels(cs charsets, name string, labels []string) ([]string, bool) {
	out := make([]string, len(labels))
	for i, l := range labels {
		var ok bool
		if out[i], ok = cs.toUTF8(name, []byte(l)); !ok {
			return nil, false
		}
	}
	return out, true
}

// checkDef checks that a TABLE_MAP event and the schema history's
// definition of its table describe the same columns: their number, each
// column's type, the storage size of ENUM and SET columns against their
// number of labels, and, where the map carries them (MINIMAL metadata),
// signedness and charset. A difference means the history is out of step
// with the binlog; decoding on would label or read values wrongly.
func checkDef(tm *replication.TableMapEvent, def *schema.Table, cs charsets) error {
	n := int(tm.ColumnCount)
	if len(def.Columns) != n {
		return fmt.Errorf("the binlog's table map has %d columns, the schema history's definition %d (%s)", n, len(def.Columns), columnNames(def))
	}
	unsigned, collations := tm.UnsignedMap(), tm.CollationMap()
	for i, c := range def.Columns {
		real, meta := tm.ColumnType[i], tm.ColumnMeta[i]
		if real == mysql.MYSQL_TYPE_STRING {
			real, _ = stringMeta(meta)
		}
		where := fmt.Sprintf("column %d (%s in the schema history)", i+1, c.Name)
		if !typeFits(real, c.Type) {
			return fmt.Errorf("%s: the binlog has type %s, the schema history %s", where, binlogTypeName(real), c.Type)
		}
		switch real {
		case mysql.MYSQL_TYPE_ENUM:
			if size, want := int(meta&0xff), enumSize(len(c.Labels)); size != want {
				return fmt.Errorf("%s: the binlog stores the ENUM in %d bytes, the schema history's %d labels need %d", where, size, len(c.Labels), want)
			}
		case mysql.MYSQL_TYPE_SET:
			if size, want := int(meta&0xff), setSize(len(c.Labels)); size != want {
				return fmt.Errorf("%s: the binlog stores the SET in %d bytes, the schema history's %d labels need %d", where, size, len(c.Labels), want)
			}
		}
		// The server flags YEAR as unsigned; the history knows it as YEAR.
		if u, ok := unsigned[i]; ok && u != c.Unsigned && real != mysql.MYSQL_TYPE_YEAR {
			return fmt.Errorf("%s: the binlog says unsigned=%v, the schema history unsigned=%v", where, u, c.Unsigned)
		}
		if id, ok := collations[i]; ok && c.Collation != 0 {
			got, ok1 := cs.lookup(id)
			want, ok2 := cs.lookup(c.Collation)
			if ok1 && ok2 && textKindOf(got.name) != textKindOf(want.name) {
				return fmt.Errorf("%s: the binlog has charset %s, the schema history %s", where, got.name, want.name)
			}
		}
	}
	return nil
}

// defMismatchError is checkDef's finding: the table map and the schema
// history disagree.
type defMismatchError struct{ err error }

func (e *defMismatchError) Error() string { return e.err.Error() }
func (e *defMismatchError) Unwrap() error { return e.err }

func columnNames(t *schema.Table) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// historyTypes holds, by binlog column type (ENUM and SET resolved), the
// schema history's types of the columns the server writes with it.
var historyTypes = map[byte][]string{
	mysql.MYSQL_TYPE_TINY:       {"tinyint"},
	mysql.MYSQL_TYPE_SHORT:      {"smallint"},
	mysql.MYSQL_TYPE_INT24:      {"mediumint"},
	mysql.MYSQL_TYPE_LONG:       {"int"},
	mysql.MYSQL_TYPE_LONGLONG:   {"bigint"},
	mysql.MYSQL_TYPE_FLOAT:      {"float"},
	mysql.MYSQL_TYPE_DOUBLE:     {"double"},
	mysql.MYSQL_TYPE_NEWDECIMAL: {"decimal"},
	mysql.MYSQL_TYPE_BIT:        {"bit"},
	mysql.MYSQL_TYPE_YEAR:       {"year"},
	mysql.MYSQL_TYPE_DATE:       {"date"},
	mysql.MYSQL_TYPE_NEWDATE:    {"date"},
	mysql.MYSQL_TYPE_TIMESTAMP:  {"timestamp"},
	mysql.MYSQL_TYPE_TIMESTAMP2: {"timestamp"},
	mysql.MYSQL_TYPE_DATETIME:   {"datetime"},
	mysql.MYSQL_TYPE_DATETIME2:  {"datetime"},
	mysql.MYSQL_TYPE_TIME:       {"time"},
	mysql.MYSQL_TYPE_TIME2:      {"time"},
	mysql.MYSQL_TYPE_VARCHAR:    {"varchar", "varbinary"},
	mysql.MYSQL_TYPE_VAR_STRING: {"varchar", "varbinary"},
	mysql.MYSQL_TYPE_STRING:     {"char", "binary"},
	mysql.MYSQL_TYPE_ENUM:       {"enum"},
	mysql.MYSQL_TYPE_SET:        {"set"},
	mysql.MYSQL_TYPE_BLOB:       {"tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob"},
	mysql.MYSQL_TYPE_JSON:       {"json"},
	mysql.MYSQL_TYPE_GEOMETRY:   {"geometry"},
}

// typeFits reports whether a binlog column type (ENUM and SET resolved) is
// how the server writes a column of the schema history's type.
func typeFits(real byte, typ string) bool {
	return slices.Contains(historyTypes[real], typ)
}

// binlogTypeName names a binlog column type for messages, by the types it
// carries.
func binlogTypeName(real byte) string {
	if types, ok := historyTypes[real]; ok {
		return strings.Join(types, "/")
	}
	return fmt.Sprintf("type %d", real)
}

// enumSize is the bytes an ENUM of n labels takes in a row.
func enumSize(n int) int {
	if n < 256 {
		return 1
	}
	return 2
}

// setSize is the bytes a SET of n labels takes in a row.
func setSize(n int) int {
	size := (n + 7) / 8
	if size > 4 {
		return 8
	}
	return max(size, 1)
}

// resolve fills the decoding fields of c and returns the column's SQL
// type in the lower-case form of event.Column.Type.
func (c *column) resolve(i int, tm *replication.TableMapEvent, cs charsets, collations map[int]uint64,
	enums, sets map[int][]string, flavor string) (string, error) {
	sign := func(s string) string {
		if c.unsigned {
			return s + " unsigned"
		}
		return s
	}
	meta := c.meta
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY:
		return sign("tinyint"), nil
	case mysql.MYSQL_TYPE_SHORT:
		return sign("smallint"), nil
	case mysql.MYSQL_TYPE_INT24:
		return sign("mediumint"), nil
	case mysql.MYSQL_TYPE_LONG:
		return sign("int"), nil
	case mysql.MYSQL_TYPE_LONGLONG:
		return sign("bigint"), nil
	case mysql.MYSQL_TYPE_YEAR:
		return "year", nil
	case mysql.MYSQL_TYPE_FLOAT:
		return sign("float"), nil
	case mysql.MYSQL_TYPE_DOUBLE:
		return sign("double"), nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		c.prec, c.scale = int(meta>>8), int(meta&0xff)
		if c.prec == 0 || c.prec > 65 || c.scale > 30 || c.scale > c.prec {
			return "", fmt.Errorf("bad decimal precision %d and scale %d", c.prec, c.scale)
		}
		return sign(fmt.Sprintf("decimal(%d,%d)", c.prec, c.scale)), nil
	case mysql.MYSQL_TYPE_BIT:
		bits := int(meta>>8)*8 + int(meta&0xff)
		return "bit(" + strconv.Itoa(bits) + ")", nil
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		c.typ = mysql.MYSQL_TYPE_DATE
		return "date", nil
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_TIME:
		return map[byte]string{mysql.MYSQL_TYPE_TIMESTAMP: "timestamp", mysql.MYSQL_TYPE_DATETIME: "datetime", mysql.MYSQL_TYPE_TIME: "time"}[c.typ], nil
	case mysql.MYSQL_TYPE_TIMESTAMP2, mysql.MYSQL_TYPE_DATETIME2, mysql.MYSQL_TYPE_TIME2:
		if meta > 6 {
			return "", fmt.Errorf("bad fractional-second precision %d", meta)
		}
		c.fsp = int(meta)
		name := map[byte]string{mysql.MYSQL_TYPE_TIMESTAMP2: "timestamp", mysql.MYSQL_TYPE_DATETIME2: "datetime", mysql.MYSQL_TYPE_TIME2: "time"}[c.typ]
		if c.fsp > 0 {
			name += "(" + strconv.Itoa(c.fsp) + ")"
		}
		return name, nil
	case mysql.MYSQL_TYPE_JSON:
		if flavor == mysql.MariaDBFlavor {
			return "", fmt.Errorf("binary JSON in a MariaDB binlog")
		}
		return "json", nil
	case mysql.MYSQL_TYPE_GEOMETRY:
		if meta < 1 || meta > 4 {
			return "", fmt.Errorf("bad geometry length size %d", meta)
		}
		return "geometry", nil
	case mysql.MYSQL_TYPE_VECTOR:
		if meta < 1 || meta > 4 {
			return "", fmt.Errorf("bad vector length size %d", meta)
		}
		return "vector", nil
	case mysql.MYSQL_TYPE_BLOB:
		if meta < 1 || meta > 4 {
			return "", fmt.Errorf("bad blob length size %d", meta)
		}
		cset, err := c.charset(i, collations, cs)
		if err != nil {
			return "", err
		}
		prefix := [...]string{"", "tiny", "", "medium", "long"}[meta]
		if c.text == textBinary {
			return prefix + "blob", nil
		}
		return prefix + "text" + charsetSuffix(cset), nil
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		c.typ = mysql.MYSQL_TYPE_VARCHAR
		cset, err := c.charset(i, collations, cs)
		if err != nil {
			return "", err
		}
		if c.text == textBinary {
			return "varbinary(" + strconv.Itoa(int(meta)) + ")", nil
		}
		return "varchar(" + strconv.Itoa(int(meta)/cset.maxLen) + ")" + charsetSuffix(cset), nil
	case mysql.MYSQL_TYPE_STRING:
		real, length := stringMeta(meta)
		switch real {
		case mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
			c.typ = real
			if n := meta & 0xff; (real == mysql.MYSQL_TYPE_ENUM && n != 1 && n != 2) || (real == mysql.MYSQL_TYPE_SET && (n < 1 || n > 8)) {
				return "", fmt.Errorf("bad enum/set storage size %d", n)
			}
			labels := enums[i]
			name := "enum"
			if real == mysql.MYSQL_TYPE_SET {
				labels, name = sets[i], "set"
			}
			if labels == nil {
				return "", fmt.Errorf("the table map has no %s labels (binlog_row_metadata is not FULL)", name)
			}
			c.labels = labels
			var b strings.Builder
			b.WriteString(name)
			b.WriteByte('(')
			for j, l := range labels {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('\'')
				b.WriteString(strings.ReplaceAll(l, "'", "''"))
				b.WriteByte('\'')
			}
			b.WriteByte(')')
			return b.String(), nil
		case mysql.MYSQL_TYPE_STRING:
			c.length = length
			cset, err := c.charset(i, collations, cs)
			if err != nil {
				return "", err
			}
			if c.text == textBinary {
				return "binary(" + strconv.Itoa(length) + ")", nil
			}
			return "char(" + strconv.Itoa(length/cset.maxLen) + ")" + charsetSuffix(cset), nil
		default:
			return "", fmt.Errorf("unsupported string real type %d", real)
		}
	case mysql.MYSQL_TYPE_NULL:
		return "null", nil
	}
	return "", fmt.Errorf("unsupported column type %d", c.typ)
}

// charsetSuffix names the charset of a text column when it is not the
// default utf8mb4, so "varchar(10)" is utf8mb4 and "varchar(10) latin1"
// is not: a consumer sees when text was transcoded.
func charsetSuffix(cs charset) string {
	if cs.name == "utf8mb4" {
		return ""
	}
	return " " + cs.name
}

func (c *column) charset(i int, collations map[int]uint64, cs charsets) (charset, error) {
	id, ok := collations[i]
	if !ok {
		return charset{}, fmt.Errorf("the table map has no collation (binlog_row_metadata is not FULL)")
	}
	cset, ok := cs.lookup(id)
	if !ok {
		return charset{}, fmt.Errorf("unknown collation id %d", id)
	}
	c.text = textKindOf(cset.name)
	if c.text == textOther {
		c.decoder = cs.text.get(cset.name)
	}
	return cset, nil
}

// stringMeta splits the metadata of a MYSQL_TYPE_STRING column into its real
// type and its length in bytes. Lengths above 255 borrow two bits of the
// type byte (see Field_string::do_save_field_metadata in the server).
func stringMeta(meta uint16) (real byte, length int) {
	if meta < 256 {
		return mysql.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return b0, int(b1)
}
