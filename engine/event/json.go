package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// FormatVersion is the "v" of the JSON form. Decode refuses other versions.
const FormatVersion = 1

// AppendJSON appends the JSON form of e to dst (docs/events.md). It fails
// only on values JSON cannot carry exactly: text that is not valid UTF-8 and
// non-finite floats.
func AppendJSON(dst []byte, e *Event) ([]byte, error) {
	t := e.Table
	if t == nil {
		return dst, errors.New("encoding event: no table")
	}
	dst = append(dst, `{"v":1,"id":`...)
	dst = AppendJSONString(dst, e.ID)
	dst = append(dst, `,"schema":`...)
	dst = AppendJSONString(dst, t.Schema)
	dst = append(dst, `,"table":`...)
	dst = AppendJSONString(dst, t.Name)
	dst = append(dst, `,"action":"`...)
	dst = append(dst, e.Action.String()...)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, e.TS, 10)
	dst = append(dst, `,"pos":{"file":`...)
	dst = AppendJSONString(dst, e.Pos.File)
	dst = append(dst, `,"pos":`...)
	dst = strconv.AppendUint(dst, uint64(e.Pos.Pos), 10)
	if e.Pos.GTID != "" {
		dst = append(dst, `,"gtid":`...)
		dst = AppendJSONString(dst, e.Pos.GTID)
	}
	dst = append(dst, `},"version":`...)
	dst = strconv.AppendUint(dst, e.Version, 10)
	dst = append(dst, `,"tx":{"id":`...)
	dst = AppendJSONString(dst, e.Tx.ID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, e.Tx.Seq, 10)
	dst = append(dst, `},"pk":[`...)
	for i, p := range t.PK {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, t.Columns[p].Name)
	}
	dst = append(dst, `],"key":`...)
	dst = appendText(dst, e.Key)
	dst = append(dst, `,"types":`...)
	if t.types != nil {
		dst = append(dst, t.types...)
	} else {
		dst = appendTypes(dst, t)
	}
	var err error
	if e.Before != nil {
		dst = append(dst, `,"before":`...)
		if dst, err = appendRow(dst, t, e.Before); err != nil {
			return dst, fmt.Errorf("encoding before image of %s.%s at %s: %w", t.Schema, t.Name, e.ID, err)
		}
	}
	if e.After != nil {
		dst = append(dst, `,"after":`...)
		if dst, err = appendRow(dst, t, e.After); err != nil {
			return dst, fmt.Errorf("encoding after image of %s.%s at %s: %w", t.Schema, t.Name, e.ID, err)
		}
	}
	if e.Action == Update {
		dst = append(dst, `,"changed":[`...)
		first := true
		for i := range e.After {
			if i < len(e.Before) && e.Before[i].kind != Missing && e.After[i].kind != Missing && e.Before[i] != e.After[i] {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = AppendJSONString(dst, t.Columns[i].Name)
			}
		}
		dst = append(dst, ']')
	}
	if e.Action == DDL {
		dst = append(dst, `,"ddl":`...)
		dst = AppendJSONString(dst, e.Statement)
	}
	return append(dst, '}'), nil
}

func appendTypes(dst []byte, t *Table) []byte {
	dst = append(dst, '{')
	for i, c := range t.Columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, c.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, c.Type)
	}
	return append(dst, '}')
}

func appendRow(dst []byte, t *Table, row []Value) ([]byte, error) {
	if len(row) != len(t.Columns) {
		return dst, fmt.Errorf("row has %d values for %d columns", len(row), len(t.Columns))
	}
	dst = append(dst, '{')
	first := true
	for i, v := range row {
		if v.kind == Missing {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, t.Columns[i].Name)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, v); err != nil {
			return dst, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendValue(dst []byte, v Value) ([]byte, error) {
	switch v.kind {
	case Null:
		return append(dst, "null"...), nil
	case Int:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case Uint:
		return strconv.AppendUint(dst, v.num, 10), nil
	case Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("float %v has no JSON form", f)
		}
		return AppendJSONFloat(dst, f), nil
	case Bytes:
		return appendBase64(dst, v.str), nil
	default:
		if !utf8.ValidString(v.str) {
			return dst, fmt.Errorf("%s value is not valid UTF-8", v.kind)
		}
		return AppendJSONString(dst, v.str), nil
	}
}

// AppendJSONFloat writes a finite float as a JSON number in the shortest
// form that reads back to the same float64, positional between 1e-6 and
// 1e21 and in exponent form outside, as JavaScript and encoding/json print
// numbers, so 1234567.5 stays 1234567.5 for whoever reads the JSON.
func AppendJSONFloat(dst []byte, f float64) []byte {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// appendText writes s as a JSON string when it is valid UTF-8, else marked
// as bytes.
func appendText(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return AppendJSONString(dst, s)
	}
	return appendBase64(dst, s)
}

func appendBase64(dst []byte, s string) []byte {
	dst = append(dst, `{"base64":"`...)
	n := base64.StdEncoding.EncodedLen(len(s))
	dst = append(dst, make([]byte, n)...)
	base64.StdEncoding.Encode(dst[len(dst)-n:], []byte(s))
	return append(dst, `"}`...)
}

// AppendJSONString appends s to dst as a JSON string. It escapes what JSON
// requires (quote, backslash, control characters) and U+2028 and U+2029,
// which JSON allows raw but JavaScript source does not (encoding/json
// escapes them too); it does not escape <, > and &, since the text goes to
// sinks and logs, not into HTML. Bytes that are not UTF-8 are copied as they
// are, which is not valid JSON: callers check UTF-8 where text may not be.
// It is the one JSON string writer of moontide; builtins reach it through
// engine/lua's JSON encoder.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			// U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
			if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// wireEvent is the JSON form as encoding/json sees it.
type wireEvent struct {
	V       int                        `json:"v"`
	ID      string                     `json:"id"`
	Schema  string                     `json:"schema"`
	Table   string                     `json:"table"`
	Action  string                     `json:"action"`
	TS      int64                      `json:"ts"`
	Pos     wirePos                    `json:"pos"`
	Version uint64                     `json:"version"`
	Tx      wireTx                     `json:"tx"`
	PK      []string                   `json:"pk"`
	Key     json.RawMessage            `json:"key"`
	Types   json.RawMessage            `json:"types"`
	Before  map[string]json.RawMessage `json:"before"`
	After   map[string]json.RawMessage `json:"after"`
	Changed []string                   `json:"changed"`
	DDL     *string                    `json:"ddl"`
}

type wirePos struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	GTID string `json:"gtid"`
}

type wireTx struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

// Decoder decodes the JSON form, reusing the Table of messages whose table
// and types it has seen before. A Decoder is not safe for concurrent use.
type Decoder struct {
	tables map[string]*Table
}

// maxCachedTables bounds the Decoder's table cache; past it the cache starts
// afresh rather than grow with every schema change ever seen.
const maxCachedTables = 4096

// Decode parses one event with a fresh Decoder.
func Decode(data []byte) (*Event, error) {
	var d Decoder
	return d.Decode(data)
}

// Decode parses the JSON form strictly: unknown fields, a wrong version,
// values that do not fit their column's type, and columns that are not in
// "types" are errors.
func (d *Decoder) Decode(data []byte) (*Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("decoding event: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding event: trailing data after the event")
	}
	if w.V != FormatVersion {
		return nil, fmt.Errorf("decoding event %q: format version %d, want %d", w.ID, w.V, FormatVersion)
	}
	e, err := d.build(&w)
	if err != nil {
		return nil, fmt.Errorf("decoding event %q of %s.%s: %w", w.ID, w.Schema, w.Table, err)
	}
	return e, nil
}

func (d *Decoder) build(w *wireEvent) (*Event, error) {
	action, err := ParseAction(w.Action)
	if err != nil {
		return nil, err
	}
	if w.ID == "" || w.Schema == "" || (w.Table == "" && action != DDL) {
		return nil, errors.New("id, schema and table are required")
	}
	t, err := d.table(w)
	if err != nil {
		return nil, err
	}
	e := &Event{
		ID: w.ID, Action: action, Table: t, TS: w.TS, Version: w.Version,
		Pos: Position{File: w.Pos.File, Pos: w.Pos.Pos, GTID: w.Pos.GTID},
		Tx:  Tx{ID: w.Tx.ID, Seq: w.Tx.Seq},
	}
	key, err := decodeValue(w.Key, String)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	e.Key = key.str
	if e.Before, err = decodeRow(t, w.Before); err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	if e.After, err = decodeRow(t, w.After); err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	if w.DDL != nil {
		e.Statement = *w.DDL
	}
	return e, e.checkShape(w)
}

// checkShape checks that the images and fields present fit the action.
func (e *Event) checkShape(w *wireEvent) error {
	has := func(b bool) string {
		if b {
			return "present"
		}
		return "absent"
	}
	wantBefore := e.Action == Update || e.Action == Delete
	wantAfter := e.Action == Insert || e.Action == Update || e.Action == Snapshot
	switch {
	case (e.Before != nil) != wantBefore:
		return fmt.Errorf("%s event with before image %s", e.Action, has(e.Before != nil))
	case (e.After != nil) != wantAfter:
		return fmt.Errorf("%s event with after image %s", e.Action, has(e.After != nil))
	case (w.DDL != nil) != (e.Action == DDL):
		return fmt.Errorf("%s event with ddl %s", e.Action, has(w.DDL != nil))
	}
	if e.Action == Update {
		changed := e.Changed(nil)
		if len(changed) != len(w.Changed) {
			return fmt.Errorf("changed lists %d columns, the images differ in %d", len(w.Changed), len(changed))
		}
		for i, p := range changed {
			if e.Table.Columns[p].Name != w.Changed[i] {
				return fmt.Errorf("changed lists %q where the images differ in %q", w.Changed[i], e.Table.Columns[p].Name)
			}
		}
	} else if w.Changed != nil {
		return fmt.Errorf("%s event with changed columns", e.Action)
	}
	if e.Action != DDL {
		if want := MakeKey(e.Table, e.Row()); want != e.Key {
			return fmt.Errorf("key %q does not match the primary key values %q", e.Key, want)
		}
	}
	return nil
}

// table returns the Table the message describes, from the cache when the
// same table and types were seen before.
func (d *Decoder) table(w *wireEvent) (*Table, error) {
	cacheKey := w.Schema + "\x00" + w.Table + "\x00" + string(w.Types)
	for _, pk := range w.PK {
		cacheKey += "\x00" + pk
	}
	if t, ok := d.tables[cacheKey]; ok {
		return t, nil
	}
	cols, err := decodeTypes(w.Types)
	if err != nil {
		return nil, fmt.Errorf("types: %w", err)
	}
	pk := make([]int, len(w.PK))
	for i, name := range w.PK {
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
	t := NewTable(w.Schema, w.Table, cols, pk)
	if d.tables == nil || len(d.tables) >= maxCachedTables {
		d.tables = make(map[string]*Table)
	}
	d.tables[cacheKey] = t
	return t, nil
}

// decodeTypes reads the "types" object keeping its order, which is the
// column order.
func decodeTypes(raw json.RawMessage) ([]Column, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var cols []Column
	seen := make(map[string]bool)
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, err
		}
		typ, err := dec.Token()
		if err != nil {
			return nil, err
		}
		n, _ := name.(string)
		s, ok := typ.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("column %q: type must be a non-empty string", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("column %q listed twice", n)
		}
		seen[n] = true
		cols = append(cols, Column{Name: n, Type: s})
	}
	return cols, nil
}

func decodeRow(t *Table, obj map[string]json.RawMessage) ([]Value, error) {
	if obj == nil {
		return nil, nil
	}
	row := make([]Value, len(t.Columns))
	for name, raw := range obj {
		i := t.Column(name)
		if i < 0 {
			return nil, fmt.Errorf("column %q is not in types", name)
		}
		v, err := decodeValue(raw, KindOf(t.Columns[i].Type))
		if err != nil {
			return nil, fmt.Errorf("column %s %s: %w", name, t.Columns[i].Type, err)
		}
		row[i] = v
	}
	return row, nil
}

// decodeValue reads one JSON value as a value of the given kind. null is
// NULL for every kind, and a {"base64": ...} object is bytes for every kind
// (text in a charset that could not be decoded travels that way).
func decodeValue(raw json.RawMessage, kind Kind) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, errors.New("empty value")
	}
	switch raw[0] {
	case 'n':
		if string(raw) != "null" {
			return Value{}, fmt.Errorf("malformed value %s", raw)
		}
		return NullValue(), nil
	case '{':
		var b struct {
			Base64 *string `json:"base64"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || b.Base64 == nil {
			return Value{}, errors.New(`an object value must be {"base64": "..."}`)
		}
		data, err := base64.StdEncoding.DecodeString(*b.Base64)
		if err != nil {
			return Value{}, fmt.Errorf("bad base64: %w", err)
		}
		return BytesValue(data), nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Value{}, err
		}
		switch kind {
		case String, Time, JSON:
			return Value{kind: kind, str: s}, nil
		case Decimal:
			if !isDecimal(s) {
				return Value{}, fmt.Errorf("%q is not a decimal", s)
			}
			return DecimalValue(s), nil
		default:
			return Value{}, fmt.Errorf("a string where %s is expected", kind)
		}
	}
	switch kind {
	case Int:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("not a signed 64-bit integer: %s", raw)
		}
		return IntValue(n), nil
	case Uint:
		n, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("not an unsigned 64-bit integer: %s", raw)
		}
		return UintValue(n), nil
	case Float:
		if !json.Valid(raw) {
			return Value{}, fmt.Errorf("malformed number %s", raw)
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return Value{}, fmt.Errorf("not a float: %s", raw)
		}
		return FloatValue(f), nil
	}
	return Value{}, fmt.Errorf("%s where %s is expected", raw, kind)
}

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
