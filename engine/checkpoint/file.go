package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore keeps the position as JSON in one file. Save writes a
// temporary file next to it, fsyncs it, renames it over the old one and
// fsyncs the directory, so after a crash the file holds either the old or
// the new position, whole. Capture's schema history, when it keeps one,
// lives in a second file next to it (SchemaHistoryPath), written the same
// way.
type FileStore struct {
	path string
}

// NewFileStore returns a store at path. The directory is created on the
// first Save if it does not exist.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path is the file the store writes.
func (s *FileStore) Path() string { return s.path }

// Load reads the saved position.
func (s *FileStore) Load(ctx context.Context) (Position, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Position{}, ErrNotFound
	}
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint: %w", err)
	}
	p, err := decodePosition(data)
	if err != nil {
		return Position{}, fmt.Errorf("loading checkpoint from %s: %w", s.path, err)
	}
	return p, nil
}

// Save replaces the saved position durably.
func (s *FileStore) Save(ctx context.Context, p Position) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	if err := writeAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving checkpoint to %s: %w", s.path, err)
	}
	return nil
}

// SchemaHistoryPath is the file next to the checkpoint that holds capture's
// schema history: checkpoint.json → checkpoint.schema.json.
func (s *FileStore) SchemaHistoryPath() string {
	return strings.TrimSuffix(s.path, ".json") + ".schema.json"
}

// LoadSchemaHistory reads the saved schema history, or ErrNotFound.
func (s *FileStore) LoadSchemaHistory(ctx context.Context) ([]byte, error) {
	data, err := os.ReadFile(s.SchemaHistoryPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("loading the schema history: %w", err)
	}
	return data, nil
}

// SaveSchemaHistory replaces the saved schema history durably, the way Save
// replaces the position.
func (s *FileStore) SaveSchemaHistory(ctx context.Context, data []byte) error {
	if err := writeAtomic(s.SchemaHistoryPath(), data); err != nil {
		return fmt.Errorf("saving the schema history to %s: %w", s.SchemaHistoryPath(), err)
	}
	return nil
}

// writeAtomic replaces path with data: it writes a temporary file next to
// it, fsyncs it, renames it over path and fsyncs the directory, so after a
// crash path holds the old or the new content, whole.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory entry is.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

// Close does nothing: the store holds no open files between calls.
func (s *FileStore) Close() error { return nil }

// decodePosition reads the JSON form of a Position strictly, so a damaged
// or foreign file is an error rather than a silent restart elsewhere.
func decodePosition(data []byte) (Position, error) {
	var p Position
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Position{}, fmt.Errorf("malformed position: %w", err)
	}
	if p.IsZero() {
		return Position{}, errors.New("malformed position: neither file nor gtid_set")
	}
	if p.File != "" && p.Pos < 4 {
		return Position{}, fmt.Errorf("malformed position: pos %d in %s (binlog positions start at 4)", p.Pos, p.File)
	}
	return p, nil
}
