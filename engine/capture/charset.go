package capture

import (
	"context"
	"database/sql"
	"log/slog"
	"unicode/utf8"
	"unsafe"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/moontide/moontide/engine/schema"
)

// textKind says how the bytes of a character column become a Value.
type textKind uint8

const (
	// textUTF8 is utf8mb4, utf8mb3 or ascii: the bytes already are UTF-8.
	textUTF8 textKind = iota
	// textBinary is the binary collation (63): BINARY, VARBINARY, BLOB.
	textBinary
	// textLatin1 is MariaDB's and MySQL's latin1, which is Windows-1252.
	textLatin1
	// textOther is any other charset: decoded as texttable.go says.
	textOther
)

// charset is what capture needs to know about a collation: its charset name
// (for column types) and the most bytes one character takes (to turn a
// byte length from the table map into the declared character length).
type charset struct {
	name   string
	maxLen int
}

// builtinCharsets covers the collations seen in practice by id, so unit
// tests, servers whose information_schema cannot be read and ids the
// server's list lacks still resolve. Capture loads the server's own list at
// start and prefers it.
var builtinCharsets = func() map[uint64]charset {
	m := map[uint64]charset{
		63: {"binary", 1},
		11: {"ascii", 1}, 65: {"ascii", 1},
		5: {"latin1", 1}, 8: {"latin1", 1}, 15: {"latin1", 1}, 31: {"latin1", 1},
		47: {"latin1", 1}, 48: {"latin1", 1}, 49: {"latin1", 1}, 94: {"latin1", 1},
		33: {"utf8mb3", 3}, 83: {"utf8mb3", 3}, 76: {"utf8mb3", 3},
		45: {"utf8mb4", 4}, 46: {"utf8mb4", 4},
		255: {"utf8mb4", 4}, 309: {"utf8mb4", 4},
	}
	for id := uint64(192); id <= 215; id++ { // utf8mb3 unicode collations
		m[id] = charset{"utf8mb3", 3}
	}
	for id := uint64(223); id <= 247; id++ { // utf8mb4 unicode collations
		m[id] = charset{"utf8mb4", 4}
	}
	for id := uint64(256); id <= 323; id++ { // MySQL 8 utf8mb4_0900 family
		if _, ok := m[id]; !ok {
			m[id] = charset{"utf8mb4", 4}
		}
	}
	return m
}()

// charsets maps collation ids to charsets: the server's (nil in unit
// tests), then builtinCharsets; and it decodes text of charsets other than
// UTF-8 and latin1 by the server's tables (texttable.go).
type charsets struct {
	server *schema.Collations
	text   *textTables
}

// newCharsets returns the charsets of a server's collations, with db to
// read the server's conversion tables (nil: such text stays bytes).
func newCharsets(server *schema.Collations, db *sql.DB, log *slog.Logger) charsets {
	return charsets{server: server, text: &textTables{db: db, log: log}}
}

func (cs charsets) lookup(id uint64) (charset, bool) {
	if cs.server != nil {
		if name := cs.server.Charset(id); name != "" {
			if n := cs.server.MaxLen(name); n > 0 {
				return charset{name, n}, true
			}
		}
	}
	c, ok := builtinCharsets[id]
	return c, ok
}

// prepare reads the conversion tables of the charsets of collations ids
// that text will be decoded in, as toUTF8 and textTable need.
func (cs charsets) prepare(ctx context.Context, ids ...uint64) error {
	var need []charset
	for _, id := range ids {
		if c, ok := cs.lookup(id); ok && textKindOf(c.name) == textOther {
			need = append(need, c)
		}
	}
	return cs.text.prepare(ctx, need...)
}

// toUTF8 decodes text of charset name, one that is not UTF-8; ok is false
// when capture has no way to (a charset it does not decode, a table not
// prepared) or b is not text the server converts.
func (cs charsets) toUTF8(name string, b []byte) (s string, ok bool) {
	if textKindOf(name) == textLatin1 {
		return latin1ToUTF8(b), true
	}
	if d := cs.text.get(name); d != nil {
		return d.decode(b)
	}
	return "", false
}

// statement is a QUERY event's statement as text, with its status
// variables. The text is decoded from the session's character_set_client,
// so that an identifier, ENUM label or comment written by a latin1, cp1251
// or gbk client reads as the server means it (in the schema history and in
// ddl events); it is as logged when it is not text of that charset, and
// for charsets capture does not decode.
func (cs charsets) statement(ctx context.Context, ev *replication.QueryEvent) (string, statusVars, error) {
	vars := queryStatus(ev.StatusVars)
	c, ok := cs.lookup(vars.clientCollation)
	if !ok || textKindOf(c.name) == textUTF8 {
		return string(ev.Query), vars, nil
	}
	if err := cs.prepare(ctx, vars.clientCollation); err != nil {
		return "", vars, err
	}
	if s, ok := cs.toUTF8(c.name, ev.Query); ok {
		return s, vars, nil
	}
	return string(ev.Query), vars, nil
}

func textKindOf(name string) textKind {
	switch name {
	case "binary":
		return textBinary
	case "utf8mb4", "utf8mb3", "utf8", "ascii":
		return textUTF8
	case "latin1":
		return textLatin1
	default:
		return textOther
	}
}

// cp1252High maps bytes 0x80–0x9F of Windows-1252 to Unicode. The five
// bytes Windows-1252 leaves undefined map to the C1 control of the same
// number, as the server itself does when it converts latin1 to utf8.
var cp1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// latin1ToUTF8 decodes latin1 (Windows-1252) bytes. ASCII input, the
// common case, comes back as the same memory without a copy.
func latin1ToUTF8(b []byte) string {
	i := 0
	for i < len(b) && b[i] < 0x80 {
		i++
	}
	if i == len(b) {
		return aliasString(b)
	}
	out := make([]byte, i, len(b)+len(b)/2)
	copy(out, b[:i])
	for _, c := range b[i:] {
		switch {
		case c < 0x80:
			out = append(out, c)
		case c < 0xA0:
			out = utf8.AppendRune(out, cp1252High[c-0x80])
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return aliasString(out)
}

// aliasString returns b as a string without copying. Capture only aliases
// memory nobody writes again: go-mysql hands every binlog packet over in a
// freshly allocated slice, so a value may keep (part of) its packet alive
// but never sees it change.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
