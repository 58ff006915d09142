package event

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func sampleTable() *Table {
	return NewTable("shop", "items", []Column{
		{Name: "id", Type: "bigint unsigned"},
		{Name: "n", Type: "bigint"},
		{Name: "price", Type: "decimal(65,30)"},
		{Name: "ratio", Type: "float"},
		{Name: "d", Type: "double"},
		{Name: "name", Type: "varchar(50)"},
		{Name: "raw", Type: "varbinary(16)"},
		{Name: "at", Type: "datetime(6)"},
		{Name: "doc", Type: "json"},
		{Name: "flags", Type: "bit(64)"},
		{Name: "gone", Type: "int"},
	}, []int{0})
}

func sampleRow() []Value {
	return []Value{
		UintValue(math.MaxUint64),
		IntValue(math.MinInt64),
		DecimalValue("-12345678901234567890123456789012345.123456789012345678901234567890"),
		Float32Value(1.1),
		FloatValue(-2.5e-300),
		StringValue("h\u00e9llo \"w\"\n\x01 \U0001F600"),
		BytesValue([]byte{0x00, 0xff, 0x10}),
		TimeValue("2024-02-29 23:59:59.000001"),
		JSONValue(`{"a": [1, 2.50]}`),
		UintValue(1<<64 - 1),
		NullValue(),
	}
}

func TestJSONRoundTripKeepsEveryValueExact(t *testing.T) {
	tbl := sampleTable()
	before := sampleRow()
	after := sampleRow()
	after[5] = StringValue("changed")
	after[10] = IntValue(-7)
	tests := []struct {
		name string
		ev   Event
	}{
		{"insert", Event{Action: Insert, After: sampleRow()}},
		{"update", Event{Action: Update, Before: before, After: after}},
		{"delete", Event{Action: Delete, Before: sampleRow()}},
		{"snapshot", Event{Action: Snapshot, After: sampleRow()}},
		{"update with a missing column", Event{Action: Update, Before: append(sampleRow()[:10:10], Value{}), After: append(sampleRow()[:10:10], Value{})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.ev
			e.Table = tbl
			e.ID = "mysql-bin.000001:400:0"
			e.TS = 1700000000123
			e.Pos = Position{File: "mysql-bin.000001", Pos: 400, GTID: "0-1-9"}
			e.Version = MakeVersion(1, 400, 0)
			e.Tx = Tx{ID: "0-1-9", Seq: 3}
			e.Key = MakeKey(tbl, e.Row())
			data, err := AppendJSON(nil, &e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if got.ID != e.ID || got.Action != e.Action || got.TS != e.TS || got.Pos != e.Pos || got.Version != e.Version || got.Tx != e.Tx || got.Key != e.Key {
				t.Errorf("header changed: got %+v want %+v", got, e)
			}
			if len(got.Table.Columns) != len(tbl.Columns) || got.Table.PKNames()[0] != "id" {
				t.Errorf("table changed: %+v", got.Table)
			}
			for i, c := range tbl.Columns {
				if got.Table.Columns[i] != c {
					t.Errorf("column %d: got %+v want %+v", i, got.Table.Columns[i], c)
				}
			}
			compareRows(t, "before", got.Before, e.Before)
			compareRows(t, "after", got.After, e.After)
			again, err := AppendJSON(nil, got)
			if err != nil || string(again) != string(data) {
				t.Errorf("re-encoding differs:\n%s\n%s", again, data)
			}
		})
	}
}

func compareRows(t *testing.T, what string, got, want []Value) {
	t.Helper()
	if (got == nil) != (want == nil) || len(got) != len(want) {
		t.Fatalf("%s: got %v want %v", what, got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s[%d]: got %v (%s) want %v (%s)", what, i, got[i], got[i].Kind(), want[i], want[i].Kind())
		}
	}
}

// TestAStatementThatIsNotUTF8TravelsAsBytes: a DDL statement is logged in
// its client's charset; one in latin1 must still make valid JSON and come
// back byte for byte.
func TestAStatementThatIsNotUTF8TravelsAsBytes(t *testing.T) {
	for _, stmt := range []string{"ALTER TABLE t COMMENT 'caf\xe9'", "ALTER TABLE t COMMENT 'café'"} {
		e := &Event{ID: "f:1:0", Action: DDL, Table: NewTable("s", "t", nil, nil), Statement: stmt}
		data, err := AppendJSON(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Fatalf("%q: not JSON: %s", stmt, data)
		}
		if base64 := bytes.Contains(data, []byte(`"ddl":{"base64":`)); base64 == utf8.ValidString(stmt) {
			t.Errorf("%q: written as %s", stmt, data)
		}
		var d Decoder
		back, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if back.Statement != stmt {
			t.Errorf("statement %q came back as %q", stmt, back.Statement)
		}
	}
}

func TestAppendJSONWritesTheDocumentedForm(t *testing.T) {
	tbl := NewTable("s", "t", []Column{{Name: "id", Type: "int"}, {Name: "b", Type: "blob"}, {Name: "p", Type: "decimal(5,2)"}}, []int{0})
	e := &Event{ID: "f.000002:10:1", Action: Update, Table: tbl, Key: "7", TS: 5,
		Pos: Position{File: "f.000002", Pos: 10}, Version: 9, Tx: Tx{ID: "f.000002:4", Seq: 1},
		Before: []Value{IntValue(7), BytesValue([]byte{0}), DecimalValue("1.50")},
		After:  []Value{IntValue(7), BytesValue([]byte{0}), NullValue()}}
	got, err := AppendJSON(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"id":"f.000002:10:1","schema":"s","table":"t","action":"update","ts":5,"pos":{"file":"f.000002","pos":10},"version":9,"tx":{"id":"f.000002:4","seq":1},"pk":["id"],"key":"7","types":{"id":"int","b":"blob","p":"decimal(5,2)"},"before":{"id":7,"b":{"base64":"AA=="},"p":"1.50"},"after":{"id":7,"b":{"base64":"AA=="},"p":null},"changed":["p"]}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendJSONRefusesWhatJSONCannotCarry(t *testing.T) {
	tbl := NewTable("s", "t", []Column{{Name: "c", Type: "text"}}, nil)
	for _, v := range []Value{StringValue("\xff"), FloatValue(math.NaN()), FloatValue(math.Inf(1))} {
		_, err := AppendJSON(nil, &Event{ID: "x", Action: Insert, Table: tbl, After: []Value{v}})
		if err == nil || !strings.Contains(err.Error(), "column c") {
			t.Errorf("value %v: got error %v, want one naming column c", v, err)
		}
	}
}

func TestDecodeRejectsMalformedEvents(t *testing.T) {
	valid := `{"v":1,"id":"a:1:0","schema":"s","table":"t","action":"insert","ts":1,"pos":{"file":"a","pos":1},"version":1,"tx":{"id":"a:1","seq":0},"pk":["id"],"key":"1","types":{"id":"int","u":"int unsigned","p":"decimal(5,2)","t":"datetime"},"after":{"id":1,"u":2,"p":"1.00","t":"2020-01-01 00:00:00"}}`
	if _, err := Decode([]byte(valid)); err != nil {
		t.Fatalf("the valid sample does not decode: %v", err)
	}
	tests := []struct {
		name, from, to, wantErr string
	}{
		{"not JSON", valid, "{", "decoding event"},
		{"an unknown field", `"ts":1`, `"ts":1,"extra":2`, "unknown field"},
		{"another format version", `"v":1`, `"v":2`, "format version 2"},
		{"an unknown action", `"insert"`, `"upsert"`, "unknown action"},
		{"a column not in types", `"id":1,"u"`, `"id":1,"zz":3,"u"`, `column "zz" is not in types`},
		{"a fraction in an integer", `"id":1,"u"`, `"id":1.5,"u"`, "not a signed 64-bit integer"},
		{"an integer beyond int64", `"id":1,"u"`, `"id":9223372036854775808,"u"`, "not a signed 64-bit integer"},
		{"a negative unsigned", `"u":2`, `"u":-2`, "not an unsigned"},
		{"a float decimal", `"p":"1.00"`, `"p":1.00`, "where decimal is expected"},
		{"a malformed decimal", `"p":"1.00"`, `"p":"1e5"`, "is not a decimal"},
		{"a number for a datetime", `"t":"2020-01-01 00:00:00"`, `"t":5`, "where time is expected"},
		{"a delete without before", `"insert"`, `"delete"`, "before image absent"},
		{"a key that does not match", `"key":"1"`, `"key":"2"`, "does not match"},
		{"a pk column not in types", `"pk":["id"]`, `"pk":["nope"]`, "not in types"},
		{"bad base64", `"u":2`, `"u":{"base64":"@@"}`, "bad base64"},
		{"an object that is not bytes", `"u":2`, `"u":{"x":1}`, "base64"},
		{"trailing data", valid, valid + "{}", "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(valid, tt.from, tt.to, 1)
			if in == valid {
				t.Fatalf("replacement %q did not apply", tt.from)
			}
			_, err := Decode([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecoderSharesTablesAcrossMessages(t *testing.T) {
	tbl := NewTable("s", "t", []Column{{Name: "id", Type: "int"}}, []int{0})
	var d Decoder
	var tables []*Table
	for i := 0; i < 2; i++ {
		data, _ := AppendJSON(nil, &Event{ID: "x", Action: Insert, Table: tbl, Key: "1", After: []Value{IntValue(1)}})
		e, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, e.Table)
	}
	if tables[0] != tables[1] {
		t.Error("two messages of one table version decoded into two Tables")
	}
}

func TestMakeVersionGrowsWithPosition(t *testing.T) {
	ordered := []uint64{
		MakeVersion(1, 4, 0), MakeVersion(1, 4, 1), MakeVersion(1, 5, 0),
		MakeVersion(1, math.MaxUint32, 2047), MakeVersion(2, 0, 0), MakeVersion(999999, 4, 0),
	}
	for i := 1; i < len(ordered); i++ {
		if ordered[i] <= ordered[i-1] {
			t.Errorf("version %d (%d) is not above %d", i, ordered[i], ordered[i-1])
		}
	}
	if v := MakeVersion(1<<30, math.MaxUint32, 1<<20); v > math.MaxInt64 {
		t.Errorf("version %d does not fit a signed 64-bit integer", v)
	}
}

func TestFileSeq(t *testing.T) {
	for in, want := range map[string]uint64{"mysql-bin.000042": 42, "mariadb-bin.999999": 999999, "x.log": 0, "": 0} {
		if got := FileSeq(in); got != want {
			t.Errorf("FileSeq(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for typ, want := range map[string]Kind{
		"int": Int, "bigint unsigned": Uint, "tinyint(1)": Int, "int(10) unsigned": Uint, "year": Int,
		"bit(64)": Uint, "float": Float, "double": Float, "decimal(65,30)": Decimal,
		"datetime(6)": Time, "timestamp": Time, "time(3)": Time, "date": Time, "json": JSON,
		"binary(4)": Bytes, "longblob": Bytes, "varchar(10)": String, "enum('a','b')": String,
		"set('x')": String, "longtext": String,
	} {
		if got := KindOf(typ); got != want {
			t.Errorf("KindOf(%q) = %s, want %s", typ, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	tbl := sampleTable()
	data, _ := AppendJSON(nil, &Event{ID: "a", Action: Insert, Table: tbl, After: sampleRow(), Key: MakeKey(tbl, sampleRow())})
	f.Add(data)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := Decode(in)
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same event.
		out, err := AppendJSON(nil, e)
		if err != nil {
			return // e.g. text that is valid JSON but not valid UTF-8 after unescaping
		}
		e2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, out)
		}
		compareRows(t, "after", e2.After, e.After)
		compareRows(t, "before", e2.Before, e.Before)
	})
}

func TestAppendJSONStringEscapesLikeEncodingJSONWithoutHTML(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"h\u00e9llo \U0001F600", "<a href='x'>&</a>", "line\u2028para\u2029end", "\u2028", "x\u2029",
		"\u2027 is not a separator", "ends in \u2029",
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendJSONString([]byte("x"), s)); got != "x"+strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("AppendJSONString(%q) = %s, want x%s", s, got, want.String())
		}
	}
}

func TestAppendJSONTextRefusesWhatIsNotUTF8(t *testing.T) {
	for _, s := range []string{
		"", "plain", "h\u00e9llo \U0001F600", "line\u2028para\u2029end", "tab\t\"q\"\x01",
		"\xff", "ok\xff", "\xc3", "ends in a cut rune \xe2\x80", "\xed\xa0\x80 surrogate",
		"\xc0\xaf overlong", "\xf4\x90\x80\x80 beyond U+10FFFF", "\xe2\x80\xa8\xff",
	} {
		got, ok := AppendJSONText([]byte("x"), s)
		if ok != utf8.ValidString(s) {
			t.Errorf("AppendJSONText(%q) ok = %v, want %v", s, ok, !ok)
			continue
		}
		if want := string(AppendJSONString([]byte("x"), s)); ok && string(got) != want {
			t.Errorf("AppendJSONText(%q) = %s, want %s", s, got, want)
		}
		if !ok && string(got) != "x" {
			t.Errorf("AppendJSONText(%q) refused but left %q", s, got)
		}
	}
	// What is not UTF-8 is copied as it is by AppendJSONString.
	if got := string(AppendJSONString(nil, "a\xffb\n")); got != "\"a\xffb\\n\"" {
		t.Errorf("AppendJSONString kept %q", got)
	}
}

func TestAppendJSONFloatWritesNumbersAsJavaScriptDoes(t *testing.T) {
	for f, want := range map[float64]string{
		1234567.5: "1234567.5", 0.1: "0.1", -2.5: "-2.5", 1e20: "100000000000000000000",
		1e21: "1e+21", 1e-7: "1e-07", 0.000001: "0.000001", 0: "0", 1.7976931348623157e308: "1.7976931348623157e+308",
	} {
		got := string(AppendJSONFloat(nil, f))
		if got != want {
			t.Errorf("AppendJSONFloat(%v) = %s, want %s", f, got, want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != f {
			t.Errorf("%s reads back as %v (%v), want %v", got, back, err, f)
		}
	}
}

// FuzzAppendJSONText holds the JSON string writer to utf8.ValidString for
// what it refuses, and to encoding/json for reading back what it writes.
func FuzzAppendJSONText(f *testing.F) {
	for _, s := range []string{"plain", "q\"b\\\n\x00\b", "h\u00e9llo \U0001F600", "\u2028\u2029", "\xff", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := AppendJSONText(nil, s)
		if ok != utf8.ValidString(s) {
			t.Fatalf("AppendJSONText(%q) ok = %v", s, ok)
		}
		if !ok {
			return
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Fatalf("AppendJSONText(%q) = %s, which reads back as %q (%v)", s, got, back, err)
		}
		if bytes.ContainsAny(got, "\u2028\u2029") {
			t.Fatalf("AppendJSONText(%q) = %s carries a line or paragraph separator raw", s, got)
		}
	})
}
