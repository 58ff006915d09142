package lua

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

// maxExact is 2^53: every integer of at most this magnitude is exact as a
// Lua number (a float64); beyond it integers travel as strings.
const maxExact = 1 << 53

// smallInts holds boxed Lua numbers 0..1023: small counts, flags, statuses
// and row indexes are common column values, and boxing a number into an
// interface allocates. Boxed numbers are immutable, safe to share.
var smallInts = func() (vs [1024]glua.LValue) {
	for i := range vs {
		vs[i] = glua.LNumber(i)
	}
	return vs
}()

// Int returns v as a Lua number when that is exact (|v| ≤ 2^53) and as a
// string of its decimal digits otherwise.
func Int(v int64) glua.LValue {
	if v >= 0 && v < int64(len(smallInts)) {
		return smallInts[v]
	}
	if v >= -maxExact && v <= maxExact {
		return glua.LNumber(v)
	}
	return glua.LString(strconv.FormatInt(v, 10))
}

// Uint is Int for unsigned values.
func Uint(v uint64) glua.LValue {
	if v < uint64(len(smallInts)) {
		return smallInts[v]
	}
	if v <= maxExact {
		return glua.LNumber(v)
	}
	return glua.LString(strconv.FormatUint(v, 10))
}

// Value converts one column value. Missing has no Lua form: callers leave
// the key out, so Value returns nil for it.
func Value(v event.Value) glua.LValue {
	switch v.Kind() {
	case event.Null:
		return NullValue
	case event.Int:
		return Int(v.Int())
	case event.Uint:
		return Uint(v.Uint())
	case event.Float:
		return glua.LNumber(v.Float())
	case event.Decimal, event.String, event.Bytes, event.Time, event.JSON:
		return glua.LString(v.Str())
	default: // Missing
		return nil
	}
}

// Boxed action names: converting a string to an interface allocates, so the
// constant strings of every event are boxed once, here, and shared. An
// LString is an immutable Go string, safe to share between states.
var actionValues = func() []glua.LValue {
	vs := make([]glua.LValue, event.DDL+1)
	for a := event.Insert; a <= event.DDL; a++ {
		vs[a] = glua.LString(a.String())
	}
	return vs
}()

// tableInfo holds the boxed names of one table version and the shapes of
// its rows. Events of one table share its *event.Table, so converting a
// batch boxes each name once instead of once per row.
type tableInfo struct {
	schema, name glua.LValue
	cols         []glua.LValue // column names, boxed, for changed and pk
	names        []string
	pk           []glua.LValue
	// full is the shape of a row with every column; nil until needed, and
	// nil for good (noShape) when column names repeat.
	full *shape
	// partial holds the shapes of rows missing some columns
	// (binlog_row_image=MINIMAL), by the mask of the columns present.
	partial map[uint64]*shape
	// binary names the columns whose values are bytes (event.KindOf), and
	// meta is the metatable of the table's row images that tells JSON and
	// ToGo so (binaryColumns); both nil for a table without such columns.
	binary map[string]bool
	meta   *glua.LTable
}

// noShape marks a row layout that has no shape: it is built key by key.
var noShape = &shape{}

// Bounds of the shapes kept per table version. With MINIMAL row images the
// mask of an update's after image follows which columns the statement set;
// a few patterns dominate, and the others are built key by key.
const (
	maxMaskedColumns = 64
	maxPartialShapes = 64
)

// The fields of an event table, in the order of docs/scripts.md, which is
// also the order pairs(ev) yields them.
const (
	fieldID = iota
	fieldSchema
	fieldTable
	fieldAction
	fieldBefore
	fieldAfter
	fieldChanged
	fieldPK
	fieldKey
	fieldTS
	fieldPos
	fieldVersion
	fieldTx
	fieldDDL
	fieldCount
)

// eventFields names the fields, by their constant.
var eventFields = [fieldCount]string{
	"id", "schema", "table", "action", "before", "after", "changed",
	"pk", "key", "ts", "pos", "version", "tx", "ddl",
}

// fieldSet is a set of event fields: bit f for field f.
type fieldSet uint16

// allFields is every field of an event table.
const allFields fieldSet = 1<<fieldCount - 1

// optionalFields are the fields only some actions have.
const optionalFields = 1<<fieldBefore | 1<<fieldAfter | 1<<fieldChanged | 1<<fieldDDL

func (fs fieldSet) has(f int) bool { return fs&(1<<f) != 0 }

// fieldsIn returns the fields ev has, by its action and row images.
func fieldsIn(ev *event.Event) fieldSet {
	fs := allFields &^ optionalFields
	if ev.Before != nil {
		fs |= 1 << fieldBefore
	}
	if ev.After != nil {
		fs |= 1 << fieldAfter
	}
	switch ev.Action {
	case event.Update:
		fs |= 1 << fieldChanged
	case event.DDL:
		fs |= 1 << fieldDDL
	}
	return fs
}

// converter turns events into Lua tables for one state. It is the hot path
// of dispatch: it caches boxed strings that repeat from event to event
// (table and column names, binlog file, transaction id, GTID) and builds
// every string-keyed table from a shape (shape.go), so that the key
// bookkeeping of a table is paid once per layout instead of once per event.
type converter struct {
	tables  map[*event.Table]*tableInfo
	file    string
	fileV   glua.LValue
	gtid    string
	gtidV   glua.LValue
	txID    string
	txIDV   glua.LValue
	changed []int

	// omit holds the fields the listener leaves out (its fields list):
	// they are not built at all, which is most of a batch's conversion
	// when a script reads only a few.
	omit fieldSet

	events map[fieldSet]*shape // by the fields present
	pos    [2]*shape           // without, with gtid
	tx     *shape
	vals   []glua.LValue // scratch: the values of the table being built

	// shapes holds every shape above (and those of tables) by its
	// template's keys slice, for builtFrom.
	shapes map[*glua.LValue]*shape
	// rowMetas holds the metatables of row images, for binaryColumns.
	rowMetas map[*glua.LTable]*tableInfo
}

// maxCachedTables bounds the per-state name cache; table versions change
// only with DDL, so the limit is reached only by listeners on very many
// tables, and then the whole converter starts over, shapes included, so
// that shapes does not keep those of forgotten tables.
const maxCachedTables = 4096

func (c *converter) table(L *glua.LState, t *event.Table) *tableInfo {
	if ti, ok := c.tables[t]; ok {
		return ti
	}
	if c.tables == nil || len(c.tables) >= maxCachedTables {
		*c = converter{tables: make(map[*event.Table]*tableInfo), omit: c.omit}
	}
	ti := &tableInfo{schema: glua.LString(t.Schema), name: glua.LString(t.Name)}
	ti.cols = make([]glua.LValue, len(t.Columns))
	ti.names = make([]string, len(t.Columns))
	for i, col := range t.Columns {
		ti.cols[i] = glua.LString(col.Name)
		ti.names[i] = col.Name
		if event.KindOf(col.Type) == event.Bytes {
			if ti.binary == nil {
				ti.binary = make(map[string]bool)
			}
			ti.binary[col.Name] = true
		}
	}
	if ti.binary != nil {
		ti.meta = L.NewTable()
		if c.rowMetas == nil {
			c.rowMetas = make(map[*glua.LTable]*tableInfo)
		}
		c.rowMetas[ti.meta] = ti
	}
	ti.pk = make([]glua.LValue, 0, len(t.PK))
	for _, p := range t.PK {
		if p >= 0 && p < len(ti.cols) {
			ti.pk = append(ti.pk, ti.cols[p])
		}
	}
	c.tables[t] = ti
	return ti
}

// newShape is the package's newShape, and records the shape for builtFrom.
func (c *converter) newShape(names []string) *shape {
	s := newShape(names)
	if s != nil && s.template != nil {
		if c.shapes == nil {
			c.shapes = make(map[*glua.LValue]*shape)
		}
		c.shapes[unsafe.SliceData(s.template.keys)] = s
	}
	return s
}

// builtFrom returns the shape t was built from by this converter, when t
// still has only that shape's keys; nil for other tables, and for a nil c.
// A table keeps its template's keys slice until a key is added, which makes
// gopher-lua copy the slice (see build): so the slice tells. Keys removed
// since are absent from the table's map.
func (c *converter) builtFrom(t *glua.LTable) *shape {
	if c == nil || !fastShapes {
		return nil
	}
	keys := fieldsOf(t).keys
	if len(keys) == 0 {
		return nil
	}
	if s := c.shapes[unsafe.SliceData(keys)]; s != nil && len(s.names) == len(keys) {
		return s
	}
	return nil
}

func (c *converter) str(cache *string, boxed *glua.LValue, s string) glua.LValue {
	if *boxed == nil || *cache != s {
		*cache, *boxed = s, glua.LString(s)
	}
	return *boxed
}

var emptyTable = &event.Table{}

// batch converts a batch into the Lua array of event tables that handle
// receives. The array is new for every batch: a script may keep it.
func (c *converter) batch(L *glua.LState, evs []*event.Event) *glua.LTable {
	arr := L.CreateTable(len(evs), 0)
	for _, ev := range evs {
		arr.Append(c.event(L, ev))
	}
	return arr
}

// event converts one event. Field names and meanings: DESIGN §4 and
// docs/scripts.md. Every table is new and belongs to this event alone, as
// scripts may change or keep any of them.
func (c *converter) event(L *glua.LState, ev *event.Event) *glua.LTable {
	t := ev.Table
	if t == nil {
		t = emptyTable
	}
	ti := c.table(L, t)
	present := fieldsIn(ev) &^ c.omit

	// Subtables use c.vals as scratch, so the event's values gather here
	// first.
	var vals [fieldCount]glua.LValue
	for f := range fieldCount {
		if !present.has(f) {
			continue
		}
		switch f {
		case fieldID:
			vals[f] = glua.LString(ev.ID)
		case fieldSchema:
			vals[f] = ti.schema
		case fieldTable:
			vals[f] = ti.name
		case fieldAction:
			if int(ev.Action) < len(actionValues) && ev.Action != 0 {
				vals[f] = actionValues[ev.Action]
			} else {
				vals[f] = glua.LString(ev.Action.String())
			}
		case fieldBefore:
			vals[f] = c.row(L, ti, ev.Before)
		case fieldAfter:
			vals[f] = c.row(L, ti, ev.After)
		case fieldChanged:
			c.changed = ev.Changed(c.changed[:0])
			ch := L.CreateTable(len(c.changed), 0)
			for _, i := range c.changed {
				if i < len(ti.cols) {
					ch.Append(ti.cols[i])
				}
			}
			vals[f] = ch
		case fieldPK:
			pk := L.CreateTable(len(ti.pk), 0)
			for _, n := range ti.pk {
				pk.Append(n)
			}
			vals[f] = pk
		case fieldKey:
			vals[f] = glua.LString(ev.Key)
		case fieldTS:
			vals[f] = Int(ev.TS)
		case fieldPos:
			vals[f] = c.position(L, ev)
		case fieldVersion:
			vals[f] = Uint(ev.Version)
		case fieldTx:
			c.vals = append(c.vals[:0], c.str(&c.txID, &c.txIDV, ev.Tx.ID), Uint(ev.Tx.Seq))
			vals[f] = c.txShape().build(L, c.vals)
		case fieldDDL:
			vals[f] = glua.LString(ev.Statement)
		}
	}
	vs := c.vals[:0]
	for f, v := range vals {
		if present.has(f) {
			vs = append(vs, v)
		}
	}
	c.vals = vs
	return c.eventShape(present).build(L, vs)
}

// eventShape returns the shape of an event table with the fields present.
func (c *converter) eventShape(present fieldSet) *shape {
	if s := c.events[present]; s != nil {
		return s
	}
	var names []string
	for f, name := range eventFields {
		if present.has(f) {
			names = append(names, name)
		}
	}
	if c.events == nil {
		c.events = make(map[fieldSet]*shape)
	}
	c.events[present] = c.newShape(names)
	return c.events[present]
}

// position builds ev.pos: {file, pos, gtid}, gtid absent without GTIDs.
func (c *converter) position(L *glua.LState, ev *event.Event) *glua.LTable {
	c.vals = append(c.vals[:0], c.str(&c.file, &c.fileV, ev.Pos.File), Uint(uint64(ev.Pos.Pos)))
	withGTID := 0
	if ev.Pos.GTID != "" {
		c.vals = append(c.vals, c.str(&c.gtid, &c.gtidV, ev.Pos.GTID))
		withGTID = 1
	}
	if c.pos[withGTID] == nil {
		c.pos[withGTID] = c.newShape([]string{"file", "pos", "gtid"}[:2+withGTID])
	}
	return c.pos[withGTID].build(L, c.vals)
}

func (c *converter) txShape() *shape {
	if c.tx == nil {
		c.tx = c.newShape([]string{"id", "seq"})
	}
	return c.tx
}

// row converts a row image: column name → value, Missing columns absent,
// NULL as NullValue.
func (c *converter) row(L *glua.LState, ti *tableInfo, vals []event.Value) *glua.LTable {
	vals = vals[:min(len(vals), len(ti.cols))]
	vs := c.vals[:0]
	var present uint64 // columns with a value, when there are at most 64
	for i, v := range vals {
		if lv := Value(v); lv != nil {
			vs = append(vs, lv)
			present |= 1 << (i % maxMaskedColumns)
		}
	}
	c.vals = vs
	var r *glua.LTable
	if s := c.rowShape(ti, len(vals), present, len(vs)); s != noShape {
		r = s.build(L, vs)
	} else {
		r = L.CreateTable(0, len(vs))
		j := 0
		for i, v := range vals {
			if Value(v) != nil {
				r.RawSetString(ti.names[i], vs[j])
				j++
			}
		}
	}
	if ti.meta != nil {
		r.Metatable = ti.meta
	}
	return r
}

// binaryColumns returns the names of t's binary columns when t is a row
// image this converter built (and still has its metatable): JSON writes
// their string values as {"base64": "..."} and ToGo returns them as []byte,
// as for the bytes of an event in Kafka (docs/events.md), so that a row
// with a BINARY column encodes whatever its bytes. nil otherwise, and for a
// nil c.
func (c *converter) binaryColumns(t *glua.LTable) map[string]bool {
	if c == nil || c.rowMetas == nil {
		return nil
	}
	if mt, ok := t.Metatable.(*glua.LTable); ok {
		if ti := c.rowMetas[mt]; ti != nil {
			return ti.binary
		}
	}
	return nil
}

// rowShape returns the shape of a row of n columns of which count, those
// in mask, have a value; noShape when the row must be built key by key.
func (c *converter) rowShape(ti *tableInfo, n int, mask uint64, count int) *shape {
	if count == len(ti.names) {
		if ti.full == nil {
			if ti.full = c.newShape(ti.names); ti.full == nil {
				ti.full = noShape
			}
		}
		return ti.full
	}
	if len(ti.names) > maxMaskedColumns {
		return noShape
	}
	if s, ok := ti.partial[mask]; ok {
		return s
	}
	if len(ti.partial) >= maxPartialShapes {
		return noShape
	}
	names := make([]string, 0, count)
	for i := range n {
		if mask&(1<<i) != 0 {
			names = append(names, ti.names[i])
		}
	}
	s := c.newShape(names)
	if s == nil {
		s = noShape
	}
	if ti.partial == nil {
		ti.partial = make(map[uint64]*shape)
	}
	ti.partial[mask] = s
	return s
}

// ConversionError is a Lua value that has no Go (or JSON) form: a function,
// a cycle, a sparse array. Path locates it inside the converted value, in
// JSONPath-like notation ($.a[2].b).
type ConversionError struct {
	Path string
	Msg  string
}

func (e *ConversionError) Error() string {
	return fmt.Sprintf("%s at %s", e.Msg, e.Path)
}

// Limits of ToGo. Deeper nesting is almost surely a mistake, and bounding it
// bounds the Go stack. The value budget bounds the work: a table that holds
// the same subtable twice, level after level, expands exponentially, and Go
// code is not interrupted by the call's deadline.
const (
	maxDepth  = 200
	maxValues = 1 << 22
)

// ToGo converts a Lua value to plain Go for a module's use:
//
//   - nil → nil; json.null → Null{}; booleans → bool; strings → string
//     (bytes as they are, not necessarily UTF-8), except the values of
//     binary columns in an event's row image, which are []byte;
//   - numbers → int64 when integral and within the int64 range, so that
//     ids and counters stay exact; otherwise float64 (also NaN and ±Inf);
//   - tables → []any or map[string]any: a table marked with json.array()
//     is an array, one marked with json.object() an object (integral
//     number keys become decimal strings); an unmarked table is an array
//     when its keys are exactly 1..n, an object when all keys are strings,
//     and an empty object when empty. Mixed or sparse keys are errors.
//
// Functions, threads, other userdata, cycles, nesting beyond 200 levels and
// values of more than 4M elements are errors (*ConversionError) naming the
// path of the offending value.
func ToGo(L *glua.LState, v glua.LValue) (any, error) {
	tg := toGo{L: L}
	if env := EnvOf(L); env != nil {
		tg.rows = env.conv
	}
	return tg.conv(v, "$")
}

type toGo struct {
	L     *glua.LState
	rows  *converter // the state's, which knows the row images (binaryColumns)
	stack []*glua.LTable
	n     int
}

func (tg *toGo) conv(v glua.LValue, path string) (any, error) {
	if tg.n++; tg.n > maxValues {
		return nil, &ConversionError{Path: path, Msg: fmt.Sprintf("value too large (more than %d values)", maxValues)}
	}
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(x), nil
	case glua.LNumber:
		return Number(float64(x)), nil
	case glua.LString:
		return string(x), nil
	case *glua.LUserData:
		if x == nullUD {
			return Null{}, nil
		}
		return nil, &ConversionError{Path: path, Msg: "cannot convert a userdata"}
	case *glua.LTable:
		return tg.table(x, path)
	default:
		return nil, &ConversionError{Path: path, Msg: "cannot convert a " + v.Type().String()}
	}
}

// Number returns f as int64 when it is integral and within the int64
// range, else as float64.
func Number(f float64) any {
	// -2^63 is exact as a float64; 2^63 is the first value out of range.
	if f == math.Trunc(f) && f >= -9223372036854775808 && f < 9223372036854775808 {
		return int64(f)
	}
	return f
}

func (tg *toGo) table(t *glua.LTable, path string) (any, error) {
	for _, s := range tg.stack {
		if s == t {
			return nil, &ConversionError{Path: path, Msg: "cycle: table contains itself"}
		}
	}
	if len(tg.stack) >= maxDepth {
		return nil, &ConversionError{Path: path, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	tg.stack = append(tg.stack, t)
	defer func() { tg.stack = tg.stack[:len(tg.stack)-1] }()

	shape := ShapeOf(tg.L, t)
	n, err := arrayLen(t, shape)
	if err != nil {
		return nil, &ConversionError{Path: path, Msg: err.Error()}
	}
	if n >= 0 {
		out := make([]any, n)
		for i := 1; i <= n; i++ {
			v, err := tg.conv(t.RawGetInt(i), path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i-1] = v
		}
		return out, nil
	}
	out := make(map[string]any)
	binary := tg.rows.binaryColumns(t)
	var cerr error
	t.ForEach(func(k, v glua.LValue) {
		if cerr != nil {
			return
		}
		key, ok := ObjectKey(k)
		if !ok {
			cerr = &ConversionError{Path: path, Msg: "object key of type " + k.Type().String()}
			return
		}
		if s, ok := v.(glua.LString); ok && binary[key] {
			tg.n++
			out[key] = []byte(s)
			return
		}
		gv, err := tg.conv(v, path+"."+key)
		if err != nil {
			cerr = err
			return
		}
		out[key] = gv
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, nil
}

// ObjectKey returns the JSON object key for a table key: strings as they
// are, integral numbers in decimal. Other keys have none.
func ObjectKey(k glua.LValue) (string, bool) {
	switch x := k.(type) {
	case glua.LString:
		return string(x), true
	case glua.LNumber:
		if f := float64(x); f == math.Trunc(f) && !math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
	}
	return "", false
}

// arrayLen decides whether t is an array and returns its length, or -1 for
// an object. It is shared by ToGo and the json builtin so that both follow
// one rule (see ToGo).
func arrayLen(t *glua.LTable, shape Shape) (int, error) {
	switch shape {
	case Object:
		return -1, nil
	case Array:
		count, max, strs, other := countKeys(t)
		if strs > 0 || other > 0 || max != count {
			return 0, fmt.Errorf("table marked as array has keys other than 1..n")
		}
		return max, nil
	}
	if _, ok := stringKeys(t); ok {
		return -1, nil // string keys only, or none: an object either way
	}
	count, max, strs, other := countKeys(t)
	switch {
	case other > 0:
		return 0, fmt.Errorf("table key that is neither a string nor a positive integer")
	case count > 0 && strs > 0:
		return 0, fmt.Errorf("table mixes array and object keys")
	case count > 0 && max != count:
		return 0, fmt.Errorf("sparse array (%d values, highest index %d); fill the holes with json.null", count, max)
	case count > 0:
		return count, nil
	}
	return -1, nil
}

// ArrayLen is arrayLen for builtins: it returns the length of t when t
// converts to an array and -1 when it converts to an object, following the
// rules of ToGo.
func ArrayLen(L *glua.LState, t *glua.LTable) (int, error) {
	return arrayLen(t, ShapeOf(L, t))
}

func countKeys(t *glua.LTable) (count, max, strs, other int) {
	if m, ok := stringKeys(t); ok {
		for _, v := range m {
			if v != glua.LNil {
				strs++
			}
		}
		return 0, 0, strs, 0
	}
	t.ForEach(func(k, _ glua.LValue) {
		switch x := k.(type) {
		case glua.LString:
			strs++
		case glua.LNumber:
			f := float64(x)
			if f >= 1 && f == math.Trunc(f) && f <= math.MaxInt32 {
				count++
				if int(f) > max {
					max = int(f)
				}
			} else {
				other++
			}
		default:
			other++
		}
	})
	return
}

// FromGo converts a Go value to Lua for a module's results (a redis reply,
// a query row). Integers beyond ±2^53 become strings (see Int); []byte
// becomes a string; Null{} becomes json.null and nil becomes nil; json.Number
// follows the rules of json.decode. Slices and maps become tables marked as
// arrays and objects, so that json.encode writes them back the same way.
// Other types are errors.
func FromGo(L *glua.LState, v any) (glua.LValue, error) {
	switch x := v.(type) {
	case nil:
		return glua.LNil, nil
	case Null:
		return NullValue, nil
	case glua.LValue:
		return x, nil
	case bool:
		return glua.LBool(x), nil
	case int:
		return Int(int64(x)), nil
	case int8:
		return glua.LNumber(x), nil
	case int16:
		return glua.LNumber(x), nil
	case int32:
		return glua.LNumber(x), nil
	case int64:
		return Int(x), nil
	case uint:
		return Uint(uint64(x)), nil
	case uint8:
		return glua.LNumber(x), nil
	case uint16:
		return glua.LNumber(x), nil
	case uint32:
		return glua.LNumber(x), nil
	case uint64:
		return Uint(x), nil
	case float32:
		return glua.LNumber(x), nil
	case float64:
		return glua.LNumber(x), nil
	case string:
		return glua.LString(x), nil
	case []byte:
		return glua.LString(x), nil
	case json.Number:
		return NumberText(string(x)), nil
	case event.Value:
		if lv := Value(x); lv != nil {
			return lv, nil
		}
		return glua.LNil, nil
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, s := range x {
			t.Append(glua.LString(s))
		}
		MarkArray(L, t)
		return t, nil
	case []any:
		t := L.CreateTable(len(x), 0)
		for i, e := range x {
			lv, err := FromGo(L, e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i+1, err)
			}
			if lv == glua.LNil {
				lv = NullValue // an array cannot hold nil
			}
			t.Append(lv)
		}
		MarkArray(L, t)
		return t, nil
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, s := range x {
			t.RawSetString(k, glua.LString(s))
		}
		MarkObject(L, t)
		return t, nil
	case map[string]any:
		t := L.CreateTable(0, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic errors
		for _, k := range keys {
			lv, err := FromGo(L, x[k])
			if err != nil {
				return nil, fmt.Errorf(".%s: %w", k, err)
			}
			if lv == glua.LNil {
				lv = NullValue
			}
			t.RawSetString(k, lv)
		}
		MarkObject(L, t)
		return t, nil
	}
	return nil, fmt.Errorf("no Lua form for Go type %T", v)
}

// NumberText converts the text of a JSON number: an integer literal within
// ±2^53 becomes a number, a larger one a string of the same digits (exact),
// and anything with a fraction or exponent a number (a double, as JSON
// readers everywhere do).
func NumberText(s string) glua.LValue {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i)
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return Uint(u)
		}
		return glua.LString(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return glua.LString(s)
	}
	return glua.LNumber(f)
}
