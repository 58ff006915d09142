package checkpoint

import (
	"context"
	"slices"
	"sync"
)

// Memory is a Store that keeps the position in memory, for tests,
// benchmarks and tools that must not persist anything: nothing survives the
// process, so it breaks Store's durability promise on purpose and must
// never back a real pipeline. The zero value is an empty store (Load
// returns ErrNotFound until the first Save), safe for concurrent use.
type Memory struct {
	// History makes the store keep every saved position, for Saves. The
	// default keeps only the last one, so that a long benchmark does not
	// grow without bound.
	History bool

	mu     sync.Mutex
	n      int // saves so far
	last   Position
	saves  []Position
	schema []byte // the schema history, nil before the first save
}

// Load returns the last saved position, or ErrNotFound before the first
// Save.
func (m *Memory) Load(context.Context) (Position, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == 0 {
		return Position{}, ErrNotFound
	}
	return m.last, nil
}

// Save keeps p (and, with History, appends it to Saves). It never fails.
func (m *Memory) Save(_ context.Context, p Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	m.last = p
	if m.History {
		m.saves = append(m.saves, p)
	}
	return nil
}

// LoadSchemaHistory returns the last saved schema history, or ErrNotFound.
func (m *Memory) LoadSchemaHistory(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.schema == nil {
		return nil, ErrNotFound
	}
	return slices.Clone(m.schema), nil
}

// SaveSchemaHistory keeps a copy of data. It never fails.
func (m *Memory) SaveSchemaHistory(_ context.Context, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.schema = append([]byte{}, data...)
	return nil
}

// Close does nothing; the store stays usable.
func (m *Memory) Close() error { return nil }

// Last returns the last saved position, or the zero Position before the
// first Save.
func (m *Memory) Last() Position {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Saves returns a copy of every position saved so far, oldest first. It
// is nil unless History is set.
func (m *Memory) Saves() []Position {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.saves)
}
