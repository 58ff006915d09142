package capture

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"unicode"

	"github.com/go-mysql-org/go-mysql/replication"
)

// queryKind classifies the statement of a QUERY event.
type queryKind uint8

const (
	queryOther    queryKind = iota // not a row change or schema change: ignored
	queryBegin                     // BEGIN: a transaction starts
	queryCommit                    // COMMIT: a transaction of non-transactional tables ends
	queryRollback                  // ROLLBACK: ends a transaction with nothing to apply
	queryDDL                       // a schema change
	queryDML                       // a row change written as a statement, not as rows
)

// ddlTarget is what a DDL statement is about: a table, a database
// (database set, table empty), or only the schema a view, routine or
// trigger lives in (both unset).
type ddlTarget struct {
	schema, table string
	database      bool
}

// tableCreate is what a CREATE TABLE statement does to its table.
type tableCreate uint8

const (
	notCreate tableCreate = iota
	// definesTable: CREATE [OR REPLACE] TABLE t (...) [AS SELECT], or
	// CREATE [OR REPLACE] SEQUENCE t (a table of fixed columns); from here
	// on the table's definition owes nothing to what it was before.
	definesTable
	// createsIfMissing: CREATE TABLE or SEQUENCE IF NOT EXISTS, which
	// changes nothing when the table exists, and the binlog does not say
	// whether it did.
	createsIfMissing
	// copiesTable: CREATE TABLE t LIKE u, which takes u's definition of
	// that moment.
	copiesTable
)

// createOf tells what q does as a CREATE TABLE or SEQUENCE statement.
func createOf(q string) tableCreate {
	t := tokenizer{s: q}
	if !strings.EqualFold(t.word(), "CREATE") {
		return notCreate
	}
	for {
		switch w := strings.ToUpper(t.word()); w {
		case "OR", "REPLACE":
		case "TABLE", "SEQUENCE":
			if strings.EqualFold(t.peekWord(), "IF") {
				return createsIfMissing
			}
			if w == "SEQUENCE" {
				return definesTable
			}
			t.qualified("")
			t.skipSpace()
			if strings.HasPrefix(t.s, "(") { // CREATE TABLE t (LIKE u)
				t.s = t.s[1:]
			}
			if strings.EqualFold(t.word(), "LIKE") {
				return copiesTable
			}
			return definesTable
		default:
			return notCreate
		}
	}
}

// opensTransaction reports whether a DDL statement leaves its transaction
// open for rows that follow: MySQL 8.0.21+ writes CREATE TABLE ... SELECT
// as CREATE TABLE ... START TRANSACTION, then the rows and an XID.
func opensTransaction(q string) bool {
	q = strings.TrimRight(q, " \t\r\n;")
	const tail = "START TRANSACTION"
	return len(q) >= len(tail) && strings.EqualFold(q[len(q)-len(tail):], tail)
}

// classifyQuery looks at the leading keywords of a statement. DDL
// statements also yield the tables they name (for filtering and schema
// tracking); defaultSchema qualifies unqualified names.
func classifyQuery(q, defaultSchema string) (queryKind, []ddlTarget) {
	t := tokenizer{s: q}
	first := strings.ToUpper(t.word())
	switch first {
	case "BEGIN", "XA":
		if first == "XA" {
			switch strings.ToUpper(t.word()) {
			case "START", "BEGIN":
				return queryBegin, nil
			case "COMMIT":
				return queryCommit, nil
			case "ROLLBACK":
				return queryRollback, nil
			}
			return queryOther, nil
		}
		return queryBegin, nil
	case "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH":
		return queryDML, nil
	case "COMMIT":
		return queryCommit, nil
	case "ROLLBACK":
		if strings.ToUpper(t.word()) == "TO" {
			return queryOther, nil // ROLLBACK TO SAVEPOINT stays inside the transaction
		}
		return queryRollback, nil
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
	default:
		return queryOther, nil
	}
	// Skip modifiers up to the object keyword.
	var object string
	for {
		raw := t.word()
		w := strings.ToUpper(raw)
		if w == "" {
			// DEFINER=`u`@`h`, ALGORITHM=..., and other punctuation.
			if !t.skipChar() {
				return queryOther, nil
			}
			continue
		}
		switch w {
		case "TABLE", "TABLES", "DATABASE", "SCHEMA", "INDEX", "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "SEQUENCE":
			object = w
		case "USER", "ROLE", "SERVER", "TABLESPACE", "LOGFILE":
			return queryOther, nil
		}
		if object != "" {
			break
		}
		if first == "TRUNCATE" {
			// TRUNCATE [TABLE] t
			t.unread(raw)
			object = "TABLE"
			break
		}
	}
	switch object {
	case "DATABASE", "SCHEMA":
		t.skipIfExists()
		switch strings.ToUpper(t.peekWord()) {
		case "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "READ":
			// ALTER DATABASE CHARACTER SET ...: the default database.
			return queryDDL, []ddlTarget{{schema: defaultSchema, database: true}}
		}
		return queryDDL, []ddlTarget{{schema: t.ident(), database: true}}
	case "TABLE", "TABLES", "SEQUENCE":
		t.skipIfExists()
		var targets []ddlTarget
		for {
			s, n := t.qualified(defaultSchema)
			if n == "" {
				break
			}
			targets = append(targets, ddlTarget{schema: s, table: n})
			if first == "RENAME" {
				// RENAME TABLE a TO b, c TO d: both names matter.
				if strings.ToUpper(t.word()) != "TO" {
					break
				}
				s, n = t.qualified(defaultSchema)
				targets = append(targets, ddlTarget{schema: s, table: n})
			}
			if first == "ALTER" && strings.ToUpper(t.peekWord()) == "RENAME" {
				t.word()
				if w := strings.ToUpper(t.peekWord()); w == "TO" || w == "AS" {
					t.word()
				}
				if w := strings.ToUpper(t.peekWord()); w != "COLUMN" && w != "INDEX" && w != "KEY" {
					s, n = t.qualified(defaultSchema)
					if n != "" {
						targets = append(targets, ddlTarget{schema: s, table: n})
					}
				}
			}
			if !t.comma() {
				break
			}
		}
		return queryDDL, targets
	case "INDEX":
		// CREATE [UNIQUE] INDEX i ON t / DROP INDEX i ON t
		t.skipIfExists()
		t.ident()
		for {
			w := strings.ToUpper(t.word())
			if w == "" {
				return queryDDL, []ddlTarget{{schema: defaultSchema}}
			}
			if w == "ON" {
				s, n := t.qualified(defaultSchema)
				return queryDDL, []ddlTarget{{schema: s, table: n}}
			}
		}
	default:
		// Views, routines, triggers and events change no table's columns.
		return queryDDL, []ddlTarget{{schema: defaultSchema}}
	}
}

// tokenizer reads SQL words and identifiers, skipping comments. It knows
// just enough SQL to find the object of a DDL statement.
type tokenizer struct {
	s       string
	pending []string
}

func (t *tokenizer) skipSpace() {
	for {
		t.s = strings.TrimLeftFunc(t.s, unicode.IsSpace)
		switch {
		case strings.HasPrefix(t.s, "/*"):
			if strings.HasPrefix(t.s, "/*!") || strings.HasPrefix(t.s, "/*M!") {
				// Versioned comments are executed: read their content.
				t.s = strings.TrimLeft(t.s[2:], "!M0123456789")
				continue
			}
			i := strings.Index(t.s, "*/")
			if i < 0 {
				t.s = ""
				return
			}
			t.s = t.s[i+2:]
		case strings.HasPrefix(t.s, "*/"):
			t.s = t.s[2:]
		case strings.HasPrefix(t.s, "-- "), strings.HasPrefix(t.s, "#"):
			i := strings.IndexByte(t.s, '\n')
			if i < 0 {
				t.s = ""
				return
			}
			t.s = t.s[i+1:]
		default:
			return
		}
	}
}

// skipChar drops one character that is not part of a word or a quoted
// identifier, reporting false at the end of the statement.
func (t *tokenizer) skipChar() bool {
	t.skipSpace()
	if t.s == "" {
		return false
	}
	if t.s[0] == '`' || t.s[0] == '"' || t.s[0] == '\'' {
		t.ident()
		return true
	}
	t.s = t.s[1:]
	return true
}

func (t *tokenizer) unread(w string) {
	if w != "" {
		t.pending = append(t.pending, w)
	}
}

// word reads a bare word (letters, digits, _ and $), or "" at anything else.
func (t *tokenizer) word() string {
	if n := len(t.pending); n > 0 {
		w := t.pending[n-1]
		t.pending = t.pending[:n-1]
		return w
	}
	t.skipSpace()
	i := 0
	for i < len(t.s) && (t.s[i] == '_' || t.s[i] == '$' || t.s[i] >= 0x80 || unicode.IsLetter(rune(t.s[i])) || unicode.IsDigit(rune(t.s[i]))) {
		i++
	}
	w := t.s[:i]
	t.s = t.s[i:]
	return w
}

func (t *tokenizer) peekWord() string {
	w := t.word()
	t.unread(w)
	return w
}

// ident reads an identifier, bare or `quoted`.
func (t *tokenizer) ident() string {
	if len(t.pending) > 0 {
		return t.word()
	}
	t.skipSpace()
	if strings.HasPrefix(t.s, "`") || strings.HasPrefix(t.s, `"`) || strings.HasPrefix(t.s, "'") {
		q := t.s[0]
		var b strings.Builder
		i := 1
		for i < len(t.s) {
			if t.s[i] == q {
				if i+1 < len(t.s) && t.s[i+1] == q {
					b.WriteByte(q)
					i += 2
					continue
				}
				i++
				break
			}
			b.WriteByte(t.s[i])
			i++
		}
		t.s = t.s[i:]
		return b.String()
	}
	return t.word()
}

// qualified reads [schema.]name.
func (t *tokenizer) qualified(defaultSchema string) (string, string) {
	a := t.ident()
	if a == "" {
		return "", ""
	}
	t.skipSpace()
	if len(t.pending) == 0 && strings.HasPrefix(t.s, ".") {
		t.s = t.s[1:]
		return a, t.ident()
	}
	return defaultSchema, a
}

func (t *tokenizer) comma() bool {
	t.skipSpace()
	if len(t.pending) == 0 && strings.HasPrefix(t.s, ",") {
		t.s = t.s[1:]
		return true
	}
	return false
}

func (t *tokenizer) skipIfExists() {
	w := strings.ToUpper(t.peekWord())
	if w != "IF" {
		return
	}
	t.word()
	if strings.ToUpper(t.peekWord()) == "NOT" {
		t.word()
	}
	if strings.ToUpper(t.peekWord()) == "EXISTS" {
		t.word()
	}
}

// loadQuery reads an EXECUTE_LOAD_QUERY event, LOAD DATA written as a
// statement, which go-mysql decodes without its statement: after the common
// header come the query event's post-header with the file id, the start and
// end positions and a flag (26 bytes), the status variables, the default
// schema and a NUL, then the statement, and the checksum when the server
// writes one (its CRC32 matching tells). ok is false when raw is too short
// for what it says it holds.
func loadQuery(raw []byte) (e *replication.QueryEvent, ok bool) {
	const post = 26
	if n := len(raw); n >= 4 && crc32.ChecksumIEEE(raw[:n-4]) == binary.LittleEndian.Uint32(raw[n-4:]) {
		raw = raw[:n-4]
	}
	if len(raw) < replication.EventHeaderSize+post {
		return nil, false
	}
	b := raw[replication.EventHeaderSize:]
	dbLen, varsLen := int(b[8]), int(binary.LittleEndian.Uint16(b[11:]))
	i := post + varsLen
	if i+dbLen+1 > len(b) {
		return nil, false
	}
	return &replication.QueryEvent{StatusVars: b[post:i], Schema: b[i : i+dbLen], Query: b[i+dbLen+1:]}, true
}

// statusVars are what capture reads of a QUERY event's status variables;
// zero when absent.
type statusVars struct {
	sqlMode uint64
	// clientCollation is character_set_client, as the id of its default
	// collation: the charset the statement's bytes are in.
	clientCollation uint64
	// serverCollation is collation_server.
	serverCollation uint64
}

// queryStatus reads a QUERY event's status variables. They are a sequence
// of (code, value) whose value sizes depend on the code; reading stops at a
// code it does not know, which in practice comes after these (see
// Query_log_event::write in the server).
func queryStatus(vars []byte) (sv statusVars) {
	i := 0
	need := func(n int) bool { return i+n <= len(vars) }
	for i < len(vars) {
		code := vars[i]
		i++
		var n int
		switch code {
		case 0: // Q_FLAGS2_CODE
			n = 4
		case 1: // Q_SQL_MODE_CODE
			if !need(8) {
				return
			}
			sv.sqlMode = binary.LittleEndian.Uint64(vars[i:])
			n = 8
		case 2: // Q_CATALOG_CODE: length, name, NUL
			if !need(1) {
				return
			}
			n = 1 + int(vars[i]) + 1
		case 3: // Q_AUTO_INCREMENT
			n = 4
		case 4: // Q_CHARSET_CODE: client charset, collation_connection, collation_server
			if !need(6) {
				return
			}
			sv.clientCollation = uint64(binary.LittleEndian.Uint16(vars[i:]))
			sv.serverCollation = uint64(binary.LittleEndian.Uint16(vars[i+4:]))
			n = 6
		case 5, 6: // Q_TIME_ZONE_CODE, Q_CATALOG_NZ_CODE: length, name
			if !need(1) {
				return
			}
			n = 1 + int(vars[i])
		case 7, 8: // Q_LC_TIME_NAMES_CODE, Q_CHARSET_DATABASE_CODE
			n = 2
		case 9: // Q_TABLE_MAP_FOR_UPDATE_CODE
			n = 8
		default:
			return
		}
		if !need(n) {
			return
		}
		i += n
	}
	return
}
