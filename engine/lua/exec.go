package lua

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Script is an ad-hoc script for Exec.
type Script struct {
	// File names the script in errors and is read when Source is nil.
	File string
	// Source is the script's text.
	Source []byte
	// Dir is the scripts directory whose lib/ serves require; empty for
	// none.
	Dir string
}

// Exec runs an ad-hoc script (`moontide exec`, the examples of
// docs/lua-api.md) once, in a sandboxed state with every module, as one
// call: the writes it records are flushed after it returned successfully,
// in recording mode collected and returned instead. It runs under ctx only;
// Options.Timeout does not apply, since ad-hoc jobs may run long. The
// script's return value is ignored, except that false fails the run.
func Exec(ctx context.Context, sc Script, opts Options) (recorded []Op, err error) {
	src := sc.Source
	if src == nil {
		if src, err = os.ReadFile(sc.File); err != nil {
			return nil, fmt.Errorf("reading script: %w", err)
		}
	}
	o := opts
	sh := o.shared(sc.Dir)
	if sc.Dir != "" {
		libs, err := readLibs(sc.Dir)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, lf := range libs {
			p, err := compile(lf.path, lf.src)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			name := libName(sc.Dir, lf.path)
			sh.libs[name] = p
			sh.libFiles[name] = lf.path
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	p, err := compile(sc.File, src)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(sc.File), ".lua")
	env := &Env{
		listener: name,
		file:     sc.File,
		logger:   o.logger().With("script", sc.File),
		sinks:    o.sinks(),
		record:   o.Record,
		clients:  &clientSet{pool: o.pool()},
		baseCtx:  ctx,
	}
	defer func() {
		if rerr := env.clients.release(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	s := newState(sh, env)
	defer s.close()
	c := &call{ctx: ctx}
	env.call = c
	ret, err := s.runChunk(ctx, p)
	env.call = nil
	ce := &CallError{Listener: name}
	if err != nil {
		fromLuaError(ce, err)
		ce.Err = ErrScript
		if ctx.Err() != nil {
			ce.Err = ctx.Err()
		}
		if ce.File == "" {
			ce.File = sc.File
		}
		return nil, ce
	}
	if ret == glua.LFalse {
		ce.File, ce.Msg, ce.Err = sc.File, "script returned false", ErrReturnedFalse
		return nil, ce
	}
	if o.Record {
		for _, w := range c.writers {
			for _, op := range w.Ops() {
				op.Listener = name
				recorded = append(recorded, op)
			}
		}
		return recorded, nil
	}
	for i, w := range c.writers {
		if err := w.Flush(ctx); err != nil {
			ce.Msg, ce.Err = fmt.Sprintf("flushing %s: %v", c.keys[i], err), err
			return nil, ce
		}
	}
	return nil, nil
}
