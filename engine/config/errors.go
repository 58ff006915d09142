package config

import (
	"errors"
	"fmt"
	"strings"
)

// FileError is a problem at a place in a conf.d file. Its text starts with
// file:line so editors and terminals can jump to it.
type FileError struct {
	File string // path as given to Load, joined with the file name
	Line int    // 1-based; 0 when the problem has no single line
	Err  error
}

// Error reads "file:line: problem", or "file: problem" without a line.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap exposes the underlying problem to errors.Is and errors.As.
func (e *FileError) Unwrap() error { return e.Err }

// FieldError is a validation problem with one key. Path is the dotted key
// (source.server_id, sinks.cache.addr); Pos, filled in by Load, is the
// file:line that last set the key or its nearest enclosing section, so that
// a value that is wrong only after merging still points at a file.
type FieldError struct {
	Path string
	Pos  string
	Msg  string
}

// Error reads "file:line: path: problem" once Load has located the key.
func (e *FieldError) Error() string {
	if e.Pos != "" {
		return fmt.Sprintf("%s: %s: %s", e.Pos, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Problems collects every validation failure so a user fixes them in one
// round instead of one per start.
type Problems []error

// Error puts a single problem on one line and several one per line, so a
// long list stays readable on a terminal.
func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(p))
	for _, e := range p {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find a FieldError among the problems.
func (p Problems) Unwrap() []error { return p }

// problems gathers FieldErrors under a key prefix while a section validates.
type problems struct {
	prefix string
	list   Problems
}

func (p *problems) add(path, format string, args ...any) {
	full := p.prefix
	if path != "" {
		if full != "" {
			full += "."
		}
		full += path
	}
	p.list = append(p.list, &FieldError{Path: full, Msg: fmt.Sprintf(format, args...)})
}

// nest adds the problems a sub-validation returned, prefixing their paths.
func (p *problems) nest(prefix string, err error) {
	if err == nil {
		return
	}
	var sub Problems
	if !errors.As(err, &sub) {
		sub = Problems{err}
	}
	for _, e := range sub {
		var fe *FieldError
		if errors.As(e, &fe) {
			c := *fe
			c.Path = joinPath(prefix, c.Path)
			if p.prefix != "" {
				c.Path = joinPath(p.prefix, c.Path)
			}
			p.list = append(p.list, &c)
			continue
		}
		p.list = append(p.list, e)
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}
