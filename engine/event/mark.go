package event

import (
	"cmp"
	"strings"
)

// Mark is an event's place in the binlog of one server: of two events read
// from the same binlog, the later one has the greater Mark. Transports use
// it to remember how far a listener got past a checkpoint.
type Mark struct {
	File  string `json:"file"`
	Pos   uint32 `json:"pos"`
	Order uint64 `json:"order"` // Event.Order
}

// Mark is e's place in the binlog; zero for an event not read from a
// binlog (a snapshot row).
func (e *Event) Mark() Mark {
	if e.Action == Snapshot || e.Pos.File == "" {
		return Mark{}
	}
	return Mark{File: e.Pos.File, Pos: e.Pos.Pos, Order: e.Order}
}

// IsZero reports whether m marks nothing.
func (m Mark) IsZero() bool { return m.File == "" }

// Compare orders m and o: -1 if m is earlier, 0 if the same, +1 if later.
// ok is false when they cannot be ordered: either is zero, or the files
// have different base names (the binlog was renamed, or they come from
// different servers' naming).
func (m Mark) Compare(o Mark) (c int, ok bool) {
	if m.IsZero() || o.IsZero() {
		return 0, false
	}
	mb, ms := splitFile(m.File)
	ob, os := splitFile(o.File)
	if mb != ob {
		return 0, false
	}
	// The sequence numbers are zero-padded decimal and grow past the
	// padding (000999 → 1000000): the longer one is later.
	if c := cmp.Compare(len(ms), len(os)); c != 0 {
		return c, true
	}
	if c := strings.Compare(ms, os); c != 0 {
		return c, true
	}
	if c := cmp.Compare(m.Pos, o.Pos); c != 0 {
		return c, true
	}
	return cmp.Compare(m.Order, o.Order), true
}

// AtOrBefore reports whether m is known to be at or before o.
func (m Mark) AtOrBefore(o Mark) bool {
	c, ok := m.Compare(o)
	return ok && c <= 0
}

// splitFile splits "mysql-bin.000042" into "mysql-bin" and "000042".
func splitFile(f string) (base, seq string) {
	i := strings.LastIndexByte(f, '.')
	if i < 0 {
		return f, ""
	}
	return f[:i], f[i+1:]
}
