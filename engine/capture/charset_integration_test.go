package capture

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// TestIntegrationTextOfEveryCodeReadsAsTheServerConvertsIt stores every
// one-byte code, and every two-byte code whose first byte is 0x80 or above,
// in a column of each charset below, lets capture read them from the
// binlog, and holds each value to the server's own conversion of the
// stored bytes to utf8mb4: the same text where the server converts the
// code to a character, the stored bytes where it cannot (its "?" or
// U+FFFD). A row of many characters checks the decoding of whole strings.
// (The server stores no ill-formed text: it replaces a byte sequence that
// is no character of the column's charset with "?".)
func TestIntegrationTextOfEveryCodeReadsAsTheServerConvertsIt(t *testing.T) {
	single := []string{"cp1251", "koi8r", "koi8u", "latin2", "greek", "hebrew", "cp1256", "cp866", "tis620", "macce", "armscii8"}
	double := []string{"gbk", "gb2312", "big5", "sjis", "cp932", "euckr", "ujis"}
	dsn, db := testenv.SourceMySQL(t), testenv.Source(t)
	ctx := testenv.Context(t, 3*time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)
	rows := 0
	for _, cs := range append(single, double...) {
		digits, last := 2, 255 // one-byte codes: their value is the id
		if strings.Contains(strings.Join(double, " "), cs) {
			digits, last = 4, 0xFFFF
		}
		tbl := "`" + schemaName + "`.t_" + cs
		execAll(ctx, t, db, "SET SESSION sql_mode = ''",
			"CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v VARCHAR(64) CHARACTER SET "+cs+")",
			fmt.Sprintf("INSERT INTO %s SELECT seq, UNHEX(LPAD(HEX(seq), IF(seq < 256, 2, %d), '0')) FROM seq_0_to_%d WHERE seq < 256 OR seq >= 32768", tbl, digits, last),
			// ASCII, then thirty characters the server converts.
			"INSERT INTO "+tbl+" SELECT 1000000, CONCAT('ascii ', GROUP_CONCAT(v ORDER BY id SEPARATOR '')) FROM (SELECT id, v FROM "+tbl+
				" WHERE id >= 128 AND LOCATE('?', v) = 0 AND HEX(CONVERT(v USING utf8mb4)) NOT IN ('3F', 'EFBFBD', '') ORDER BY id DESC LIMIT 30) x")
		rows += min(last+1, 256+32768) + 1
	}

	rec := newRecorder()
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".*"}}, rec)
	evs := rec.waitFor(ctx, t, "every row", func(evs []*event.Event) bool { return len(inserts(evs)) >= rows })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[int64]event.Value{}
	for _, e := range inserts(evs) {
		if got[e.Table.Name] == nil {
			got[e.Table.Name] = map[int64]event.Value{}
		}
		got[e.Table.Name][e.After[0].Int()] = e.After[1]
	}

	for _, cs := range append(single, double...) {
		var texts, kept, wrong int
		r, err := db.QueryContext(ctx, "SELECT id, HEX(v), HEX(CONVERT(v USING utf8mb4)) FROM `"+schemaName+"`.t_"+cs)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var id int64
			var storedHex, convHex string
			if err := r.Scan(&id, &storedHex, &convHex); err != nil {
				t.Fatal(err)
			}
			stored, _ := hex.DecodeString(storedHex)
			conv, _ := hex.DecodeString(convHex)
			want := event.StringValue(string(conv))
			if strings.Count(string(conv), "?") > strings.Count(string(stored), "?") || strings.ContainsRune(string(conv), utf8.RuneError) {
				want = event.BytesValue(stored)
				kept++
			} else {
				texts++
			}
			if v, ok := got["t_"+cs][id]; !ok {
				t.Errorf("%s: no event for code %s", cs, storedHex)
			} else if !v.Equal(want) {
				if wrong++; wrong > 10 {
					continue
				}
				t.Errorf("%s: code %s (id %d) read as %s %q, the server converts it to %q: want %s %q",
					cs, storedHex, id, v.Kind(), v.Str(), conv, want.Kind(), want.Str())
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		t.Logf("%s: %d values read as text, %d kept as bytes", cs, texts, kept)
		if wrong > 10 {
			t.Errorf("%s: %d values in all are not what the server converts", cs, wrong)
		}
		if v := got["t_"+cs][1000000]; v.Kind() != event.String || !strings.HasPrefix(v.Str(), "ascii ") || utf8.RuneCountInString(v.Str()) != 36 {
			t.Errorf("%s: the row of thirty characters read as %s %q", cs, v.Kind(), v.Str())
		}
	}
}
