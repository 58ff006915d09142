package schema

import "strings"

// mariadbSpellings rewrites the MariaDB spellings the parser does not know
// into ones it reads the same way for a table definition:
//
//   - CREATE OR REPLACE becomes CREATE (a definition replaces the one
//     before either way), and ALTER ONLINE becomes ALTER;
//   - PERSISTENT, MariaDB's name for a STORED generated column, becomes
//     STORED;
//   - INVISIBLE is dropped: an invisible column is still a column of the
//     table and of its row image, only SELECT * leaves it out;
//   - the types UUID and INET6 become BINARY(16), INET4 BINARY(4): what
//     the server stores and the binlog carries (a FULL table map calls
//     them so too).
//
// The attributes are told from an identifier of the same name by what
// comes before them: PERSISTENT follows the parenthesis that closes the
// column's expression, and INVISIBLE follows the type or another attribute,
// never the '(' or ',' before a column name, a word such as COLUMN or
// AFTER, or the two names after CHANGE. A type follows the column's name,
// which follows '(', ',', ADD, MODIFY, COLUMN or IF NOT EXISTS, or the
// two names after CHANGE: so UUID() as a default, or a column named uuid,
// stays as it is. Quoted text and comments are left
// alone (versioned comments are read, as the server runs them). A guess
// gone wrong leaves a statement the parser refuses, never one it reads
// otherwise.
func mariadbSpellings(q string, sqlMode uint64) string {
	type edit struct {
		at, end int
		with    string
	}
	var edits []edit
	prev, prev2 := "", "" // the last two words or punctuation, upper case
	names := 0            // words still to come that are names: CHANGE old new
	typeNext := false     // the word after the last CHANGE name is a type
	n := 0                // words of the statement so far
	first, orAt := "", 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			// Backslashes escape in string literals only.
			literal := c == '\'' || c == '"' && sqlMode&sqlModeANSIQuotes == 0
			i = quotedEnd(q, i, literal && sqlMode&sqlModeNoBackslashEscapes == 0)
			if names > 0 {
				names--
				typeNext = names == 0
			}
			prev, prev2 = "quoted", prev
		case strings.HasPrefix(q[i:], "/*!"), strings.HasPrefix(q[i:], "/*M!"):
			i += 2
			for i < len(q) && (q[i] == '!' || q[i] == 'M' || q[i] >= '0' && q[i] <= '9') {
				i++
			}
		case strings.HasPrefix(q[i:], "/*"):
			if end := strings.Index(q[i+2:], "*/"); end >= 0 {
				i += 2 + end + 2
			} else {
				i = len(q)
			}
		case strings.HasPrefix(q[i:], "*/"):
			i += 2 // the end of a versioned comment
		case strings.HasPrefix(q[i:], "-- ") || c == '#':
			if end := strings.IndexByte(q[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(q)
			}
		case isWordByte(c):
			start := i
			for i < len(q) && isWordByte(q[i]) {
				i++
			}
			w := strings.ToUpper(q[start:i])
			n++
			isType := typeNext || columnOpener[prev2] && isName(prev) && !beforeColumnName[prev] && !keyKinds[prev]
			typeNext = false
			switch {
			case n == 1:
				first = w
			case n == 2 && first == "CREATE" && w == "OR":
				orAt = start
			case n == 3 && orAt > 0 && w == "REPLACE":
				edits = append(edits, edit{orAt, i, ""})
			case n == 2 && first == "ALTER" && w == "ONLINE":
				edits = append(edits, edit{start, i, ""})
			case w == "CHANGE":
				names = 2
			case names > 0 && w != "COLUMN" && w != "IF" && w != "EXISTS":
				names--
				typeNext = names == 0
			case isType && binaryTypes[w] != "":
				edits = append(edits, edit{start, i, binaryTypes[w]})
			case w == "PERSISTENT" && prev == ")":
				edits = append(edits, edit{start, i, "STORED"})
			case w == "INVISIBLE" && !beforeColumnName[prev] && prev2 != "INDEX" && prev2 != "KEY":
				// After INDEX name it is MySQL's index visibility,
				// which the parser reads.
				edits = append(edits, edit{start, i, ""})
			}
			prev, prev2 = w, prev
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		default:
			if c == ';' { // the next statement starts
				n, orAt = 0, 0
			}
			prev, prev2 = string(c), prev
			i++
		}
	}
	if len(edits) == 0 {
		return q
	}
	var b strings.Builder
	last := 0
	for _, e := range edits {
		b.WriteString(q[last:e.at])
		b.WriteString(e.with)
		last = e.end
	}
	b.WriteString(q[last:])
	return b.String()
}

// beforeColumnName holds what may come right before a name (of a column,
// table, key, ...), where INVISIBLE is that name and not the attribute.
var beforeColumnName = map[string]bool{
	"": true, "(": true, ",": true, ".": true, "=": true,
	"COLUMN": true, "ADD": true, "DROP": true, "MODIFY": true, "CHANGE": true, "ALTER": true, "RENAME": true,
	"AFTER": true, "TO": true, "AS": true, "BY": true, "KEY": true, "INDEX": true, "SET": true,
	"TABLE": true, "TABLES": true, "EXISTS": true, "LIKE": true, "REFERENCES": true, "ON": true,
	"INTO": true, "FROM": true, "JOIN": true, "DATABASE": true, "SCHEMA": true, "VIEW": true,
	"SEQUENCE": true, "CONSTRAINT": true, "PARTITION": true, "CHECK": true,
}

// columnOpener holds what comes right before the name of a column being
// defined.
var columnOpener = map[string]bool{"(": true, ",": true, "ADD": true, "MODIFY": true, "COLUMN": true, "EXISTS": true}

// keyKinds are the words before a key's name, which is no column's.
var keyKinds = map[string]bool{"UNIQUE": true, "FULLTEXT": true, "SPATIAL": true, "FOREIGN": true, "PRIMARY": true}

// binaryTypes are MariaDB's types of fixed-size binary values, with the
// BINARY type that stores them alike.
var binaryTypes = map[string]string{"UUID": "BINARY(16)", "INET6": "BINARY(16)", "INET4": "BINARY(4)"}

// isName reports whether a token (as mariadbSpellings keeps them) can be a
// name: a word or quoted text, not punctuation.
func isName(tok string) bool {
	return tok == "quoted" || tok != "" && isWordByte(tok[0])
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// quotedEnd returns the index after the quoted text that starts at q[i]:
// its quote doubled stands for itself, and with backslashEscapes a
// backslash escapes the next byte.
func quotedEnd(q string, i int, backslashEscapes bool) int {
	quote := q[i]
	for i++; i < len(q); i++ {
		switch {
		case q[i] == '\\' && backslashEscapes:
			i++
		case q[i] == quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(q)
}
