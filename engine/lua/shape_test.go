package lua

import (
	"fmt"
	"reflect"
	"testing"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/event"
)

func TestShapeLayoutMatchesGopherLua(t *testing.T) {
	if !fastShapes {
		t.Fatal("tableFields no longer mirrors glua.LTable: event conversion fell back to the slow path; update tableFields (shape.go) to the new layout")
	}
}

// keyBuilt builds the table the way gopher-lua's public API does, the
// reference shapes must match.
func keyBuilt(L *glua.LState, names []string, vals []glua.LValue) *glua.LTable {
	t := L.CreateTable(0, len(names))
	for i, n := range names {
		t.RawSetString(n, vals[i])
	}
	return t
}

// sameTable compares everything gopher-lua keeps of a table.
func sameTable(t *testing.T, got, want *glua.LTable) {
	t.Helper()
	g, w := fieldsOf(got), fieldsOf(want)
	if g.Metatable != w.Metatable || g.array != nil || g.dict != nil {
		t.Errorf("metatable/array/dict differ: %v %v %v", g.Metatable, g.array, g.dict)
	}
	if !reflect.DeepEqual(g.strdict, w.strdict) || !reflect.DeepEqual(g.keys, w.keys) || !reflect.DeepEqual(g.k2i, w.k2i) {
		t.Errorf("got strdict %v keys %v k2i %v\nwant strdict %v keys %v k2i %v", g.strdict, g.keys, g.k2i, w.strdict, w.keys, w.k2i)
	}
}

func TestShapedTablesAreTheTablesRawSetStringBuilds(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	// Lua's view: pairs order, then the table after adding and removing
	// keys, as one string.
	if err := L.DoString(`function view(t)
  local out = {}
  for k, v in pairs(t) do out[#out + 1] = k .. "=" .. tostring(v) end
  t.added = 1; t.k0 = nil; t.k1 = "changed"
  for k, v in pairs(t) do out[#out + 1] = k .. "=" .. tostring(v) end
  out[#out + 1] = tostring(next(t))
  return table.concat(out, ",")
end`); err != nil {
		t.Fatal(err)
	}
	view := func(tb *glua.LTable) string {
		if err := L.CallByParam(glua.P{Fn: L.GetGlobal("view"), NRet: 1, Protect: true}, tb); err != nil {
			t.Fatal(err)
		}
		defer L.Pop(1)
		return L.Get(-1).String()
	}
	for _, n := range []int{0, 1, 3, 8, 9, 14, 40} {
		names := make([]string, n)
		vals := make([]glua.LValue, n)
		for i := range names {
			names[i] = fmt.Sprintf("k%d", i)
			vals[i] = glua.LNumber(i)
		}
		fast := newShape(names)
		slow := &shape{names: names}
		for _, s := range []*shape{fast, slow} {
			name := fmt.Sprintf("%d keys, template %v", n, s.template != nil)
			a, b, want := s.build(L, vals), s.build(L, vals), keyBuilt(L, names, vals)
			sameTable(t, a, want)
			if got, w := view(a), view(want); got != w {
				t.Errorf("%s: Lua sees %q, want %q", name, got, w)
			}
			// Changing a left its sibling and the template alone.
			sameTable(t, b, keyBuilt(L, names, vals))
			sameTable(t, s.build(L, vals), keyBuilt(L, names, vals))
			// Siblings that each gain a different key keep their own.
			c, d := s.build(L, vals), s.build(L, vals)
			c.RawSetString("only_c", glua.LTrue)
			d.RawSetString("only_d", glua.LTrue)
			wantC, wantD := keyBuilt(L, names, vals), keyBuilt(L, names, vals)
			wantC.RawSetString("only_c", glua.LTrue)
			wantD.RawSetString("only_d", glua.LTrue)
			if got, w := view(c), view(wantC); got != w {
				t.Errorf("%s: after a sibling gained a key, Lua sees %q, want %q", name, got, w)
			}
			if got, w := view(d), view(wantD); got != w {
				t.Errorf("%s: Lua sees %q, want %q", name, got, w)
			}
		}
	}
}

func TestRowsOfEveryLayoutConvertKeyByKeyAlike(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	wide := make([]event.Column, 70)
	for i := range wide {
		wide[i] = event.Column{Name: fmt.Sprintf("c%d", i), Type: "int"}
	}
	tables := map[string]*event.Table{
		"items":       itemsTable,
		"dup names":   event.NewTable("s", "d", []event.Column{{Name: "a"}, {Name: "b"}, {Name: "a"}}, nil),
		"70 columns":  event.NewTable("s", "w", wide, nil),
		"no columns":  event.NewTable("s", "e", nil, nil),
		"short table": event.NewTable("s", "x", []event.Column{{Name: "a"}}, nil),
	}
	rows := func(n int) map[string][]event.Value {
		full := make([]event.Value, n)
		for i := range full {
			full[i] = event.IntValue(int64(i) + 5000)
		}
		minimal := append([]event.Value(nil), full...)
		for i := 1; i < n; i += 2 {
			minimal[i] = event.Value{} // Missing
		}
		nulls := append([]event.Value(nil), full...)
		if n > 0 {
			nulls[0] = event.NullValue()
		}
		return map[string][]event.Value{"full": full, "minimal": minimal, "nulls": nulls, "longer than the table": append(full, event.IntValue(1))}
	}
	var c converter
	for tn, tbl := range tables {
		ti := c.table(L, tbl)
		for rn, row := range rows(len(tbl.Columns)) {
			for range 2 { // the second time from cached shapes
				got := c.row(L, ti, row)
				want := L.CreateTable(0, 0)
				for i, v := range row {
					if i < len(ti.names) {
						if lv := Value(v); lv != nil {
							want.RawSetString(ti.names[i], lv)
						}
					}
				}
				t.Run(tn+"/"+rn, func(t *testing.T) { sameTable(t, got, want) })
			}
		}
	}
}

func TestEventFieldsKeepTheirOrder(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	ddl := &event.Event{ID: "d", Action: event.DDL, Table: &event.Table{Schema: "shop"}, Statement: "DROP TABLE t", Pos: event.Position{GTID: "0-1-9"}}
	slim := allFields &^ (1<<fieldAction | 1<<fieldKey | 1<<fieldAfter) // fields = { "action", "key", "after" }
	tests := []struct {
		ev   *event.Event
		omit fieldSet
		want string
	}{
		{itemEvent(event.Update, 3), 0, "[id schema table action before after changed pk key ts pos version tx]"},
		{itemEvent(event.Insert, 4), 0, "[id schema table action after pk key ts pos version tx]"},
		{ddl, 0, "[id schema table action pk key ts pos version tx ddl]"},
		{itemEvent(event.Update, 3), slim, "[action after key]"},
		{itemEvent(event.Delete, 3), slim, "[action key]"},
		{ddl, slim, "[action key]"},
		{itemEvent(event.Insert, 4), allFields &^ (1 << fieldDDL), "[]"},
		{itemEvent(event.Update, 3), 1 << fieldPos, "[id schema table action before after changed pk key ts version tx]"},
	}
	for _, tt := range tests {
		c := converter{omit: tt.omit}
		e := c.event(L, tt.ev)
		if got := fmt.Sprint(fieldsOf(e).keys); got != tt.want {
			t.Errorf("%s event, omit %014b: keys %s, want %s", tt.ev.Action, tt.omit, got, tt.want)
		}
		if pos, ok := e.RawGetString("pos").(*glua.LTable); ok && (pos.RawGetString("gtid") != glua.LNil) != (tt.ev.Pos.GTID != "") {
			t.Errorf("%s event: pos.gtid is %v", tt.ev.Action, pos.RawGetString("gtid"))
		}
	}
}

// TestStringKeysReadsLikeForEach checks that json.encode and ToGo, which
// range over a string-keyed table's map directly, see what ForEach shows.
func TestStringKeysReadsLikeForEach(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	tables := map[string]string{
		"object":         `{b = 1, a = "x", c = {d = true}}`,
		"key removed":    `(function() local t = {a = 1, b = 2, c = 3}; t.b = nil; return t end)()`,
		"all removed":    `(function() local t = {a = 1}; t.a = nil; return t end)()`,
		"empty":          `{}`,
		"array":          `{1, 2, "three"}`,
		"mixed":          `{1, a = 2}`,
		"non-string key": `{[true] = 1}`,
		"many keys":      `{k1=1,k2=2,k3=3,k4=4,k5=5,k6=6,k7=7,k8=8,k9=9,k10=10,k11=11,k12=12}`,
	}
	for name, src := range tables {
		if err := L.DoString("probe = " + src); err != nil {
			t.Fatal(err)
		}
		tb := L.GetGlobal("probe").(*glua.LTable)
		read := func() string {
			n, lenErr := ArrayLen(L, tb)
			js, encErr := (&JSONEncoder{L: L}).Append(nil, tb)
			v, goErr := ToGo(L, tb)
			return fmt.Sprintf("len %d %v | %s %v | %v %v", n, lenErr, js, encErr, v, goErr)
		}
		direct := read()
		saved := fastShapes
		fastShapes = false
		viaForEach := read()
		fastShapes = saved
		if direct != viaForEach {
			t.Errorf("%s: read directly %q, through ForEach %q", name, direct, viaForEach)
		}
	}
}

// keyByKey copies v, table by table, through gopher-lua's public API, so
// that the copy is built from no shape.
func keyByKey(L *glua.LState, v glua.LValue) glua.LValue {
	tb, ok := v.(*glua.LTable)
	if !ok {
		return v
	}
	c := L.CreateTable(0, 0)
	tb.ForEach(func(k, v glua.LValue) { c.RawSet(k, keyByKey(L, v)) })
	c.Metatable = tb.Metatable
	return c
}

// TestShapedTablesEncodeAsTheirCopies: json.encode writes a table still of
// its shape from the shape's sorted keys (JSONEncoder.shaped), and must
// write what it writes for the same table built key by key.
func TestShapedTablesEncodeAsTheirCopies(t *testing.T) {
	badName := event.NewTable("s", "bad", []event.Column{{Name: "id"}, {Name: "n\xffme"}}, []int{0})
	bad := &event.Event{ID: "b", Action: event.Insert, Table: badName, After: []event.Value{event.IntValue(1), event.IntValue(2)}}
	tests := []struct {
		name   string
		ev     *event.Event
		change string // Lua run on ev first
		shaped bool   // whether ev.after is still of its shape afterwards
	}{
		{"as built", itemEvent(event.Update, 7), ``, true},
		{"keys removed", itemEvent(event.Update, 7), `ev.after.name = nil; ev.pos.pos = nil; ev.before = nil`, true},
		{"a key set again", itemEvent(event.Update, 7), `ev.after.name = "renamed"; ev.tx.seq = 99`, true},
		{"a value replaced by a table", itemEvent(event.Insert, 7), `ev.after.price = {1, {x = "y"}}`, true},
		{"a key added", itemEvent(event.Insert, 7), `ev.after.extra = json_null; ev.zzz = 1`, false},
		{"a column name that is not UTF-8", bad, ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{}
			s := newState(o.shared(""), &Env{logger: testOptions(nil).Logger, sinks: noSinks{}})
			defer s.close()
			L := s.L
			ev := s.conv.event(L, tt.ev)
			L.SetGlobal("ev", ev)
			L.SetGlobal("json_null", NullValue)
			if err := L.DoString(tt.change); err != nil {
				t.Fatal(err)
			}
			after := ev.RawGetString("after").(*glua.LTable)
			if got := s.conv.builtFrom(after) != nil; got != tt.shaped {
				t.Fatalf("ev.after still of its shape: %v, want %v", got, tt.shaped)
			}
			var enc JSONEncoder
			for _, v := range []*glua.LTable{ev, after} {
				got, gotErr := enc.AppendLua(L, nil, v)
				want, wantErr := enc.AppendLua(L, nil, keyByKey(L, v))
				if string(got) != string(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Errorf("shaped: %s %v\nkey by key: %s %v", got, gotErr, want, wantErr)
				}
			}
		})
	}
}

// TestConverterStartsOverAfterManyTables: past maxCachedTables table
// versions the converter forgets them, and their shapes with them.
func TestConverterStartsOverAfterManyTables(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	var c converter
	var last *glua.LTable
	for i := range maxCachedTables + 1 {
		tbl := event.NewTable("s", fmt.Sprintf("t%d", i), []event.Column{{Name: "id"}, {Name: fmt.Sprintf("c%d", i)}}, []int{0})
		last = c.event(L, &event.Event{ID: "x", Action: event.Insert, Table: tbl, After: []event.Value{event.IntValue(int64(i)), event.IntValue(1)}})
	}
	if len(c.tables) != 1 {
		t.Errorf("%d table versions cached after starting over, want 1", len(c.tables))
	}
	// Left: the last table's row, the insert event, pos and tx.
	if len(c.shapes) != 4 {
		t.Errorf("%d shapes kept after starting over, want 4", len(c.shapes))
	}
	if c.builtFrom(last.RawGetString("after").(*glua.LTable)) == nil {
		t.Error("the row converted after starting over has no shape")
	}
}
