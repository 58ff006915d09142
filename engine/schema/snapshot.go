package schema

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// ServerOptions reads what a History of the server behind db needs to know:
// its collations, collation_server and lower_case_table_names.
func ServerOptions(ctx context.Context, db *sql.DB, flavor string) (Options, error) {
	opts := Options{Flavor: flavor}
	colls, err := LoadCollations(ctx, db)
	if err != nil {
		return opts, err
	}
	opts.Collations = colls
	var server string
	var lctn int
	if err := db.QueryRowContext(ctx, "SELECT @@collation_server, @@lower_case_table_names").Scan(&server, &lctn); err != nil {
		return opts, fmt.Errorf("reading collation_server and lower_case_table_names: %w", err)
	}
	opts.ServerCollation, _ = colls.ID(server)
	opts.FoldNames = lctn != 0
	return opts, nil
}

// systemSchemas is isSystemSchema as an SQL list.
const systemSchemas = "('mysql', 'information_schema', 'performance_schema', 'sys')"

// Snapshot reads the definition of every table of every database but the
// server's own from information_schema into a new History, as of position
// at. The snapshot is the schema when it runs: at stands for the position
// the caller will read the binlog from, and the two agree only if no DDL
// runs in between.
func Snapshot(ctx context.Context, db *sql.DB, opts Options, at Pos) (*History, error) {
	h := New(opts, at)
	colls := h.opts.Collations
	collID := func(name sql.NullString) uint64 {
		if !name.Valid {
			return 0
		}
		id, _ := colls.ID(name.String)
		return id
	}

	rows, err := db.QueryContext(ctx, "SELECT SCHEMA_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN "+systemSchemas)
	if err != nil {
		return nil, fmt.Errorf("reading databases: %w", err)
	}
	err = eachRow(rows, func() error {
		var schema string
		var coll sql.NullString
		if err := rows.Scan(&schema, &coll); err != nil {
			return err
		}
		h.putDB(schema, dbVersion{Pos: at, Collation: collID(coll), Snapshot: true})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading databases: %w", err)
	}

	tables := map[name]*Table{}
	lost := map[name]string{}
	rows, err = db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_TYPE NOT IN ('VIEW', 'SYSTEM VIEW') AND TABLE_SCHEMA NOT IN "+systemSchemas)
	if err != nil {
		return nil, fmt.Errorf("reading tables: %w", err)
	}
	err = eachRow(rows, func() error {
		var t Table
		var coll sql.NullString
		var typ string
		if err := rows.Scan(&t.Schema, &t.Name, &coll, &typ); err != nil {
			return err
		}
		t.Collation = collID(coll)
		t.SystemVersioned = typ == "SYSTEM VERSIONED"
		tables[h.key(t.Schema, t.Name)] = &t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tables: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COLLATION_NAME, IS_NULLABLE
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN `+systemSchemas+`
		ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("reading columns: %w", err)
	}
	err = eachRow(rows, func() error {
		var schema, table, colName, dataType, colType, nullable string
		var coll sql.NullString
		if err := rows.Scan(&schema, &table, &colName, &dataType, &colType, &coll, &nullable); err != nil {
			return err
		}
		t := tables[h.key(schema, table)]
		if t == nil {
			return nil // a view's
		}
		c := Column{Name: colName, Type: normalizeDataType(dataType), NotNull: strings.EqualFold(nullable, "NO")}
		c.Unsigned = isNumeric(c.Type) && strings.Contains(strings.ToLower(colType), "unsigned")
		switch {
		case isBinaryString(c.Type):
			c.Collation = CollationBinary
		case coll.Valid:
			c.Collation = collID(coll)
			if c.Collation == 0 {
				return fmt.Errorf("column %s.%s.%s: unknown collation %s", schema, table, colName, coll.String)
			}
		}
		if c.Type == "enum" || c.Type == "set" {
			labels, err := h.labelsOf(colType)
			if err != nil {
				return fmt.Errorf("column %s.%s.%s: reading the labels of %s: %w", schema, table, colName, colType, err)
			}
			c.Labels = labels
			for _, l := range labels {
				// information_schema is utf8mb3: it shows a character
				// beyond the BMP (an emoji) as '?', so a utf8mb4 label
				// with one may not be what the server stores. Other
				// charsets have no such characters.
				if strings.Contains(l, "?") && h.opts.Collations.Charset(c.Collation) == "utf8mb4" {
					lost[h.key(schema, table)] = fmt.Sprintf("information_schema shows a label of %s %s as %q, and writes characters it cannot show as '?'", colName, c.Type, l)
				}
			}
		}
		t.Columns = append(t.Columns, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading columns: %w", err)
	}

	// Unique keys in the order the server keeps them, which among those
	// that can stand in for a primary key is the order they were made:
	// no ORDER BY, which would lose it.
	rows, err = db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART
		FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA NOT IN `+systemSchemas)
	if err != nil {
		return nil, fmt.Errorf("reading unique keys: %w", err)
	}
	type part struct {
		seq     int
		col     string
		partial bool
	}
	type keyParts struct {
		table *Table
		name  string
		parts []part
	}
	var keys []*keyParts
	byKey := map[[3]string]*keyParts{}
	err = eachRow(rows, func() error {
		var schema, table, index string
		var seq int
		var col, subPart sql.NullString
		if err := rows.Scan(&schema, &table, &index, &seq, &col, &subPart); err != nil {
			return err
		}
		t := tables[h.key(schema, table)]
		if t == nil {
			return nil
		}
		k := byKey[[3]string{schema, table, index}]
		if k == nil {
			k = &keyParts{table: t, name: index}
			byKey[[3]string{schema, table, index}] = k
			keys = append(keys, k)
		}
		// A NULL column is an expression (MySQL functional key parts).
		k.parts = append(k.parts, part{seq: seq, col: col.String, partial: !col.Valid || subPart.Valid})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading unique keys: %w", err)
	}
	for _, k := range keys {
		slices.SortFunc(k.parts, func(a, b part) int { return a.seq - b.seq })
		if k.name == "PRIMARY" {
			for _, p := range k.parts {
				k.table.PK = append(k.table.PK, p.col)
			}
			continue
		}
		key := Key{Name: k.name}
		for _, p := range k.parts {
			if p.col != "" {
				key.Columns = append(key.Columns, p.col)
			}
			key.Partial = key.Partial || p.partial
		}
		k.table.Unique = append(k.table.Unique, key)
	}

	periods, err := namedPeriods(ctx, db, tables, h)
	if err != nil {
		return nil, fmt.Errorf("reading system-versioned tables: %w", err)
	}
	for n, t := range tables {
		if reason, ok := lost[n]; ok {
			h.tables[n] = []tableVersion{{Pos: at, Lost: reason, Snapshot: true}}
			continue
		}
		if t.SystemVersioned && !periods[n] {
			addSystemPeriod(t)
		}
		h.tables[n] = []tableVersion{{Pos: at, Def: t, Snapshot: true}}
	}
	return h, nil
}

func eachRow(rows *sql.Rows, f func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := f(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// namedPeriods returns the system-versioned tables among tables whose
// definition names its period columns (GENERATED ALWAYS AS ROW START). It
// asks only when there are such tables: a server without system versioning
// may lack GENERATION_EXPRESSION.
func namedPeriods(ctx context.Context, db *sql.DB, tables map[name]*Table, h *History) (map[name]bool, error) {
	periods := map[name]bool{}
	versioned := false
	for _, t := range tables {
		versioned = versioned || t.SystemVersioned
	}
	if !versioned {
		return periods, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.COLUMNS WHERE GENERATION_EXPRESSION = 'ROW START' AND TABLE_SCHEMA NOT IN "+systemSchemas)
	if err != nil {
		return nil, err
	}
	err = eachRow(rows, func() error {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return err
		}
		periods[h.key(schema, table)] = true
		return nil
	})
	return periods, err
}

// addSystemPeriod adds to a table WITH SYSTEM VERSIONING that does not
// name its period columns the ones MariaDB adds unseen: row_start and
// row_end, last in the row, which information_schema does not list. The
// server appends row_end to the primary key and to every unique key, also
// unseen.
func addSystemPeriod(t *Table) {
	t.Columns = append(t.Columns,
		Column{Name: "row_start", Type: "timestamp", NotNull: true},
		Column{Name: "row_end", Type: "timestamp", NotNull: true})
	if len(t.PK) > 0 {
		t.PK = append(t.PK, "row_end")
	}
	for i := range t.Unique {
		t.Unique[i].Columns = append(t.Unique[i].Columns, "row_end")
	}
}

// normalizeDataType maps information_schema's DATA_TYPE to the names DDL
// gives: every spatial type is "geometry", and MariaDB's UUID, INET6 and
// INET4 are the "binary" they are read as (mariadbSpellings).
func normalizeDataType(t string) string {
	t = strings.ToLower(t)
	switch t {
	case "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return "geometry"
	}
	if binaryTypes[strings.ToUpper(t)] != "" {
		return "binary"
	}
	return t
}

// labelsOf reads the labels of an ENUM or SET column type as
// information_schema writes it ("enum('a','it”s')"), with the SQL parser,
// which knows the server's quoting.
func (h *History) labelsOf(colType string) ([]string, error) {
	stmts, err := h.parse(DDL{Query: "CREATE TABLE t (c " + colType + ")"})
	if err != nil {
		return nil, err
	}
	ct, ok := stmts[0].(*ast.CreateTableStmt)
	if !ok || len(ct.Cols) != 1 || ct.Cols[0].Tp == nil {
		return nil, fmt.Errorf("not a column type")
	}
	labels := ct.Cols[0].Tp.GetElems()
	if labels == nil {
		labels = []string{}
	}
	return labels, nil
}
