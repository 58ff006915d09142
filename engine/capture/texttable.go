package capture

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	driver "github.com/go-sql-driver/mysql"
)

// Text in the server's other charsets (cp1251, koi8r, latin2, gbk, big5,
// sjis, euckr, …) is decoded by tables the source server itself provides:
// capture asks it, once per charset and run, what each character converts
// to in utf8mb4. The server's conversion is what its bytes mean. A
// library's tables for the charset of the same name would be a guess: for
// MySQL's and MariaDB's sjis, cp932, big5 and gbk they differ from
// golang.org/x/text in hundreds of characters, and for the ISO 8859
// charsets in the whole C1 range.

// textDecoder turns text of one charset into UTF-8; ok is false when b is
// not text of the charset that the server converts to Unicode, and the
// value then stays bytes rather than be changed.
type textDecoder interface {
	decode(b []byte) (s string, ok bool)
}

// textTable decodes one charset by the server's conversion of each of its
// characters of one, two, and (for charsets of up to three bytes a
// character, as ujis and eucjpms) three bytes.
type textTable struct {
	// single is the character of each byte alone; noRune where a byte is
	// no character by itself (a lead byte) or the server converts it to
	// "?".
	single [256]rune
	// double is the character of each two-byte sequence whose first byte
	// is 0x80 or above, at (first-0x80)<<8 | second; noRune where the
	// sequence is not one character the server converts. nil for charsets
	// of one-byte characters.
	double []rune
	// triple holds, by their first byte (see leadsQuery), the characters
	// of three bytes whose second and third bytes are 0x80 or above, at
	// (second-0x80)<<7 | (third-0x80). nil for most charsets.
	triple map[byte][]rune
	// ascii: bytes below 0x80 are themselves, so ASCII text is its own
	// UTF-8.
	ascii bool
}

const noRune rune = -1

// decode returns b as UTF-8. ok is false when b is not a sequence of
// characters the server converts (a lone lead byte, a character the table
// lacks, one without a Unicode equivalent): such a value stays bytes
// rather than be changed.
func (t *textTable) decode(b []byte) (s string, ok bool) {
	i := 0
	if t.ascii {
		for i < len(b) && b[i] < 0x80 {
			i++
		}
		if i == len(b) {
			return aliasString(b), true
		}
	}
	out := make([]byte, i, len(b)+len(b)/2)
	copy(out, b[:i])
	for i < len(b) {
		c := b[i]
		r, n := t.single[c], 1
		if c >= 0x80 && t.double != nil && i+1 < len(b) {
			if d := t.double[int(c-0x80)<<8|int(b[i+1])]; d != noRune {
				r, n = d, 2
			} else if tr := t.triple[c]; tr != nil && i+2 < len(b) && b[i+1] >= 0x80 && b[i+2] >= 0x80 {
				r, n = tr[int(b[i+1]-0x80)<<7|int(b[i+2]-0x80)], 3
			}
		}
		if r == noRune {
			return "", false
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return aliasString(out), true
}

// unicodeCharsets are the charsets of UTF-16 and UTF-32 code units, which
// need no table: ucs2 is UTF-16 without surrogate pairs (the Basic
// Multilingual Plane).
var unicodeCharsets = map[string]unicodeText{
	"ucs2":    {width: 2},
	"utf16":   {width: 2, pairs: true},
	"utf16le": {width: 2, pairs: true, little: true},
	"utf32":   {width: 4},
}

// unicodeText decodes UTF-16 or UTF-32 code units.
type unicodeText struct {
	width  int  // bytes per code unit
	pairs  bool // surrogate pairs encode characters beyond U+FFFF
	little bool // little-endian code units
}

func (u unicodeText) unit(b []byte) rune {
	switch {
	case u.width == 4:
		return rune(b[0])<<24 | rune(b[1])<<16 | rune(b[2])<<8 | rune(b[3])
	case u.little:
		return rune(b[1])<<8 | rune(b[0])
	default:
		return rune(b[0])<<8 | rune(b[1])
	}
}

func (u unicodeText) decode(b []byte) (string, bool) {
	if len(b)%u.width != 0 {
		return "", false
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i += u.width {
		r := u.unit(b[i:])
		if u.pairs && utf16.IsSurrogate(r) && i+2*u.width <= len(b) {
			if pair := utf16.DecodeRune(r, u.unit(b[i+u.width:])); pair != utf8.RuneError {
				r = pair
				i += u.width
			}
		}
		if !utf8.ValidRune(r) {
			return "", false // a lone surrogate, or beyond U+10FFFF
		}
		out = utf8.AppendRune(out, r)
	}
	return aliasString(out), true
}

// textTables holds the decoders of the charsets capture met so far. The
// stream and the snapshot check fill it (prepare) before they decode.
type textTables struct {
	db  *sql.DB
	log *slog.Logger
	mu  sync.Mutex
	// byName: a nil decoder records a charset the server would not say
	// how to convert.
	byName map[string]textDecoder
}

// get returns the decoder of charset name when one was prepared.
func (ts *textTables) get(name string) textDecoder {
	if ts == nil {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.byName[name]
}

// prepare makes the decoders of the charsets among cs that have none yet,
// asking the server for the tables of those that need one. Without a
// server (unit tests) it does nothing, and such text stays bytes.
func (ts *textTables) prepare(ctx context.Context, cs ...charset) error {
	if ts == nil || ts.db == nil {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range cs {
		if _, done := ts.byName[c.name]; done {
			continue
		}
		var d textDecoder
		if u, ok := unicodeCharsets[c.name]; ok {
			d = u
		} else {
			t, err := deriveTable(ctx, ts.db, c)
			var refused *driver.MySQLError
			switch {
			case errors.As(err, &refused):
				// A server without recursive CTEs (before MySQL 8.0 and
				// MariaDB 10.2): its text stays bytes, as it always did.
				ts.log.Warn("capture could not ask the server how it converts a charset to utf8mb4; text in it is carried as bytes",
					"charset", c.name, "err", err)
			case err != nil:
				return fmt.Errorf("reading how the server converts charset %s to utf8mb4: %w", c.name, err)
			default:
				d = t
			}
		}
		if ts.byName == nil {
			ts.byName = make(map[string]textDecoder)
		}
		ts.byName[c.name] = d
	}
	return nil
}

// codesQuery converts codes of a charset to utf8mb4, in hex: a block of
// codes (see codeBlock). The recursive CTE runs on MySQL 8 and MariaDB
// 10.2 and later; its 256 rows stay within MySQL's default
// cte_max_recursion_depth of 1000.
const codesQuery = `WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 255)
SELECT h.n * 256 + l.n, HEX(CONVERT(CAST(UNHEX(LPAD(HEX(? + h.n * 256 + l.n), ?, '0')) AS CHAR CHARACTER SET %s) USING utf8mb4))
FROM b h JOIN b l WHERE h.n BETWEEN ? AND ? AND l.n >= ?`

// codeBlock is the codes prefix, h, l of width bytes, with h from hLow
// to hHigh and l from lLow to 0xFF; prefix is one byte or none.
type codeBlock struct {
	width       int
	prefix      int
	hLow, hHigh int
	lLow        int
}

var (
	oneByte  = codeBlock{width: 1, hLow: 0, hHigh: 0, lLow: 0}
	twoBytes = codeBlock{width: 2, hLow: 0x80, hHigh: 0xFF, lLow: 0}
)

func threeBytes(first byte) codeBlock {
	return codeBlock{width: 3, prefix: int(first) << 16, hLow: 0x80, hHigh: 0xFF, lLow: 0x80}
}

func deriveTable(ctx context.Context, db *sql.DB, c charset) (*textTable, error) {
	if !charsetName.MatchString(c.name) {
		return nil, fmt.Errorf("unexpected charset name %q", c.name)
	}
	t := &textTable{}
	copy(t.single[:], noRunes(256))
	if err := eachCode(ctx, db, c.name, oneByte, func(hl int, r rune) { t.single[hl] = r }); err != nil {
		return nil, err
	}
	t.ascii = true
	for b := range rune(0x80) {
		t.ascii = t.ascii && t.single[b] == b
	}
	if c.maxLen < 2 {
		return t, nil
	}
	t.double = noRunes(128 << 8)
	if err := eachCode(ctx, db, c.name, twoBytes, func(hl int, r rune) { t.double[hl-0x8000] = r }); err != nil {
		return nil, err
	}
	if c.maxLen < 3 {
		return t, nil
	}
	leads, err := threeByteLeads(ctx, db, c.name)
	if err != nil {
		return nil, err
	}
	for _, first := range leads {
		chars := noRunes(128 << 7)
		err := eachCode(ctx, db, c.name, threeBytes(first), func(hl int, r rune) {
			chars[(hl>>8-0x80)<<7|(hl&0xFF-0x80)] = r
		})
		if err != nil {
			return nil, err
		}
		if t.triple == nil {
			t.triple = make(map[byte][]rune)
		}
		t.triple[first] = chars
	}
	return t, nil
}

// leadsQuery finds the bytes that start three-byte characters of a
// charset (0x8F in ujis and eucjpms): the server counts such a byte and
// two more as one character.
const leadsQuery = `WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < 255)
SELECT n FROM b WHERE n >= 128 AND CHAR_LENGTH(CAST(UNHEX(CONCAT(HEX(n), 'A1A1')) AS CHAR CHARACTER SET %s)) = 1`

func threeByteLeads(ctx context.Context, db *sql.DB, name string) ([]byte, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(leadsQuery, name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var leads []byte
	for rows.Next() {
		var n byte
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		leads = append(leads, n)
	}
	return leads, rows.Err()
}

// noRunes returns n runes, each noRune: a table without characters.
func noRunes(n int) []rune {
	r := make([]rune, n)
	for i := range r {
		r[i] = noRune
	}
	return r
}

// charsetName is the form of the server's charset names, which
// deriveTable writes into its query.
var charsetName = regexp.MustCompile(`^[a-z0-9_]+$`)

// eachCode calls set, with the last two bytes of the code, for each code
// of block that the server converts to one character other than "?" (its
// mark for a character utf8mb4 lacks, and for a byte sequence that is no
// character) or U+FFFD.
func eachCode(ctx context.Context, db *sql.DB, name string, block codeBlock, set func(hl int, r rune)) error {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(codesQuery, name), block.prefix, 2*block.width, block.hLow, block.hHigh, block.lLow)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hl int
		var text sql.NullString
		if err := rows.Scan(&hl, &text); err != nil {
			return err
		}
		b, err := hex.DecodeString(text.String)
		if err != nil {
			return err
		}
		r, n := utf8.DecodeRune(b)
		if n == 0 || n != len(b) || r == utf8.RuneError || r == '?' && !(block.width == 1 && hl == '?') {
			continue
		}
		set(hl, r)
	}
	return rows.Err()
}
