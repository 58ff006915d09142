package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser/charset"
)

// CollationBinary is the id of the binary collation, the one BINARY,
// VARBINARY and BLOB columns have.
const CollationBinary = 63

// Collations is what a server knows about collations: their ids, their
// charsets and each charset's default. Ids differ between MySQL and MariaDB
// (and between versions), so a History takes them from the server it
// follows (LoadCollations); BuiltinCollations is a fallback that knows the
// common ones.
type Collations struct {
	byName   map[string]uint64 // lower-case collation name → id
	charset  map[uint64]string // id → charset name
	defaults map[string]uint64 // charset name → id of its default collation
	maxLen   map[string]int    // charset name → most bytes per character
}

func newCollations() *Collations {
	return &Collations{byName: map[string]uint64{}, charset: map[uint64]string{}, defaults: map[string]uint64{}, maxLen: map[string]int{}}
}

func (c *Collations) add(name, cs string, id uint64, isDefault bool) {
	name, cs = strings.ToLower(name), normalizeCharset(cs)
	c.byName[name] = id
	c.charset[id] = cs
	if isDefault {
		c.defaults[cs] = id
	}
}

// BuiltinCollations knows the common collations of the binary, ascii,
// latin1, utf8mb3 and utf8mb4 charsets (those of MariaDB and MySQL, which
// share these ids, and MySQL 8's utf8mb4_0900 pair), and MariaDB's defaults
// (utf8mb4_general_ci for utf8mb4).
func BuiltinCollations() *Collations {
	c := newCollations()
	for _, x := range []struct {
		name, cs string
		id       uint64
		def      bool
	}{
		{"binary", "binary", 63, true},
		{"ascii_general_ci", "ascii", 11, true}, {"ascii_bin", "ascii", 65, false},
		{"latin1_german1_ci", "latin1", 5, false}, {"latin1_swedish_ci", "latin1", 8, true},
		{"latin1_danish_ci", "latin1", 15, false}, {"latin1_german2_ci", "latin1", 31, false},
		{"latin1_bin", "latin1", 47, false}, {"latin1_general_ci", "latin1", 48, false},
		{"latin1_general_cs", "latin1", 49, false}, {"latin1_spanish_ci", "latin1", 94, false},
		{"utf8mb3_general_ci", "utf8mb3", 33, true}, {"utf8mb3_bin", "utf8mb3", 83, false},
		{"utf8mb3_unicode_ci", "utf8mb3", 192, false},
		{"utf8mb4_general_ci", "utf8mb4", 45, true}, {"utf8mb4_bin", "utf8mb4", 46, false},
		{"utf8mb4_unicode_ci", "utf8mb4", 224, false}, {"utf8mb4_unicode_520_ci", "utf8mb4", 246, false},
		{"utf8mb4_0900_ai_ci", "utf8mb4", 255, false}, {"utf8mb4_0900_bin", "utf8mb4", 309, false},
	} {
		c.add(x.name, x.cs, x.id, x.def)
	}
	for cs, n := range map[string]int{"binary": 1, "ascii": 1, "latin1": 1, "utf8mb3": 3, "utf8mb4": 4} {
		c.maxLen[cs] = n
	}
	return c
}

// LoadCollations reads the server's collations from information_schema.
func LoadCollations(ctx context.Context, db *sql.DB) (*Collations, error) {
	c := newCollations()
	scan := func(q string) error {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, cs, isDefault sql.NullString
			var id sql.NullInt64
			if err := rows.Scan(&name, &cs, &id, &isDefault); err != nil {
				return err
			}
			if name.Valid && cs.Valid && id.Valid {
				c.add(name.String, cs.String, uint64(id.Int64), strings.EqualFold(isDefault.String, "yes"))
			}
		}
		return rows.Err()
	}
	if err := scan(`SELECT COLLATION_NAME, CHARACTER_SET_NAME, ID, IS_DEFAULT FROM information_schema.COLLATIONS`); err != nil {
		return nil, fmt.Errorf("reading the server's collations: %w", err)
	}
	// MariaDB 10.10+ lists collations shared by several charsets
	// (uca1400_ai_ci) once in COLLATIONS, without an id; each charset's
	// own name and id are here. Other servers have no such column.
	_ = scan(`SELECT FULL_COLLATION_NAME, CHARACTER_SET_NAME, ID, IS_DEFAULT FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY`)

	rows, err := db.QueryContext(ctx, `SELECT CHARACTER_SET_NAME, DEFAULT_COLLATE_NAME, MAXLEN FROM information_schema.CHARACTER_SETS`)
	if err != nil {
		return nil, fmt.Errorf("reading the server's charsets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cs, def string
		var maxLen int
		if err := rows.Scan(&cs, &def, &maxLen); err != nil {
			return nil, fmt.Errorf("reading the server's charsets: %w", err)
		}
		cs = normalizeCharset(cs)
		c.maxLen[cs] = maxLen
		if id, ok := c.ID(def); ok {
			c.defaults[cs] = id
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the server's charsets: %w", err)
	}
	// Servers can change a charset's default collation: MariaDB 11.2+ with
	// character_set_collations, MySQL 8 with default_collation_for_utf8mb4.
	var v sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@character_set_collations").Scan(&v); err == nil {
		c.overrideDefaults(v.String)
	}
	if err := db.QueryRowContext(ctx, "SELECT @@default_collation_for_utf8mb4").Scan(&v); err == nil {
		c.overrideDefaults("utf8mb4=" + v.String)
	}
	return c, nil
}

// overrideDefaults applies a character_set_collations value:
// "utf8mb4=uca1400_ai_ci,latin1=latin1_bin".
func (c *Collations) overrideDefaults(spec string) {
	for _, pair := range strings.Split(spec, ",") {
		cs, coll, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		cs, coll = normalizeCharset(strings.TrimSpace(cs)), strings.TrimSpace(coll)
		id, ok := c.ID(coll)
		if !ok {
			id, ok = c.ID(cs + "_" + coll)
		}
		if ok && c.charset[id] == cs {
			c.defaults[cs] = id
		}
	}
}

// normalizeCharset spells utf8 as what it is on current servers, utf8mb3.
func normalizeCharset(cs string) string {
	cs = strings.ToLower(cs)
	if cs == "utf8" {
		return "utf8mb3"
	}
	return cs
}

// ID returns the id of the named collation. utf8_* and utf8mb3_* name the
// same collations.
func (c *Collations) ID(name string) (uint64, bool) {
	name = strings.ToLower(name)
	if id, ok := c.byName[name]; ok {
		return id, true
	}
	if rest, ok := strings.CutPrefix(name, "utf8mb3_"); ok {
		id, ok := c.byName["utf8_"+rest]
		return id, ok
	}
	if rest, ok := strings.CutPrefix(name, "utf8_"); ok {
		id, ok := c.byName["utf8mb3_"+rest]
		return id, ok
	}
	return 0, false
}

// Default returns the id of the default collation of charset cs.
func (c *Collations) Default(cs string) (uint64, bool) {
	id, ok := c.defaults[normalizeCharset(cs)]
	return id, ok
}

// Charset returns the charset of collation id, or "".
func (c *Collations) Charset(id uint64) string { return c.charset[id] }

// MaxLen returns the most bytes a character of charset cs takes, or 0 when
// c does not know cs.
func (c *Collations) MaxLen(cs string) int { return c.maxLen[cs] }

// parserMu serializes parsing with registering the server's charsets and
// collations in the parser's tables, which are global and unguarded.
var parserMu sync.Mutex

// TeachParser teaches the SQL parser of this package (History.Apply,
// WrittenTables) the charsets and collations of c it does not know: it
// rejects "CHARACTER SET cp1251" or MariaDB's uca1400 collations
// otherwise. The parser's tables are process-wide, so what one server
// taught stays known.
func (c *Collations) TeachParser() {
	parserMu.Lock()
	defer parserMu.Unlock()
	for cs, n := range c.maxLen {
		if _, err := charset.GetCharsetInfo(cs); err == nil || cs == "utf8mb3" {
			continue
		}
		def := ""
		for name, id := range c.byName {
			if id == c.defaults[cs] && c.charset[id] == cs {
				def = name
				break
			}
		}
		charset.AddCharset(&charset.Charset{Name: cs, DefaultCollation: def, Collations: map[string]*charset.Collation{}, Desc: cs, Maxlen: n})
	}
	for name, id := range c.byName {
		if _, err := charset.GetCollationByName(name); err == nil {
			continue
		}
		charset.AddCollation(&charset.Collation{ID: int(id), CharsetName: c.charset[id], Name: name, IsDefault: c.defaults[c.charset[id]] == id})
	}
}
