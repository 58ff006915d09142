package lua

import (
	"fmt"
	"io"
	"sync"
)

// Pool holds clients shared across listeners and reload generations,
// counted by reference: the first Acquire of a key opens the client, the
// Release that drops the last reference closes it. A reload builds the new
// generation (acquiring) before the old one is closed (releasing), so a
// connection that both use stays open across the swap.
type Pool struct {
	mu sync.Mutex
	m  map[string]*poolEntry
}

type poolEntry struct {
	refs  int
	ready chan struct{} // closed when open returned
	c     io.Closer
	err   error
}

// Clients is the process-wide pool that Options uses when it names none.
var Clients = NewPool()

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{m: make(map[string]*poolEntry)} }

// Acquire returns the client for key and takes a reference to it. The first
// caller of a key runs open without holding the pool's lock, so a slow dial
// blocks only the callers of that key. When open fails, every caller waiting
// for it gets the error and the next Acquire tries again.
func (p *Pool) Acquire(key string, open func() (io.Closer, error)) (io.Closer, error) {
	p.mu.Lock()
	e, ok := p.m[key]
	if ok {
		e.refs++
		p.mu.Unlock()
		<-e.ready
		if e.err != nil {
			p.drop(key, e)
			return nil, e.err
		}
		return e.c, nil
	}
	e = &poolEntry{refs: 1, ready: make(chan struct{})}
	p.m[key] = e
	p.mu.Unlock()

	func() {
		defer close(e.ready)
		defer func() {
			if r := recover(); r != nil {
				e.err = fmt.Errorf("opening client %q: panic: %v", key, r)
			}
		}()
		e.c, e.err = open()
		if e.err == nil && e.c == nil {
			e.err = fmt.Errorf("opening client %q: open returned no client", key)
		}
	}()
	if e.err != nil {
		p.drop(key, e)
		return nil, e.err
	}
	return e.c, nil
}

// drop removes a reference to a failed entry, forgetting the entry so that
// the next Acquire retries.
func (p *Pool) drop(key string, e *poolEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.refs--
	if p.m[key] == e {
		delete(p.m, key)
	}
}

// Release gives back one reference taken by Acquire and closes the client
// when it was the last. Releasing a key that is not held is an error.
func (p *Pool) Release(key string) error {
	p.mu.Lock()
	e, ok := p.m[key]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("releasing client %q: not held", key)
	}
	e.refs--
	if e.refs > 0 {
		p.mu.Unlock()
		return nil
	}
	delete(p.m, key)
	p.mu.Unlock()
	if err := e.c.Close(); err != nil {
		return fmt.Errorf("closing client %q: %w", key, err)
	}
	return nil
}

// Refs returns the number of references held to key; for tests and
// /status.
func (p *Pool) Refs(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[key]; ok {
		return e.refs
	}
	return 0
}
