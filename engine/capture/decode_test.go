package capture

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/moontide/moontide/engine/event"
)

// encodeDecimal is the server's binary DECIMAL encoding (decimal2bin), for
// building row images in tests.
func encodeDecimal(t *testing.T, s string, prec, scale int) []byte {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	ip = strings.TrimLeft(ip, "0")
	intg := prec - scale
	ip = strings.Repeat("0", intg-len(ip)) + ip
	fp += strings.Repeat("0", scale-len(fp))
	var out []byte
	put := func(digits string) {
		n := len(digits)
		var v uint32
		for _, c := range digits {
			v = v*10 + uint32(c-'0')
		}
		size := digitBytes[n]
		if n == 9 {
			size = 4
		}
		for i := size - 1; i >= 0; i-- {
			out = append(out, byte(v>>(8*i)))
		}
	}
	if first := intg % 9; first > 0 {
		put(ip[:first])
	}
	for i := intg % 9; i < intg; i += 9 {
		put(ip[i : i+9])
	}
	for i := 0; i+9 <= scale; i += 9 {
		put(fp[i : i+9])
	}
	if last := scale % 9; last > 0 {
		put(fp[scale-last:])
	}
	out[0] ^= 0x80
	if neg {
		for i := range out {
			out[i] = ^out[i]
		}
	}
	return out
}

func TestDecodeDecimalKeepsEveryDigitAndTheScale(t *testing.T) {
	tests := []struct {
		in          string
		prec, scale int
		want        string
	}{
		{"0", 10, 2, "0.00"},
		{"-12.5", 10, 2, "-12.50"},
		{"1234567890.123456789", 19, 9, "1234567890.123456789"},
		{"12345678901234567890123456789012345.123456789012345678901234567890", 65, 30, "12345678901234567890123456789012345.123456789012345678901234567890"},
		{"-99999999999999999999999999999999999.999999999999999999999999999999", 65, 30, "-99999999999999999999999999999999999.999999999999999999999999999999"},
		{"-0.000000000000000000000000000001", 65, 30, "-0.000000000000000000000000000001"},
		{"0.5", 5, 5, "0.50000"},
		{"-99999999999999999999", 20, 0, "-99999999999999999999"},
		{"7", 1, 0, "7"},
	}
	for _, tt := range tests {
		data := encodeDecimal(t, tt.in, tt.prec, tt.scale)
		got, n, err := decodeDecimal(append(data, 0xAA), tt.prec, tt.scale)
		if err != nil || got != tt.want || n != len(data) {
			t.Errorf("decimal(%d,%d) %s: got %q, %d bytes, %v; want %q, %d bytes", tt.prec, tt.scale, tt.in, got, n, err, tt.want, len(data))
		}
	}
	if _, _, err := decodeDecimal([]byte{0x80}, 10, 2); !errors.Is(err, errShort) {
		t.Errorf("a truncated decimal: got %v, want errShort", err)
	}
}

func TestFormatTimestampIsUTCWithTheColumnsDigits(t *testing.T) {
	tests := []struct {
		sec, usec int64
		fsp       int
		want      string
	}{
		{1, 1, 6, "1970-01-01T00:00:01.000001Z"},
		{2147483647, 999999, 6, "2038-01-19T03:14:07.999999Z"},
		{951782400, 0, 0, "2000-02-29T00:00:00Z"},
		{1700000000, 120000, 3, "2023-11-14T22:13:20.120Z"},
		{0, 0, 2, "0000-00-00 00:00:00.00"},
	}
	for _, tt := range tests {
		if got := formatTimestamp(tt.sec, tt.usec, tt.fsp); got != tt.want {
			t.Errorf("formatTimestamp(%d, %d, %d) = %q, want %q", tt.sec, tt.usec, tt.fsp, got, tt.want)
		}
	}
}

// encodeTime2 is the server's TIME2 encoding (my_time_packed_to_binary).
func encodeTime2(neg bool, h, m, s, usec int64, fsp int) []byte {
	packed := (h<<12|m<<6|s)<<24 + usec
	if neg {
		packed = -packed
	}
	var out []byte
	be := func(v int64, n int) {
		for i := n - 1; i >= 0; i-- {
			out = append(out, byte(v>>(8*i)))
		}
	}
	switch fsp {
	case 0:
		be((packed>>24)+0x800000, 3)
	case 1, 2:
		// As the server does: C's truncating % and a char cast.
		intPart, frac := packed>>24, (packed%(1<<24))/10000
		be(intPart+0x800000, 3)
		be(frac&0xff, 1)
	case 3, 4:
		intPart, frac := packed>>24, (packed%(1<<24))/100
		be(intPart+0x800000, 3)
		be(frac&0xffff, 2)
	default:
		be(packed+0x800000000000, 6)
	}
	return out
}

func TestDecodeTime2HandlesSignAndFraction(t *testing.T) {
	tests := []struct {
		neg           bool
		h, m, s, usec int64
		fsp           int
		want          string
	}{
		{false, 0, 0, 0, 0, 0, "00:00:00"},
		{true, 838, 59, 59, 0, 0, "-838:59:59"},
		{true, 0, 0, 0, 500000, 1, "-00:00:00.5"},
		{true, 0, 0, 1, 100000, 3, "-00:00:01.100"},
		{true, 0, 0, 0, 1, 6, "-00:00:00.000001"},
		{false, 838, 59, 59, 999999, 6, "838:59:59.999999"},
		{false, 0, 0, 1, 0, 1, "00:00:01.0"},
		{true, 100, 0, 0, 10000, 3, "-100:00:00.010"},
	}
	for _, tt := range tests {
		b := encodeTime2(tt.neg, tt.h, tt.m, tt.s, tt.usec, tt.fsp)
		if got := decodeTime2(b, tt.fsp); got != tt.want {
			t.Errorf("time(%d) %v %d:%d:%d.%d: got %q, want %q", tt.fsp, tt.neg, tt.h, tt.m, tt.s, tt.usec, got, tt.want)
		}
	}
}

func TestLatin1IsDecodedAsWindows1252(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "\x80uro": "€uro", "\xff": "ÿ", "\x8c\x89": "Œ‰", "\x81": "\u0081", "": "",
	} {
		if got := latin1ToUTF8([]byte(in)); got != want {
			t.Errorf("latin1 %q: got %q, want %q", in, got, want)
		}
	}
}

// TestTextTableDecodesByTheLongestCharacter uses a made-up charset: ASCII,
// the single-byte character 0xA1 (as sjis has), the two-byte character
// 0x81 0x40, 0x81 alone as no character, and the three-byte character 0x8F
// 0xA1 0xA1 (as ujis has).
func TestTextTableDecodesByTheLongestCharacter(t *testing.T) {
	tbl := &textTable{double: noRunes(128 << 8), triple: map[byte][]rune{0x8F: noRunes(128 << 7)}, ascii: true}
	copy(tbl.single[:], noRunes(256))
	for i := range rune(0x80) {
		tbl.single[i] = i
	}
	tbl.single[0xA1] = '｡'
	tbl.double[0x0140] = '中'
	tbl.triple[0x8F][0x21<<7|0x21] = '丂' // 8f a1 a1
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"plain", "plain", true},
		{"a\x81\x40b", "a中b", true},
		{"\xa1\x81\x40\xa1", "｡中｡", true},
		{"\x81\x40\x81", "", false}, // a lead byte at the end
		{"\x81a", "", false},        // a lead byte before no trail byte
		{"\xa2", "", false},         // no character
		{"a\x8f\xa1\xa1b", "a丂b", true},
		{"\x8f\xa1\xa2", "", false}, // a three-byte code without a character
		{"\x8f\xa1", "", false},
	}
	for _, tt := range tests {
		got, ok := tbl.decode([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("decode %q = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnicodeCharsetsDecodeTheirCodeUnits(t *testing.T) {
	tests := []struct {
		charset, in, want string
		ok                bool
	}{
		{"utf16", "\x00a\xd8\x3d\xde\x00", "a😀", true},
		{"utf16le", "a\x00\x3d\xd8\x00\xde", "a😀", true},
		{"utf16", "\xd8\x3d", "", false},         // a high surrogate alone
		{"utf16", "\xde\x00\xd8\x3d", "", false}, // the pair backwards
		{"ucs2", "\xd8\x3d\xde\x00", "", false},  // ucs2 has no pairs
		{"ucs2", "\x4e\x2d\xff\xfd", "中\ufffd", true},
		{"utf16", "\x00", "", false}, // half a code unit
		{"utf32", "\x00\x01\xf6\x00\x00\x00\x00a", "😀a", true},
		{"utf32", "\x00\x11\x00\x00", "", false}, // beyond U+10FFFF
		{"utf32", "\x00\x00\xd8\x00", "", false}, // a surrogate
		{"utf16", "", "", true},
	}
	for _, tt := range tests {
		got, ok := unicodeCharsets[tt.charset].decode([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s %q = %q, %v; want %q, %v", tt.charset, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStringMetaSplitsRealTypeAndLength(t *testing.T) {
	tests := []struct {
		meta   uint16
		real   byte
		length int
	}{
		{uint16(mysql.MYSQL_TYPE_STRING)<<8 | 40, mysql.MYSQL_TYPE_STRING, 40},
		{uint16(mysql.MYSQL_TYPE_ENUM)<<8 | 1, mysql.MYSQL_TYPE_ENUM, 1},
		{uint16(mysql.MYSQL_TYPE_SET)<<8 | 8, mysql.MYSQL_TYPE_SET, 8},
		// CHAR(255) in utf8mb4 is 1020 bytes: the length borrows two bits.
		{uint16((mysql.MYSQL_TYPE_STRING&^0x30)|((1020>>4)&0x30^0x30))<<8 | 1020&0xff, mysql.MYSQL_TYPE_STRING, 1020},
	}
	for _, tt := range tests {
		real, length := stringMeta(tt.meta)
		if real != tt.real || length != tt.length {
			t.Errorf("stringMeta(%#x) = %d, %d; want %d, %d", tt.meta, real, length, tt.real, tt.length)
		}
	}
}

func TestDecodeImageNamesTheColumnItCannotDecode(t *testing.T) {
	tv := &tableVersion{
		table: event.NewTable("shop", "orders", []event.Column{{Name: "id", Type: "int"}, {Name: "price", Type: "decimal(10,2)"}}, []int{0}),
		cols:  []column{{typ: mysql.MYSQL_TYPE_LONG}, {typ: mysql.MYSQL_TYPE_NEWDECIMAL, prec: 10, scale: 2}},
	}
	var d rowDecoder
	// null bitmap (no NULLs), id = 7, then a decimal cut short.
	_, _, err := d.decodeImage(tv, []byte{0x03}, []byte{0x00, 7, 0, 0, 0, 0x80}, nil)
	if err == nil || !strings.Contains(err.Error(), "column price decimal(10,2)") {
		t.Fatalf("got %v, want an error naming column price", err)
	}
	row, n, err := d.decodeImage(tv, []byte{0x03}, append([]byte{0x02, 7, 0, 0, 0}, 0xEE), nil)
	if err != nil || n != 5 || row[0].Int() != 7 || !row[1].IsNull() {
		t.Fatalf("a NULL price: got %v, %d, %v", row, n, err)
	}
	row, _, err = d.decodeImage(tv, []byte{0x01}, []byte{0x00, 9, 0, 0, 0}, nil)
	if err != nil || row[0].Int() != 9 || row[1].Kind() != event.Missing {
		t.Fatalf("a column absent from the image: got %v, %v; want it Missing", row, err)
	}
}

func TestFilterMatchesSchemaAndTablePatterns(t *testing.T) {
	f, err := NewFilter([]string{"shop.*", "crm.user*", "`legacy.db`.`Order Details`", "wh.item[1]"}, []string{"shop.tmp_*", "*.moontide_checkpoint"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		schema, table string
		want          bool
	}{
		{"shop", "orders", true}, {"shop", "tmp_x", false}, {"crm", "users", true}, {"crm", "leads", false},
		{"other", "t", false}, {"shop", "moontide_checkpoint", false},
		{"legacy.db", "Order Details", true}, {"legacy", "db.Order Details", false},
		{"wh", "item[1]", true}, {"wh", "item1", false}, // '[' is a character, not a class
	} {
		if got := f.Match(tt.schema, tt.table); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.schema, tt.table, got, tt.want)
		}
	}
	for schema, want := range map[string]bool{"shop": true, "legacy.db": true, "crm": true, "other": false} {
		if got := f.MatchSchema(schema); got != want {
			t.Errorf("MatchSchema(%q) = %v, want %v", schema, got, want)
		}
	}
	if _, err := NewFilter([]string{"noschema"}, nil); err == nil {
		t.Error("a pattern without a dot was accepted")
	}
	all, _ := NewFilter(nil, nil)
	if !all.Match("any", "thing") {
		t.Error("an empty include list must match every table")
	}
}

func TestClassifyQueryFindsTheTablesOfDDL(t *testing.T) {
	tests := []struct {
		q       string
		kind    queryKind
		targets string
	}{
		{"BEGIN", queryBegin, ""},
		{"COMMIT", queryCommit, ""},
		{"ROLLBACK TO SAVEPOINT a", queryOther, ""},
		{"ALTER TABLE t ADD COLUMN c INT", queryDDL, "db.t"},
		{"alter table `my db`.`t``x` rename column a to b", queryDDL, "my db.t`x"},
		{"ALTER TABLE t RENAME TO u", queryDDL, "db.t db.u"},
		{"CREATE TABLE IF NOT EXISTS s.t (id INT)", queryDDL, "s.t"},
		{"CREATE OR REPLACE TABLE t (id INT)", queryDDL, "db.t"},
		{"DROP TABLE IF EXISTS a, s.b /* generated by server */", queryDDL, "db.a s.b"},
		{"RENAME TABLE a TO b, c TO s.d", queryDDL, "db.a db.b db.c s.d"},
		{"TRUNCATE TABLE t", queryDDL, "db.t"},
		{"TRUNCATE t", queryDDL, "db.t"},
		{"CREATE UNIQUE INDEX i ON t (a)", queryDDL, "db.t"},
		{"CREATE DATABASE shop", queryDDL, "shop. (database)"},
		{"ALTER DATABASE CHARACTER SET latin1", queryDDL, "db. (database)"},
		{"ALTER SCHEMA `default` CHARACTER SET latin1", queryDDL, "default. (database)"},
		{"DROP DATABASE IF EXISTS shop", queryDDL, "shop. (database)"},
		{"CREATE DEFINER=`root`@`localhost` VIEW v AS SELECT 1", queryDDL, "db."},
		{"/*!40000 ALTER TABLE t DISABLE KEYS */", queryDDL, "db.t"},
		{"GRANT SELECT ON *.* TO u", queryOther, ""},
		{"CREATE USER u", queryOther, ""},
		{"FLUSH PRIVILEGES", queryOther, ""},
	}
	for _, tt := range tests {
		kind, targets := classifyQuery(tt.q, "db")
		var got []string
		for _, t := range targets {
			s := t.schema + "." + t.table
			if t.database {
				s += " (database)"
			}
			got = append(got, s)
		}
		if kind != tt.kind || strings.Join(got, " ") != tt.targets {
			t.Errorf("%q: got %d %q, want %d %q", tt.q, kind, strings.Join(got, " "), tt.kind, tt.targets)
		}
	}
}

func TestOpensTransactionFindsMySQLsCreateTableSelect(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"CREATE TABLE `t` (\n  `id` int DEFAULT NULL\n) START TRANSACTION", true},
		{"create table t (id int) start transaction;\n", true},
		{"CREATE TABLE t (id INT)", false},
		{"CREATE TABLE transaction (id INT)", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := opensTransaction(tt.q); got != tt.want {
			t.Errorf("opensTransaction(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}
