package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moontide/moontide/engine/event"
)

// FileDeadLetters keeps dead letters as JSON lines in <Dir>/<listener>.jsonl,
// one line per event (or undecodable message) with the error, synced to
// disk before Put returns. It is the dead-letter destination of embedded
// mode, where there is no broker to hold them.
type FileDeadLetters struct {
	Dir string

	mu sync.Mutex
}

// DeadLetterRecord is one line of a dead-letter file.
type DeadLetterRecord struct {
	Listener string          `json:"listener"`
	Error    string          `json:"error"`
	At       time.Time       `json:"at"`
	Event    json.RawMessage `json:"event,omitempty"`
	// Raw, Stream and Offset describe an undecodable message.
	Raw    []byte `json:"raw,omitempty"`
	Stream int    `json:"stream,omitempty"`
	Offset int64  `json:"offset,omitempty"`
}

// Put appends the batch's events with the error.
func (f *FileDeadLetters) Put(_ context.Context, listener string, batch []*event.Event, cause error) error {
	recs := make([]DeadLetterRecord, len(batch))
	now := time.Now().UTC()
	for i, e := range batch {
		data, err := event.AppendJSON(nil, e)
		if err != nil {
			return fmt.Errorf("dead-lettering event %s of listener %q: %w", e.ID, listener, err)
		}
		recs[i] = DeadLetterRecord{Listener: listener, Error: cause.Error(), At: now, Event: data}
	}
	return f.append(listener, recs)
}

// PutRaw appends an undecodable message with the error.
func (f *FileDeadLetters) PutRaw(_ context.Context, listener string, stream int, offset int64, raw []byte, cause error) error {
	return f.append(listener, []DeadLetterRecord{{
		Listener: listener, Error: cause.Error(), At: time.Now().UTC(), Raw: raw, Stream: stream, Offset: offset,
	}})
}

// Path is the file that holds a listener's dead letters.
func (f *FileDeadLetters) Path(listener string) string {
	return filepath.Join(f.Dir, listener+".jsonl")
}

func (f *FileDeadLetters) append(listener string, recs []DeadLetterRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("creating dead-letter directory: %w", err)
	}
	path := f.Path(listener)
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	enc := json.NewEncoder(file)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			file.Close()
			return fmt.Errorf("writing dead letter to %s: %w", path, err)
		}
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return file.Close()
}
