package event

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file reads the JSON form that AppendJSON writes (docs/events.md).
//
// It reads in two steps. scan walks the bytes once, checks the JSON grammar
// (what encoding/json's scanner checks) and the shape of our schema (known
// fields, each of its JSON type, no field twice), and notes where each
// value is: a tok per string, number or null, an entry per row column, all
// in scratch slices of the Decoder. build then turns those notes into an
// Event: it finds the Table (cached), converts each row value by its
// column's kind, and checks what the old encoding/json-based decoder
// checked. "types" that are byte for byte those of the previous message's
// table are compared, not read again. Strings the Event keeps are copied once, into one allocation per
// event (the arena); only strings with a backslash escape or invalid UTF-8
// take the slow path of appendUnquoted, which follows encoding/json's
// unquoting rule for rule.
//
// decode_test.go keeps the encoding/json-based decoder this replaced and
// fuzzes the two against each other.

// Decoder decodes the JSON form, reusing the Table of messages whose table
// and types it has seen before. A Decoder is not safe for concurrent use.
//
// The strings of a decoded Event (its ID, key, positions, statement and the
// text and bytes of its values) share one allocation, so an Event keeps no
// reference to the message it was decoded from.
type Decoder struct {
	tables  map[string]*cachedTable
	last    *cachedTable // the table of the previous message
	lastKey []byte       // its cache key

	// Scratch state of one Decode call; data and arena are cleared before
	// Decode returns.
	data   []byte
	i      int     // read offset in data
	arena  []byte  // the strings of the event being built
	ents   []entry // columns of types, before and after
	names  []tok   // elements of pk and changed
	buf    []byte  // unquoted text that is only compared, never kept
	keyBuf []byte  // cache key being looked up
}

// cachedTable is a Table with the kinds of its columns, which decoding needs
// for every value.
type cachedTable struct {
	t     *Table
	kinds []Kind
	types []byte // the raw "types" JSON it was built from
}

type tokKind uint8

const (
	tokAbsent tokKind = iota // the field was not in the message
	tokNull
	tokNum
	tokStr
	tokB64 // {"base64": "..."}: lo and hi delimit the string inside
)

// tok is where one scalar value is in the message.
type tok struct {
	lo, hi int // a string's text between the quotes, or a number; empty for null
	kind   tokKind
	esc    bool // the string has a backslash escape
	high   bool // the string has a byte ≥ 0x80 (maybe invalid UTF-8)
}

// entry is one member of types, before or after: name → value.
type entry struct{ name, val tok }

// span is a range of d.data, d.ents or d.names.
type span struct{ lo, hi int }

// The top-level fields, one bit each.
const (
	fV = 1 << iota
	fID
	fSchema
	fTable
	fAction
	fTS
	fPos
	fVersion
	fTx
	fPK
	fKey
	fTypes
	fBefore
	fAfter
	fChanged
	fDDL
)

func fieldBit(name string) uint32 {
	switch name {
	case "v":
		return fV
	case "id":
		return fID
	case "schema":
		return fSchema
	case "table":
		return fTable
	case "action":
		return fAction
	case "ts":
		return fTS
	case "pos":
		return fPos
	case "version":
		return fVersion
	case "tx":
		return fTx
	case "pk":
		return fPK
	case "key":
		return fKey
	case "types":
		return fTypes
	case "before":
		return fBefore
	case "after":
		return fAfter
	case "changed":
		return fChanged
	case "ddl":
		return fDDL
	}
	return 0
}

// wire is what scan found in one message.
type wire struct {
	seen                                        uint32 // fields present
	v, ts                                       int64
	pos                                         uint32
	version, seq                                uint64
	id, schema, table, action, file, gtid, txID tok
	key, ddl                                    tok
	types, pk                                   span // raw JSON in data; pk is empty when absent or null
	typeEnts, before, after                     span // in d.ents
	pkNames, changed                            span // in d.names
	hasBefore, hasAfter, hasChanged             bool // present and not null
	typesSkipped                                bool // typeEnts not read: types are those of d.last
}

// maxCachedTables bounds the Decoder's table cache; past it the cache starts
// afresh rather than grow with every schema change ever seen.
const maxCachedTables = 4096

// Decode parses one event with a fresh Decoder.
func Decode(data []byte) (*Event, error) {
	var d Decoder
	return d.Decode(data)
}

// Decode parses the JSON form strictly: unknown or repeated fields, a wrong
// version, values that do not fit their column's type, columns that are not
// in "types" and data after the event are errors.
func (d *Decoder) Decode(data []byte) (*Event, error) {
	d.data, d.i = data, 0
	d.ents, d.names = d.ents[:0], d.names[:0]
	var w wire
	err := d.scan(&w)
	var e *Event
	if err != nil {
		err = fmt.Errorf("decoding event: %w", err)
	} else if w.v != FormatVersion {
		err = fmt.Errorf("decoding event %q: format version %d, want %d", d.text(w.id), w.v, FormatVersion)
	} else if e, err = d.build(&w); err != nil {
		e = nil
		id, schema := string(d.text(w.id)), string(d.text(w.schema))
		err = fmt.Errorf("decoding event %q of %s.%s: %w", id, schema, d.text(w.table), err)
	}
	d.data, d.arena = nil, nil
	return e, err
}

// scan reads the whole message into w, checking its grammar and the JSON
// type of every field.
func (d *Decoder) scan(w *wire) error {
	if c := d.peek(); c != '{' {
		if d.i < len(d.data) {
			return fmt.Errorf("the event is not a JSON object: %w", d.syntaxErr())
		}
		return d.syntaxErr()
	}
	d.i++
	more, err := d.objStart()
	for ; more && err == nil; more, err = d.objNext() {
		var k tok
		if k, err = d.key(); err != nil {
			return err
		}
		name := d.text(k)
		f := fieldBit(b2s(name))
		switch {
		case f == 0:
			return fmt.Errorf("unknown field %q", name)
		case w.seen&f != 0:
			return fmt.Errorf("field %q appears twice", name)
		}
		w.seen |= f
		switch f {
		case fV:
			w.v, err = d.intField("v")
		case fID:
			w.id, err = d.strField("id")
		case fSchema:
			w.schema, err = d.strField("schema")
		case fTable:
			w.table, err = d.strField("table")
		case fAction:
			w.action, err = d.strField("action")
		case fTS:
			w.ts, err = d.intField("ts")
		case fPos:
			err = d.scanPos(w)
		case fVersion:
			w.version, err = d.uintField("version", 64)
		case fTx:
			err = d.scanTx(w)
		case fPK:
			lo := d.i
			var present bool
			if w.pkNames, present, err = d.scanNames("pk"); present {
				w.pk = span{lo, d.i}
			}
		case fKey:
			if w.key, err = d.scalar(); err != nil {
				err = fmt.Errorf("key: %w", err)
			}
		case fTypes:
			err = d.scanTypes(w, true)
		case fBefore:
			w.before, w.hasBefore, err = d.scanRow("before")
		case fAfter:
			w.after, w.hasAfter, err = d.scanRow("after")
		case fChanged:
			w.changed, w.hasChanged, err = d.scanNames("changed")
		case fDDL:
			if w.ddl, err = d.scalar(); err != nil {
				err = fmt.Errorf("ddl: %w", err)
			}
		}
		if err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if d.ws(); d.i < len(d.data) {
		return errors.New("trailing data after the event")
	}
	return nil
}

func (d *Decoder) scanPos(w *wire) error {
	return d.scanObject("pos", func(key string) (bit uint8, err error) {
		switch key {
		case "file":
			w.file, err = d.strField("pos.file")
			return 1, err
		case "pos":
			var n uint64
			n, err = d.uintField("pos.pos", 32)
			w.pos = uint32(n)
			return 2, err
		case "gtid":
			w.gtid, err = d.strField("pos.gtid")
			return 4, err
		}
		return 0, nil
	})
}

func (d *Decoder) scanTx(w *wire) error {
	return d.scanObject("tx", func(key string) (bit uint8, err error) {
		switch key {
		case "id":
			w.txID, err = d.strField("tx.id")
			return 1, err
		case "seq":
			w.seq, err = d.uintField("tx.seq", 64)
			return 2, err
		}
		return 0, nil
	})
}

// scanObject reads the value of field, a small object (null reads as
// absent), handing each key to field: it reads the key's value and returns
// the key's bit, or 0 without reading for a key it does not know. Unknown
// and repeated keys are errors.
func (d *Decoder) scanObject(name string, field func(key string) (uint8, error)) error {
	switch d.peek() {
	case 'n':
		return d.null()
	case '{':
	default:
		return d.typeErr(name, "an object")
	}
	d.i++
	var seen uint8
	more, err := d.objStart()
	for ; more && err == nil; more, err = d.objNext() {
		var k tok
		if k, err = d.key(); err != nil {
			return err
		}
		key := d.text(k)
		var bit uint8
		bit, err = field(b2s(key))
		switch {
		case bit == 0:
			return fmt.Errorf("unknown field %q in %s", key, name)
		case seen&bit != 0:
			return fmt.Errorf("a field of %s appears twice", name)
		}
		seen |= bit
		if err != nil {
			return err
		}
	}
	return err
}

// scanNames reads an array of strings (null elements read as "") into
// d.names. null reads as absent.
func (d *Decoder) scanNames(field string) (span, bool, error) {
	switch d.peek() {
	case 'n':
		return span{}, false, d.null()
	case '[':
	default:
		return span{}, false, d.typeErr(field, "an array of strings")
	}
	d.i++
	s := span{lo: len(d.names)}
	more, err := d.arrStart()
	for ; more && err == nil; more, err = d.arrNext() {
		var t tok
		if t, err = d.strField(field); err != nil {
			return s, true, err
		}
		d.names = append(d.names, t)
	}
	s.hi = len(d.names)
	return s, true, err
}

// scanTypes reads the "types" object: column name → non-empty SQL type.
func (d *Decoder) scanTypes(w *wire, shortcut bool) error {
	if d.peek() != '{' {
		if d.i < len(d.data) && d.data[d.i] == 'n' {
			return errors.New("types: not an object")
		}
		return d.typeErr("types", "an object")
	}
	w.types.lo = d.i
	if shortcut && d.last != nil && bytes.HasPrefix(d.data[d.i:], d.last.types) {
		// The types of the previous message, which were valid JSON: the
		// usual case, where build needs no more than the raw bytes.
		d.i += len(d.last.types)
		w.types.hi = d.i
		w.typesSkipped = true
		return nil
	}
	d.i++
	w.typeEnts.lo = len(d.ents)
	more, err := d.objStart()
	for ; more && err == nil; more, err = d.objNext() {
		var en entry
		if en.name, err = d.key(); err != nil {
			return err
		}
		if d.peek() != '"' {
			if err := d.skipScalar(); err != nil {
				return err
			}
			return fmt.Errorf("types: column %q: type must be a non-empty string", d.text(en.name))
		}
		if en.val, err = d.str(); err != nil {
			return err
		}
		if en.val.lo == en.val.hi {
			return fmt.Errorf("types: column %q: type must be a non-empty string", d.text(en.name))
		}
		d.ents = append(d.ents, en)
	}
	w.types.hi = d.i
	w.typeEnts.hi = len(d.ents)
	return err
}

// skipScalar checks the syntax of a value that is not where it should be,
// so that a syntax error is reported as one.
func (d *Decoder) skipScalar() error {
	switch c := d.peek(); c {
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case '{', '[':
		return nil
	}
	_, err := d.scalar()
	return err
}

// scanRow reads a row image: column name → value. null reads as absent.
func (d *Decoder) scanRow(field string) (span, bool, error) {
	switch d.peek() {
	case 'n':
		return span{}, false, d.null()
	case '{':
	default:
		return span{}, false, d.typeErr(field, "an object")
	}
	d.i++
	s := span{lo: len(d.ents)}
	more, err := d.objStart()
	for ; more && err == nil; more, err = d.objNext() {
		var en entry
		if en.name, err = d.key(); err != nil {
			return s, true, err
		}
		if en.val, err = d.scalar(); err != nil {
			return s, true, fmt.Errorf("%s: column %q: %w", field, d.text(en.name), err)
		}
		d.ents = append(d.ents, en)
	}
	s.hi = len(d.ents)
	return s, true, err
}

// scalar reads a value that may stand for a column value: null, a number, a
// string or {"base64": "..."}.
func (d *Decoder) scalar() (tok, error) {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == 'n':
		return tok{kind: tokNull, lo: d.i, hi: d.i}, d.null()
	case c == '-' || c >= '0' && c <= '9':
		return d.num()
	case c == '{':
		return d.base64()
	case c == 't', c == 'f', c == '[':
		return tok{}, fmt.Errorf("unexpected %s at offset %d", describe(c), d.i)
	}
	return tok{}, d.syntaxErr()
}

// base64 reads {"base64": "..."}, nothing more and nothing less.
func (d *Decoder) base64() (tok, error) {
	at := d.i
	bad := func() error { return fmt.Errorf(`an object value must be {"base64": "..."} (offset %d)`, at) }
	d.i++
	if d.peek() != '"' {
		return tok{}, bad()
	}
	k, err := d.key()
	if err != nil {
		return tok{}, err
	}
	if string(d.text(k)) != "base64" || d.peek() != '"' {
		return tok{}, bad()
	}
	t, err := d.str()
	if err != nil {
		return tok{}, err
	}
	if d.peek() != '}' {
		return tok{}, bad()
	}
	d.i++
	t.kind = tokB64
	return t, nil
}

// strField reads a string or null.
func (d *Decoder) strField(field string) (tok, error) {
	switch d.peek() {
	case '"':
		return d.str()
	case 'n':
		return tok{kind: tokNull, lo: d.i, hi: d.i}, d.null()
	}
	return tok{}, d.typeErr(field, "a string")
}

// intField reads a signed 64-bit integer or null (which leaves it 0).
func (d *Decoder) intField(field string) (int64, error) {
	if d.peek() == 'n' {
		return 0, d.null()
	}
	t, err := d.num()
	if err != nil {
		return 0, d.typeErr(field, "an integer")
	}
	n, err := strconv.ParseInt(b2s(d.data[t.lo:t.hi]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %s is not a signed 64-bit integer", field, d.data[t.lo:t.hi])
	}
	return n, nil
}

// uintField reads an unsigned integer of the given size or null (which
// leaves it 0).
func (d *Decoder) uintField(field string, bits int) (uint64, error) {
	if d.peek() == 'n' {
		return 0, d.null()
	}
	t, err := d.num()
	if err != nil {
		return 0, d.typeErr(field, "an integer")
	}
	n, err := strconv.ParseUint(b2s(d.data[t.lo:t.hi]), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s: %s is not an unsigned %d-bit integer", field, d.data[t.lo:t.hi], bits)
	}
	return n, nil
}

// The JSON grammar. Each reader starts at d.i, at the first byte of what it
// reads (callers peek), and leaves d.i after it.

func (d *Decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (d *Decoder) peek() byte {
	if d.i < len(d.data) && d.data[d.i] > ' ' {
		return d.data[d.i]
	}
	d.ws()
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

func (d *Decoder) syntaxErr() error {
	if d.i >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q at offset %d", d.data[d.i], d.i)
}

func (d *Decoder) typeErr(field, want string) error {
	if d.i >= len(d.data) {
		return d.syntaxErr()
	}
	return fmt.Errorf("%s: %s where %s is expected, at offset %d", field, describe(d.data[d.i]), want, d.i)
}

func describe(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("invalid character %q", c)
}

// objStart is called after '{': it reports whether a member follows, or
// consumes the '}' of an empty object.
func (d *Decoder) objStart() (bool, error) {
	switch d.peek() {
	case '"':
		return true, nil
	case '}':
		d.i++
		return false, nil
	}
	return false, d.syntaxErr()
}

// objNext is called after a member's value: it consumes the ',' before the
// next member, or the '}'.
func (d *Decoder) objNext() (bool, error) {
	switch d.peek() {
	case ',':
		d.i++
		if d.peek() == '"' {
			return true, nil
		}
	case '}':
		d.i++
		return false, nil
	}
	return false, d.syntaxErr()
}

// arrStart and arrNext are objStart and objNext for arrays.
func (d *Decoder) arrStart() (bool, error) {
	if d.peek() == ']' {
		d.i++
		return false, nil
	}
	return d.i < len(d.data), d.syntaxErrAtEnd()
}

func (d *Decoder) arrNext() (bool, error) {
	switch d.peek() {
	case ',':
		d.i++
		return true, nil
	case ']':
		d.i++
		return false, nil
	}
	return false, d.syntaxErr()
}

func (d *Decoder) syntaxErrAtEnd() error {
	if d.i >= len(d.data) {
		return d.syntaxErr()
	}
	return nil
}

// key reads a member's name and the colon after it.
func (d *Decoder) key() (tok, error) {
	t, err := d.str()
	if err != nil {
		return t, err
	}
	if d.peek() != ':' {
		return t, d.syntaxErr()
	}
	d.i++
	return t, nil
}

func (d *Decoder) null() error { return d.literal("null") }

func (d *Decoder) literal(s string) error {
	if end := d.i + len(s); end <= len(d.data) && string(d.data[d.i:end]) == s {
		d.i = end
		return nil
	}
	for j := 0; j < len(s) && d.i < len(d.data) && d.data[d.i] == s[j]; j++ {
		d.i++
	}
	return d.syntaxErr()
}

// str reads a string, checking its escapes and that it has no control
// characters.
func (d *Decoder) str() (tok, error) {
	data := d.data
	i := d.i + 1
	t := tok{kind: tokStr, lo: i}
	for i < len(data) {
		c := data[i]
		if plain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			t.hi = i
			d.i = i + 1
			return t, nil
		case '\\':
			t.esc = true
			if i+1 >= len(data) {
				d.i = len(data)
				return t, d.syntaxErr()
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := 2; j < 6; j++ {
					if i+j >= len(data) || !isHex(data[i+j]) {
						d.i = min(i+j, len(data))
						return t, d.syntaxErr()
					}
				}
				i += 6
			default:
				d.i = i + 1
				return t, fmt.Errorf("invalid escape %q at offset %d", data[i:i+2], i)
			}
		default:
			if c >= utf8.RuneSelf {
				t.high = true
				i++
				continue
			}
			d.i = i
			return t, fmt.Errorf("control character %q in a string at offset %d", c, i)
		}
	}
	d.i = len(data)
	return t, d.syntaxErr()
}

// plain marks the ASCII bytes that stand for themselves in a JSON string.
var plain = func() (p [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
	}
	return p
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// num reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) num() (tok, error) {
	data := d.data
	i := d.i
	t := tok{kind: tokNum, lo: i}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		d.i = i
		return t, d.syntaxErr()
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			d.i = i
			return t, d.syntaxErr()
		}
		i = digits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			d.i = i
			return t, d.syntaxErr()
		}
		i = digits(data, i)
	}
	t.hi = i
	d.i = i
	return t, nil
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// Building the event.

func (d *Decoder) build(w *wire) (*Event, error) {
	action, err := ParseAction(b2s(d.text(w.action)))
	if err != nil {
		return nil, err
	}
	if w.id.lo == w.id.hi || w.schema.lo == w.schema.hi || (w.table.lo == w.table.hi && action != DDL) {
		return nil, errors.New("id, schema and table are required")
	}
	ct, err := d.table(w)
	if err != nil {
		return nil, err
	}
	t := ct.t

	// One allocation for every string the event keeps. Unquoting never
	// lengthens a string except where it replaces an invalid UTF-8 byte by
	// U+FFFD (three bytes), hence the bound.
	need := ownLen(w.id) + ownLen(w.file) + ownLen(w.gtid) + ownLen(w.txID) + ownLen(w.key) + ownLen(w.ddl)
	for _, en := range d.ents[w.before.lo:w.before.hi] {
		need += ownLen(en.val)
	}
	for _, en := range d.ents[w.after.lo:w.after.hi] {
		need += ownLen(en.val)
	}
	d.arena = make([]byte, 0, need)

	e := &Event{
		ID: d.own(w.id), Action: action, Table: t, TS: w.ts, Version: w.version,
		Pos: Position{File: d.own(w.file), Pos: w.pos, GTID: d.own(w.gtid)},
		Tx:  Tx{ID: d.own(w.txID), Seq: w.seq},
	}
	if w.key.kind == tokAbsent {
		return nil, errors.New("key: empty value")
	}
	if e.Key, err = d.ownText(w.key, "key"); err != nil {
		return nil, err
	}
	n := len(t.Columns)
	var rows []Value
	switch {
	case w.hasBefore && w.hasAfter:
		rows = make([]Value, 2*n)
		e.Before, e.After = rows[:n:n], rows[n:]
	case w.hasBefore:
		e.Before = make([]Value, n)
	case w.hasAfter:
		e.After = make([]Value, n)
	}
	if w.hasBefore {
		if err := d.row(ct, d.ents[w.before.lo:w.before.hi], e.Before); err != nil {
			return nil, fmt.Errorf("before: %w", err)
		}
	}
	if w.hasAfter {
		if err := d.row(ct, d.ents[w.after.lo:w.after.hi], e.After); err != nil {
			return nil, fmt.Errorf("after: %w", err)
		}
	}
	if e.Statement, err = d.ownText(w.ddl, "ddl"); err != nil {
		return nil, err
	}
	if err := d.checkShape(e, w); err != nil {
		return nil, err
	}
	return e, nil
}

// row converts the columns of an image, in the order the message has them.
func (d *Decoder) row(ct *cachedTable, ents []entry, row []Value) error {
	cols := ct.t.Columns
	next := 0
	for _, en := range ents {
		name := b2s(d.text(en.name))
		i := next
		if i >= len(cols) || cols[i].Name != name {
			if i = ct.t.Column(name); i < 0 {
				return fmt.Errorf("column %q is not in types", name)
			}
		}
		if row[i].kind != Missing {
			return fmt.Errorf("column %q appears twice", name)
		}
		next = i + 1
		v, err := d.value(en.val, ct.kinds[i])
		if err != nil {
			return fmt.Errorf("column %s %s: %w", cols[i].Name, cols[i].Type, err)
		}
		row[i] = v
	}
	return nil
}

// value converts one value to the kind of its column. null is NULL for
// every kind, and {"base64": ...} is bytes for every kind (text in a
// charset that could not be decoded travels that way).
func (d *Decoder) value(t tok, kind Kind) (Value, error) {
	switch t.kind {
	case tokNull:
		return NullValue(), nil
	case tokB64:
		s, err := d.ownBase64(t)
		return Value{kind: Bytes, str: s}, err
	case tokStr:
		switch kind {
		case String, Time, JSON:
			return Value{kind: kind, str: d.own(t)}, nil
		case Decimal:
			if s := d.text(t); !isDecimal(b2s(s)) {
				return Value{}, fmt.Errorf("%q is not a decimal", s)
			}
			return DecimalValue(d.own(t)), nil
		}
		return Value{}, fmt.Errorf("a string where %s is expected", kind)
	}
	raw := d.data[t.lo:t.hi]
	switch kind {
	case Int:
		n, err := strconv.ParseInt(b2s(raw), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("not a signed 64-bit integer: %s", raw)
		}
		return IntValue(n), nil
	case Uint:
		n, err := strconv.ParseUint(b2s(raw), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("not an unsigned 64-bit integer: %s", raw)
		}
		return UintValue(n), nil
	case Float:
		f, err := strconv.ParseFloat(b2s(raw), 64)
		if err != nil {
			return Value{}, fmt.Errorf("not a float: %s", raw)
		}
		return FloatValue(f), nil
	}
	return Value{}, fmt.Errorf("%s where %s is expected", raw, kind)
}

// checkShape checks that the images and fields present fit the action, and
// that changed and key agree with the images.
func (d *Decoder) checkShape(e *Event, w *wire) error {
	has := func(b bool) string {
		if b {
			return "present"
		}
		return "absent"
	}
	wantBefore := e.Action == Update || e.Action == Delete
	wantAfter := e.Action == Insert || e.Action == Update || e.Action == Snapshot
	hasDDL := w.ddl.kind == tokStr || w.ddl.kind == tokB64
	switch {
	case (e.Before != nil) != wantBefore:
		return fmt.Errorf("%s event with before image %s", e.Action, has(e.Before != nil))
	case (e.After != nil) != wantAfter:
		return fmt.Errorf("%s event with after image %s", e.Action, has(e.After != nil))
	case hasDDL != (e.Action == DDL):
		return fmt.Errorf("%s event with ddl %s", e.Action, has(hasDDL))
	}
	if e.Action == Update {
		// What e.Changed would list, without building the list.
		differs := func(i int) bool {
			return e.Before[i].kind != Missing && e.After[i].kind != Missing && e.Before[i] != e.After[i]
		}
		listed := d.names[w.changed.lo:w.changed.hi]
		n := 0
		for i := range e.After {
			if differs(i) {
				n++
			}
		}
		if n != len(listed) {
			return fmt.Errorf("changed lists %d columns, the images differ in %d", len(listed), n)
		}
		k := 0
		for i := range e.After {
			if !differs(i) {
				continue
			}
			if name := d.text(listed[k]); b2s(name) != e.Table.Columns[i].Name {
				return fmt.Errorf("changed lists %q where the images differ in %q", name, e.Table.Columns[i].Name)
			}
			k++
		}
	} else if w.hasChanged {
		return fmt.Errorf("%s event with changed columns", e.Action)
	}
	if e.Action != DDL && !keyMatches(e.Table, e.Row(), e.Key) {
		return fmt.Errorf("key %q does not match the primary key values %q", e.Key, MakeKey(e.Table, e.Row()))
	}
	return nil
}

// keyMatches reports whether MakeKey(t, row) == key without building the
// key.
func keyMatches(t *Table, row []Value, key string) bool {
	if s, ok := singleTextKey(t, row); ok {
		return s == key
	}
	var buf [64]byte
	return string(appendKey(buf[:0], t, row)) == key
}

// table returns the Table the message describes, from the cache when the
// same schema, table, types and pk were seen before, byte for byte.
func (d *Decoder) table(w *wire) (*cachedTable, error) {
	if w.seen&fTypes == 0 {
		return nil, errors.New("types: missing")
	}
	// Raw JSON pieces, separated by NUL, which none of them can contain.
	k := append(d.keyBuf[:0], d.data[w.schema.lo:w.schema.hi]...)
	k = append(k, 0)
	k = append(k, d.data[w.table.lo:w.table.hi]...)
	k = append(k, 0)
	k = append(k, d.data[w.types.lo:w.types.hi]...)
	k = append(k, 0)
	k = append(k, d.data[w.pk.lo:w.pk.hi]...)
	d.keyBuf = k
	if d.last != nil && bytes.Equal(k, d.lastKey) {
		return d.last, nil
	}
	ct, ok := d.tables[string(k)]
	if !ok {
		var err error
		if ct, err = d.newTable(w); err != nil {
			return nil, err
		}
		if d.tables == nil || len(d.tables) >= maxCachedTables {
			d.tables = make(map[string]*cachedTable)
		}
		d.tables[string(k)] = ct
	}
	d.last, d.lastKey = ct, append(d.lastKey[:0], k...)
	return ct, nil
}

func (d *Decoder) newTable(w *wire) (*cachedTable, error) {
	if w.typesSkipped {
		i := d.i
		d.i = w.types.lo
		w.typesSkipped = false
		err := d.scanTypes(w, false)
		d.i = i
		if err != nil {
			return nil, err // cannot happen: these bytes were read before
		}
	}
	var cols []Column
	ents := d.ents[w.typeEnts.lo:w.typeEnts.hi]
	if len(ents) > 0 {
		cols = make([]Column, 0, len(ents))
	}
	var seen map[string]bool
	if len(ents) > 16 {
		seen = make(map[string]bool, len(ents))
	}
	for _, en := range ents {
		name := string(d.text(en.name))
		if seen != nil {
			if seen[name] {
				return nil, fmt.Errorf("types: column %q listed twice", name)
			}
			seen[name] = true
		} else {
			for _, c := range cols {
				if c.Name == name {
					return nil, fmt.Errorf("types: column %q listed twice", name)
				}
			}
		}
		cols = append(cols, Column{Name: name, Type: string(d.text(en.val))})
	}
	names := d.names[w.pkNames.lo:w.pkNames.hi]
	pk := make([]int, len(names))
	for i, nt := range names {
		name := b2s(d.text(nt))
		pk[i] = -1
		for j := range cols {
			if cols[j].Name == name {
				pk[i] = j
			}
		}
		if pk[i] < 0 {
			return nil, fmt.Errorf("primary-key column %q is not in types", name)
		}
	}
	t := NewTable(string(d.text(w.schema)), string(d.text(w.table)), cols, pk)
	kinds := make([]Kind, len(cols))
	for i, c := range cols {
		kinds[i] = KindOf(c.Type)
	}
	types := bytes.Clone(d.data[w.types.lo:w.types.hi])
	return &cachedTable{t: t, kinds: kinds, types: types}, nil
}

// Strings.

// text returns the text of a string token for a comparison: the message's
// bytes when they need no unquoting, else d.buf, which the next call
// overwrites. Null and absent tokens have the empty text.
func (d *Decoder) text(t tok) []byte {
	if t.kind != tokStr && t.kind != tokB64 {
		return nil
	}
	raw := d.data[t.lo:t.hi]
	if !t.esc && (!t.high || utf8.Valid(raw)) {
		return raw
	}
	d.buf = appendUnquoted(d.buf[:0], raw)
	return d.buf
}

// ownLen bounds the bytes a token takes in the arena.
func ownLen(t tok) int {
	if t.kind != tokStr && t.kind != tokB64 {
		return 0
	}
	if t.high {
		return 3 * (t.hi - t.lo)
	}
	return t.hi - t.lo
}

// own returns the text of a string token as a string the event may keep:
// a copy in the arena. Null and absent tokens give "".
func (d *Decoder) own(t tok) string {
	if t.kind != tokStr || t.lo == t.hi {
		return ""
	}
	raw := d.data[t.lo:t.hi]
	start := len(d.arena)
	if !t.esc && (!t.high || utf8.Valid(raw)) {
		d.arena = append(d.arena, raw...)
	} else {
		d.arena = appendUnquoted(d.arena, raw)
	}
	return d.arenaString(start)
}

// ownText is the text of a field that is a string or, when it is not
// UTF-8, {"base64": "..."}; "" when it is null or absent.
func (d *Decoder) ownText(t tok, field string) (string, error) {
	switch t.kind {
	case tokStr:
		return d.own(t), nil
	case tokB64:
		s, err := d.ownBase64(t)
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return s, nil
	case tokNum:
		return "", fmt.Errorf("%s: %s where %s is expected", field, d.data[t.lo:t.hi], String)
	}
	return "", nil
}

// ownBase64 decodes the base64 text of a token into the arena.
func (d *Decoder) ownBase64(t tok) (string, error) {
	src := d.text(t)
	start := len(d.arena)
	n := base64.StdEncoding.DecodedLen(len(src))
	d.arena = slices.Grow(d.arena, n)
	m, err := base64.StdEncoding.Decode(d.arena[start:start+n], src)
	if err != nil {
		return "", fmt.Errorf("bad base64: %w", err)
	}
	d.arena = d.arena[:start+m]
	return d.arenaString(start), nil
}

// arenaString returns the arena from start as a string. The arena only
// grows after it: bytes handed out are never written again, and when an
// append moves the arena, strings already handed out keep the old array.
func (d *Decoder) arenaString(start int) string {
	if len(d.arena) == start {
		return ""
	}
	return unsafe.String(&d.arena[start], len(d.arena)-start)
}

// appendUnquoted appends the text of a JSON string whose grammar scan
// checked (s is what is between the quotes). It follows encoding/json:
// escapes are decoded, a \u escape of a UTF-16 surrogate that is not half
// of a valid pair becomes U+FFFD, and so does each byte that is not part of
// valid UTF-8.
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// hex4 reads four hex digits, or returns -1.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// b2s views b as a string for a comparison or a parse that does not keep
// it.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func isDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && s[len(s)-1] != '.'
}
