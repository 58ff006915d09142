package capture

import (
	"database/sql"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/moontide/moontide/engine/checkpoint"
	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/internal/testenv"
)

// TestIntegrationTextOfEveryCodeReadsAsTheServerConvertsIt stores the
// codes of each charset below, one per row, lets capture read them from
// the binlog, and holds each value to the server's own conversion of the
// stored bytes to utf8mb4: the same text where the server converts the
// code to a character, the stored bytes where it cannot (its "?" or
// U+FFFD, or text that is not UTF-8). Rows of many characters check the
// decoding of whole strings. (The server stores no ill-formed text: it
// replaces a byte sequence that is no character of the column's charset
// with "?".)
func TestIntegrationTextOfEveryCodeReadsAsTheServerConvertsIt(t *testing.T) {
	// The codes each charset is tried with, by how its characters are
	// made: one byte; one or two (a first byte of 0x80 or above); also
	// three (0x8F and two bytes of 0x80 or above); UTF-16 code units
	// (every one, surrogates included); UTF-32 (every 17th code point, and
	// 0x110000, one beyond).
	const (
		oneByte    = "SELECT seq, UNHEX(LPAD(HEX(seq), 2, '0')) FROM seq_0_to_255"
		twoBytes   = "SELECT seq, UNHEX(LPAD(HEX(seq), IF(seq < 256, 2, 4), '0')) FROM seq_0_to_65535 WHERE seq < 256 OR seq >= 32768"
		threeBytes = twoBytes + " UNION ALL SELECT seq, UNHEX(HEX(seq)) FROM seq_9404544_to_9437183 WHERE seq & 0x8080 = 0x8080"
		units16    = "SELECT seq, UNHEX(LPAD(HEX(seq), 4, '0')) FROM seq_0_to_65535"
		units32    = "SELECT seq, UNHEX(LPAD(HEX(seq), 8, '0')) FROM seq_0_to_1114112_step_17"
	)
	codes := map[string]string{"ucs2": units16, "utf16": units16, "utf16le": units16, "utf32": units32, "ujis": threeBytes, "eucjpms": threeBytes}
	for _, cs := range []string{"cp1251", "koi8r", "koi8u", "latin2", "greek", "hebrew", "cp1256", "cp866", "tis620", "macce", "armscii8"} {
		codes[cs] = oneByte
	}
	for _, cs := range []string{"gbk", "gb2312", "big5", "sjis", "cp932", "euckr"} {
		codes[cs] = twoBytes
	}
	dsn, db := testenv.SourceMySQL(t), testenv.Source(t)
	ctx := testenv.Context(t, 3*time.Minute)
	schemaName := testenv.FreshDatabase(t, db)
	from := currentPos(ctx, t, dsn)
	rows := 0
	for cs, insert := range codes {
		tbl := "`" + schemaName + "`.t_" + cs
		execAll(ctx, t, db, "SET SESSION sql_mode = ''",
			"CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v VARCHAR(64) CHARACTER SET "+cs+")",
			"INSERT INTO "+tbl+" "+insert,
			// ASCII, then thirty characters the server converts; and a
			// character beyond U+FFFF.
			"INSERT INTO "+tbl+" SELECT 1000000, CONCAT('ascii ', GROUP_CONCAT(v ORDER BY id SEPARATOR '')) FROM (SELECT id, v FROM "+tbl+
				" WHERE id >= 128 AND LOCATE('?', v) = 0 AND HEX(CONVERT(v USING utf8mb4)) NOT IN ('3F', 'EFBFBD', '') ORDER BY id DESC LIMIT 30) x",
			"INSERT INTO "+tbl+" VALUES (1000001, 'a😀中')")
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		rows += n
	}

	// Only the values are kept, not the events: the test reads some
	// 300,000 rows.
	var mu sync.Mutex
	got := map[string]map[int64]event.Value{}
	n, all := 0, make(chan struct{})
	out := &funcOutput{
		event: func(e *event.Event) error {
			if e.Action != event.Insert {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			if got[e.Table.Name] == nil {
				got[e.Table.Name] = map[int64]event.Value{}
			}
			got[e.Table.Name][e.After[0].Int()] = e.After[1]
			if n++; n == rows {
				close(all)
			}
			return nil
		},
		commit: func(checkpoint.Position) error { return nil },
	}
	stop := startCapture(t, Options{DSN: dsn, Start: from, Include: []string{schemaName + ".*"}}, out)
	select {
	case <-all:
	case <-ctx.Done():
		mu.Lock()
		have := n
		mu.Unlock()
		t.Fatalf("captured %d of %d rows before the deadline", have, rows)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	for cs := range codes {
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
			// U+FFFD is a character of the UTF-16 and UTF-32 charsets, the
			// server's mark for one it cannot convert in the others.
			replaced := strings.ContainsRune(string(conv), utf8.RuneError) && codes[cs] != units16 && codes[cs] != units32
			if strings.Count(string(conv), "?") > strings.Count(string(stored), "?") || replaced || !utf8.Valid(conv) {
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

// TestIntegrationACharsetTheServerWillNotConvertStaysBytes: when the server
// refuses the question (as one without recursive CTEs would), text of the
// charset is carried as bytes and capture says so; when the server cannot
// be reached, the error stops capture, which retries.
func TestIntegrationACharsetTheServerWillNotConvertStaysBytes(t *testing.T) {
	db := testenv.Source(t)
	ctx := testenv.Context(t, 30*time.Second)
	var logs testenv.Buffer
	cs := newCharsets(nil, db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := cs.text.prepare(ctx, charset{name: "nosuch", maxLen: 1}); err != nil {
		t.Fatalf("a charset the server refuses: %v", err)
	}
	if d := cs.text.get("nosuch"); d != nil {
		t.Errorf("a decoder for a charset the server refused: %v", d)
	}
	if l := logs.String(); !strings.Contains(l, "carried as bytes") || !strings.Contains(l, "charset=nosuch") {
		t.Errorf("no warning naming the charset:\n%s", l)
	}

	closed, err := sql.Open("mysql", "moontide:moontide@tcp(127.0.0.1:1)/")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := newCharsets(nil, closed, quietLogger()).text.prepare(ctx, charset{name: "cp1251", maxLen: 1}); err == nil || !strings.Contains(err.Error(), "charset cp1251") {
		t.Errorf("an unreachable server: %v", err)
	}
}
