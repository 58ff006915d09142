package capture

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/schema"
)

// Every checkpoint store keeps a schema history, so the daemon can hand
// its store to capture for both.
var (
	_ SchemaHistoryStore = (*checkpoint.FileStore)(nil)
	_ SchemaHistoryStore = (*checkpoint.RedisStore)(nil)
	_ SchemaHistoryStore = (*checkpoint.MySQLStore)(nil)
	_ SchemaHistoryStore = (*checkpoint.Memory)(nil)
)

func TestCheckVariablesSaysWhatToChange(t *testing.T) {
	good := map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL", "server_id": "7"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		vars     map[string]string
		err      string // a part of the error; "" for none
		full     bool
		rowImage string
		serverID uint32 // 7 unless said
	}{
		{name: "a server with everything set", vars: good, full: true, rowImage: "FULL"},
		{name: "log_bin=1, as MySQL says ON", vars: with("log_bin", "1"), full: true, rowImage: "FULL"},
		{name: "binary logging off", vars: with("log_bin", "OFF"), err: "has binary logging off: start it with log_bin=ON"},
		{name: "no log_bin at all", vars: with("log_bin", ""), err: "has binary logging off"},
		{name: "statement format", vars: with("binlog_format", "STATEMENT"), err: "has binlog_format=STATEMENT: capture needs ROW (SET GLOBAL binlog_format='ROW'"},
		{name: "mixed format", vars: with("binlog_format", "MIXED"), err: "has binlog_format=MIXED: capture needs ROW"},
		{name: "partial JSON updates", vars: with("binlog_row_value_options", "PARTIAL_JSON"), err: "partial JSON updates do not carry whole values"},
		{name: "minimal row metadata uses the schema history", vars: with("binlog_row_metadata", "MINIMAL"), full: false, rowImage: "FULL"},
		{name: "a server without binlog_row_metadata uses the schema history", vars: with("binlog_row_metadata", ""), full: false, rowImage: "FULL"},
		{name: "a minimal row image is allowed", vars: with("binlog_row_image", "MINIMAL"), full: true, rowImage: "MINIMAL"},
		{name: "the largest server_id", vars: with("server_id", "4294967295"), full: true, rowImage: "FULL", serverID: 4294967295},
		{name: "no server_id is 0, unknown", vars: with("server_id", ""), full: true, rowImage: "FULL", serverID: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := checkVariables(tt.vars)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.fullMetadata != tt.full || b.rowImage != tt.rowImage {
				t.Errorf("got full=%v row image %s, want %v %s", b.fullMetadata, b.rowImage, tt.full, tt.rowImage)
			}
			want := tt.serverID
			if want == 0 && tt.vars["server_id"] != "" {
				want = 7
			}
			if b.serverID != want {
				t.Errorf("got server_id %d, want %d", b.serverID, want)
			}
		})
	}
}

func TestQueryStatusReadsSQLModeAndCollations(t *testing.T) {
	// A CREATE TABLE's status variables as MariaDB 10.11 writes them:
	// flags2, sql_mode, catalog "std", charsets 8/45/45 (a latin1
	// client), then MariaDB's Q_XID (0x81), which stops the reading.
	vars, _ := hex.DecodeString("0000000001010000205400000000060373746404080008002d00812e00000000000000")
	if got, want := queryStatus(vars), (statusVars{sqlMode: 0x54200000, clientCollation: 8, serverCollation: 45}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := queryStatus(vars[:9]); got != (statusVars{}) {
		t.Errorf("cut inside sql_mode: got %+v", got)
	}
}

// minimalMap is a TABLE_MAP as a server with binlog_row_metadata=MINIMAL
// writes it for
//
//	(id INT UNSIGNED, name VARCHAR(10) utf8mb4, e ENUM('a','b'), s SET('x','y','z'), bin VARBINARY(4), l CHAR(2) latin1)
//
// signedness and character-column collations, no names, labels or key.
func minimalMap() *replication.TableMapEvent {
	return &replication.TableMapEvent{
		Schema: []byte("db"), Table: []byte("t"), ColumnCount: 6,
		ColumnType: []byte{mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_STRING},
		ColumnMeta: []uint16{0, 40, uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1, uint16(mysql.MYSQL_TYPE_SET)<<8 | 1, 4, uint16(mysql.MYSQL_TYPE_STRING)<<8 | 2},
		// One numeric column, unsigned: the bitmap's first bit.
		SignednessBitmap: []byte{0x80},
		// Character columns name, bin, l (in order): 45, 63, 8.
		ColumnCharset: []uint64{45, 63, 8},
	}
}

func minimalDef() *schema.Table {
	return &schema.Table{Schema: "db", Name: "t", PK: []string{"id"}, Collation: 45, Columns: []schema.Column{
		{Name: "id", Type: "int", Unsigned: true},
		{Name: "name", Type: "varchar", Collation: 45},
		{Name: "e", Type: "enum", Collation: 45, Labels: []string{"a", "b"}},
		{Name: "s", Type: "set", Collation: 45, Labels: []string{"x", "y", "z"}},
		{Name: "bin", Type: "varbinary", Collation: 63},
		{Name: "l", Type: "char", Collation: 8},
	}}
}

// TestBuildTableTakesHistoryLabelsInAnyCharset: labels from the schema
// history are text already, so an ENUM in a charset whose table-map labels
// capture could not decode (binary here) is fine on this path.
func TestBuildTableTakesHistoryLabelsInAnyCharset(t *testing.T) {
	def := minimalDef()
	def.Columns[2].Collation = 63 // ENUM ... CHARACTER SET binary
	tv, err := buildTable(minimalMap(), charsets{}, mysql.MariaDBFlavor, def)
	if err != nil {
		t.Fatal(err)
	}
	if got := tv.table.Columns[2].Type; got != "enum('a','b')" {
		t.Errorf("e is %s", got)
	}
}

func TestBuildTableTakesNamesLabelsAndKeyFromTheSchemaHistory(t *testing.T) {
	tv, err := buildTable(minimalMap(), charsets{}, mysql.MariaDBFlavor, minimalDef())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tv.table.Columns {
		got = append(got, c.Name+" "+c.Type)
	}
	want := "id int unsigned,name varchar(10),e enum('a','b'),s set('x','y','z'),bin varbinary(4),l char(2) latin1"
	if strings.Join(got, ",") != want {
		t.Errorf("columns %q\nwant    %q", strings.Join(got, ","), want)
	}
	if pk := tv.table.PKNames(); len(pk) != 1 || pk[0] != "id" {
		t.Errorf("primary key %v", pk)
	}
	// A row decodes by the history's signedness and labels and the
	// binlog's charsets: 4294967295, 'héllo', 'b', 'x,z', 0x00ff, 'é' in latin1.
	row := []byte{0x00}                       // null bitmap
	row = append(row, 0xff, 0xff, 0xff, 0xff) // id
	row = append(row, 6, 'h', 0xc3, 0xa9, 'l', 'l', 'o')
	row = append(row, 2)          // e: index 2
	row = append(row, 0b101)      // s: x and z
	row = append(row, 2, 0, 0xff) // bin
	row = append(row, 1, 0xe9)    // l
	vals, n, err := (&rowDecoder{}).decodeImage(tv, []byte{0x3f}, row, nil)
	if err != nil || n != len(row) {
		t.Fatalf("decode: %v (%d of %d bytes)", err, n, len(row))
	}
	wantVals := []event.Value{event.UintValue(4294967295), event.StringValue("héllo"), event.StringValue("b"),
		event.StringValue("x,z"), event.BytesValue([]byte{0, 0xff}), event.StringValue("é")}
	for i, w := range wantVals {
		if !vals[i].Equal(w) {
			t.Errorf("%s = %s %s, want %s %s", tv.table.Columns[i].Name, vals[i].Kind(), vals[i], w.Kind(), w)
		}
	}
}

func TestCheckDefFindsTheFirstDifferingColumn(t *testing.T) {
	tests := []struct {
		name   string
		change func(tm *replication.TableMapEvent, def *schema.Table)
		want   string
	}{
		{"a column the history lacks", func(_ *replication.TableMapEvent, def *schema.Table) { def.Columns = def.Columns[:5] },
			"the binlog's table map has 6 columns, the schema history's definition 5 (id, name, e, s, bin)"},
		{"another type", func(_ *replication.TableMapEvent, def *schema.Table) { def.Columns[1].Type = "int" },
			"column 2 (name in the schema history): the binlog has type varchar/varbinary, the schema history int"},
		{"columns in another order", func(_ *replication.TableMapEvent, def *schema.Table) {
			def.Columns[0], def.Columns[1] = def.Columns[1], def.Columns[0]
		}, "column 1 (name in the schema history): the binlog has type int, the schema history varchar"},
		{"an ENUM with too many labels", func(_ *replication.TableMapEvent, def *schema.Table) {
			def.Columns[2].Labels = make([]string, 300)
		}, "column 3 (e in the schema history): the binlog stores the ENUM in 1 bytes, the schema history's 300 labels need 2"},
		{"a SET with too many labels", func(_ *replication.TableMapEvent, def *schema.Table) {
			def.Columns[3].Labels = make([]string, 9)
		}, "column 4 (s in the schema history): the binlog stores the SET in 1 bytes, the schema history's 9 labels need 2"},
		{"another signedness", func(_ *replication.TableMapEvent, def *schema.Table) { def.Columns[0].Unsigned = false },
			"column 1 (id in the schema history): the binlog says unsigned=true, the schema history unsigned=false"},
		{"binary where the history has text", func(_ *replication.TableMapEvent, def *schema.Table) { def.Columns[1].Collation = 63 },
			"column 2 (name in the schema history): the binlog has charset utf8mb4, the schema history binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, def := minimalMap(), minimalDef()
			tt.change(tm, def)
			_, err := buildTable(tm, charsets{}, mysql.MariaDBFlavor, def)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
	// Charsets of one kind may differ: utf8mb3 where the history says
	// utf8mb4 (NATIONAL CHAR, which the parser reads as the table's).
	tm, def := minimalMap(), minimalDef()
	tm.ColumnCharset[0] = 33
	tv, err := buildTable(tm, charsets{}, mysql.MariaDBFlavor, def)
	if err != nil || tv.table.Columns[1].Type != "varchar(13) utf8mb3" {
		t.Errorf("utf8mb3 in the binlog, utf8mb4 in the history: %v, %+v", err, tv)
	}
}
