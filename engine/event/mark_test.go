package event

import "testing"

func TestMarkCompare(t *testing.T) {
	m := func(f string, pos uint32, order uint64) Mark { return Mark{File: f, Pos: pos, Order: order} }
	tests := []struct {
		name string
		a, b Mark
		want int
		ok   bool
	}{
		{"same", m("b.000001", 40, 2), m("b.000001", 40, 2), 0, true},
		{"row in one rows event", m("b.000001", 40, 2), m("b.000001", 40, 3), -1, true},
		{"next rows event of a compressed transaction", m("b.000001", 40, 1<<32), m("b.000001", 40, 900), 1, true},
		{"later event", m("b.000001", 900, 0), m("b.000001", 40, 7), 1, true},
		{"later file", m("b.000002", 4, 0), m("b.000001", 9000, 0), 1, true},
		{"file past its padding", m("b.999999", 9000, 0), m("b.1000000", 4, 0), -1, true},
		{"other base name", m("a.000001", 4, 0), m("b.000001", 4, 0), 0, false},
		{"zero", Mark{}, m("b.000001", 4, 0), 0, false},
		{"both zero", Mark{}, Mark{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.a.Compare(tt.b)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Compare = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
			if back, _ := tt.b.Compare(tt.a); ok && back != -got {
				t.Fatalf("Compare is not antisymmetric: %d and %d", got, back)
			}
			if at := tt.a.AtOrBefore(tt.b); at != (ok && got <= 0) {
				t.Fatalf("AtOrBefore = %v", at)
			}
		})
	}
}

func TestEventMark(t *testing.T) {
	ev := &Event{Action: Insert, Pos: Position{File: "b.000003", Pos: 120}, Order: 4, Tx: Tx{Seq: 9}}
	if got := ev.Mark(); got != (Mark{File: "b.000003", Pos: 120, Order: 4}) {
		t.Fatalf("Mark = %+v", got)
	}
	ev.Action = Snapshot
	if !ev.Mark().IsZero() {
		t.Fatal("a snapshot row has a binlog mark")
	}
}
