package lua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/moontide/moontide/engine/dispatch"
	"github.com/moontide/moontide/engine/event"
)

// Listener is one validated listener script. It implements
// dispatch.Handler: worker goroutine w calls Handle(ctx, w, batch) and only
// that goroutine touches state w, which is built on its first call.
type Listener struct {
	spec    dispatch.Spec
	timeout time.Duration
	omit    fieldSet // event fields the script does not read
	file    string
	hash    string
	proto   *glua.FunctionProto
	sh      *shared
	logger  *slog.Logger
	clients *clientSet
	owner   *Generation

	// states[w] belongs to worker goroutine w; see dispatch.Handler.
	states []*state

	recMu    sync.Mutex
	recorded []Op

	// gate lets Close wait for calls in flight: a reload swaps the handler
	// first and closes the old listener while a worker may still be inside
	// its last call. Handle holds it shared, Close exclusively.
	gate   sync.RWMutex
	closed bool
}

// ErrClosed is returned by Handle once the listener is closed. The runner
// retries the batch, with the handler that replaced this one.
var ErrClosed = errors.New("listener closed")

var _ dispatch.Handler = (*Listener)(nil)

// Name is the listener's name.
func (l *Listener) Name() string { return l.spec.Name }

// Spec returns what the runner needs: subscriptions, batching, workers,
// retry and start position, with defaults applied.
func (l *Listener) Spec() dispatch.Spec {
	s := l.spec
	s.Subscribe = append([]string(nil), s.Subscribe...)
	return s
}

// Timeout is the deadline of one call.
func (l *Listener) Timeout() time.Duration { return l.timeout }

// File is the script's path.
func (l *Listener) File() string { return l.file }

// Hash identifies the listener's code and settings: the script, every
// scripts/lib/ module (any of them may be required), the defaults from
// Options and Options.ConfigHash. Equal hashes across generations mean a
// reload need not touch the listener.
func (l *Listener) Hash() string { return l.hash }

// Close closes the listener's Lua states and releases its shared clients,
// after the calls in flight returned; later calls fail with ErrClosed.
// Close is idempotent.
func (l *Listener) Close() error {
	l.gate.Lock()
	defer l.gate.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	for i, s := range l.states {
		if s != nil {
			s.close()
			l.states[i] = nil
		}
	}
	return l.clients.release()
}

// Recorded returns the writes recorded in recording mode since the last
// call, in the order they would have been flushed, and forgets them.
func (l *Listener) Recorded() []Op {
	l.recMu.Lock()
	defer l.recMu.Unlock()
	ops := l.recorded
	l.recorded = nil
	return ops
}

// trampolineSrc runs per-action handlers: Go hands it the events that have a
// handler and the handler of each, so that one protected call covers the
// batch. fns.at tells Go which event failed.
const trampolineSrc = `local events, fns = ...
for i = 1, #events do
  fns.at = i
  if fns[i](events[i]) == false then return false end
end
return true`

var trampolineProto = func() *glua.FunctionProto {
	p, err := compile("=moontide", []byte(trampolineSrc))
	if err != nil {
		panic(err)
	}
	return p
}()

// newWorkerState builds the state for one worker and runs the script in it
// to get its handlers.
func (l *Listener) newWorkerState(ctx context.Context) (*state, error) {
	env := &Env{
		listener: l.spec.Name,
		file:     l.file,
		logger:   l.logger,
		sinks:    l.sh.opts.sinks(),
		record:   l.sh.opts.Record,
		clients:  l.clients,
		baseCtx:  context.WithoutCancel(ctx),
	}
	s := newState(l.sh, env)
	s.conv.omit = l.omit
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	ret, err := s.runChunk(cctx, l.proto)
	if err != nil {
		s.close()
		ce := &CallError{Listener: l.spec.Name, Err: ErrScript}
		fromLuaError(ce, err)
		if cctx.Err() != nil {
			ce.Err = cctx.Err()
			if errors.Is(ce.Err, context.DeadlineExceeded) {
				ce.Timeout = l.timeout
			}
		}
		if ce.File == "" {
			ce.File = l.file
		}
		ce.Msg = "starting worker state: " + ce.Msg
		return nil, ce
	}
	t, ok := ret.(*glua.LTable)
	if !ok {
		s.close()
		return nil, &CallError{Listener: l.spec.Name, File: l.file, Msg: "the script returned no table when starting a worker", Err: ErrScript}
	}
	if h, ok := t.RawGetString("handle").(*glua.LFunction); ok {
		s.handle = h
	} else {
		for field, a := range actionFields {
			if f, ok := t.RawGetString(field).(*glua.LFunction); ok {
				s.on[a] = f
			}
		}
		// A snapshot row is the current row: without on_snapshot, a full
		// sync feeds on_insert, so a listener written for inserts keeps a
		// cache complete during a sync.
		if s.on[event.Snapshot] == nil {
			s.on[event.Snapshot] = s.on[event.Insert]
		}
		s.trampoline = s.L.NewFunctionFromProto(trampolineProto)
	}
	return s, nil
}

// Handle runs one batch: it converts the events, calls the script under a
// deadline of the listener's timeout, and, when the script succeeded,
// flushes the writes it recorded. See dispatch.Handler for the contract;
// the error is a *CallError.
//
// After a timeout, a cancellation or a Go panic the worker's state is
// discarded; the next call builds a fresh one, so a retry never runs in a
// state left half-way through a call.
func (l *Listener) Handle(ctx context.Context, worker int, batch []*event.Event) (err error) {
	if worker < 0 || worker >= len(l.states) {
		return fmt.Errorf("listener %q: worker %d out of range [0, %d)", l.spec.Name, worker, len(l.states))
	}
	if len(batch) == 0 {
		return nil
	}
	l.gate.RLock()
	defer l.gate.RUnlock()
	if l.closed {
		return fmt.Errorf("listener %q: %w", l.spec.Name, ErrClosed)
	}
	s := l.states[worker]
	if s == nil {
		if s, err = l.newWorkerState(ctx); err != nil {
			return err
		}
		l.states[worker] = s
	}
	err = l.call(ctx, s, batch)
	if s.broken {
		s.close()
		l.states[worker] = nil
	}
	return err
}

func (l *Listener) call(ctx context.Context, s *state, batch []*event.Event) (err error) {
	ce := &CallError{Listener: l.spec.Name, First: batch[0].ID, Last: batch[len(batch)-1].ID}
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	c := &call{ctx: cctx, first: ce.First, last: ce.Last}
	s.env.call = c
	defer func() { s.env.call = nil }()
	defer func() {
		if r := recover(); r != nil {
			s.broken = true
			ce.Msg = fmt.Sprintf("panic: %v", r)
			ce.Err = ErrPanic
			err = ce
		}
	}()

	L := s.L
	var fns *glua.LTable
	var idx []int // Lua index → batch index, per-action mode
	L.SetContext(cctx)
	if s.handle != nil {
		L.Push(s.handle)
		L.Push(s.conv.batch(L, batch))
	} else {
		evs := L.CreateTable(len(batch), 0)
		fns = L.CreateTable(len(batch), 1)
		for i, ev := range batch {
			a := ev.Action
			if int(a) >= len(s.on) || s.on[a] == nil {
				continue // no handler for this action: nothing to do
			}
			evs.Append(s.conv.event(L, ev))
			fns.Append(s.on[a])
			idx = append(idx, i)
		}
		if len(idx) == 0 {
			L.RemoveContext()
			return nil
		}
		L.Push(s.trampoline)
		L.Push(evs)
		L.Push(fns)
	}
	nargs := 1
	if fns != nil {
		nargs = 2
	}
	perr := L.PCall(nargs, 1, nil)
	L.RemoveContext()

	failedAt := func() {
		if fns == nil {
			return
		}
		if n, ok := fns.RawGetString("at").(glua.LNumber); ok && int(n) >= 1 && int(n) <= len(idx) {
			ce.Event = batch[idx[int(n)-1]].ID
		}
	}
	if perr != nil {
		fromLuaError(ce, perr)
		failedAt()
		var ae *glua.ApiError
		switch {
		case cctx.Err() != nil:
			s.broken = true
			ce.Err = cctx.Err()
			if ctx.Err() == nil && errors.Is(ce.Err, context.DeadlineExceeded) {
				ce.Timeout = l.timeout
			}
		case errors.As(perr, &ae) && ae.Type == glua.ApiErrorPanic:
			s.broken = true
			ce.Err = ErrPanic
		default:
			ce.Err = ErrScript
		}
		return ce
	}
	ret := L.Get(-1)
	L.Pop(1)
	if ret == glua.LFalse {
		failedAt()
		ce.File = l.file
		ce.Msg = "handler returned false"
		ce.Err = ErrReturnedFalse
		return ce
	}

	if l.sh.opts.Record {
		l.recMu.Lock()
		for _, w := range c.writers {
			for _, op := range w.Ops() {
				op.Listener = l.spec.Name
				l.recorded = append(l.recorded, op)
			}
		}
		l.recMu.Unlock()
		return nil
	}
	return flush(ctx, l.timeout, c, ce)
}

// flush sends the writers of a successful call, in first-touched order,
// each under a fresh deadline of the listener's timeout: the script's time
// is its own budget, the sinks' is another.
func flush(ctx context.Context, timeout time.Duration, c *call, ce *CallError) error {
	for i, w := range c.writers {
		fctx, cancel := context.WithTimeout(ctx, timeout)
		err := w.Flush(fctx)
		cancel()
		if err != nil {
			ce.Msg = fmt.Sprintf("flushing %s: %v", c.keys[i], err)
			ce.Err = err
			return ce
		}
	}
	return nil
}
