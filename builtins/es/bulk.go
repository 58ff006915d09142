package es

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/moontide/moontide/engine/event"
	"github.com/moontide/moontide/engine/lua"
)

// opKind is the kind of a recorded write.
type opKind uint8

const (
	opIndex opKind = iota
	opUpdate
	opUpsert
	opDelete
)

func (k opKind) String() string {
	return [...]string{"index", "update", "upsert", "delete"}[k]
}

// MaxBulkBytes bounds the body of one bulk request. A batch whose lines
// exceed it is sent as several requests, one after another; far below the
// servers' default http.max_content_length of 100 MB, and large enough that
// a 500-event batch of ordinary rows is always one request.
const MaxBulkBytes = 32 << 20

// Retry policy of Flush for 429s and unreachable servers: BulkAttempts
// tries, waiting BulkBackoff, doubled after each, in between. Short, because
// the engine retries the whole batch with its own, longer backoff; these
// absorb a momentary rejection without failing the batch.
const (
	BulkAttempts = 4
	BulkBackoff  = 100 * time.Millisecond
)

// item is one recorded write: its bulk lines live in the writer's buffer at
// [start, end).
type item struct {
	kind       opKind
	index, id  string
	doc        any
	o          opts
	start, end int
}

// bulk is the Writer of one es connection in one call. The bulk lines are
// built when a write is recorded, so Flush only sends bytes.
type bulk struct {
	client  *client
	sink    string
	timeout time.Duration
	buf     []byte
	items   []item
	enc     lua.JSONEncoder
}

// add appends the bulk lines of one write. An error means the document has
// no JSON form; nothing is recorded then.
func (b *bulk) add(kind opKind, index, id string, doc any, o opts) error {
	start := len(b.buf)
	action := "index"
	switch {
	case kind == opDelete:
		action = "delete"
	case kind == opUpdate, kind == opUpsert && !o.versioned:
		action = "update"
	}
	buf := append(b.buf, `{"`...)
	buf = append(buf, action...)
	buf = append(buf, `":{"_index":`...)
	buf = event.AppendJSONString(buf, index)
	buf = append(buf, `,"_id":`...)
	buf = event.AppendJSONString(buf, id)
	if o.versioned {
		buf = append(buf, `,"version":`...)
		buf = strconv.AppendUint(buf, o.version, 10)
		buf = append(buf, `,"version_type":"`...)
		buf = append(buf, o.versionType...)
		buf = append(buf, '"')
	}
	if o.routing != "" {
		buf = append(buf, `,"routing":`...)
		buf = event.AppendJSONString(buf, o.routing)
	}
	if action == "update" {
		// Partial updates read-modify-write under internal versions; two
		// workers updating one document (an aggregate fed by several
		// tables) may collide, and a retry on the server resolves it.
		buf = append(buf, `,"retry_on_conflict":3`...)
	}
	buf = append(buf, "}}\n"...)
	if kind != opDelete {
		if action == "update" {
			buf = append(buf, `{"doc":`...)
		}
		var err error
		if buf, err = b.enc.Append(buf, doc); err != nil {
			b.buf = buf[:start]
			return err
		}
		switch {
		case kind == opUpsert && action == "update":
			buf = append(buf, `,"doc_as_upsert":true}`...)
		case action == "update":
			buf = append(buf, '}')
		}
		buf = append(buf, '\n')
	}
	b.buf = buf
	b.items = append(b.items, item{
		kind: kind, index: index, id: id, doc: doc, o: o, start: start, end: len(buf),
	})
	return nil
}

// Ops lists the recorded writes: es[sink].index("products", "7", {...},
// {version = ...}).
func (b *bulk) Ops() []lua.Op {
	ops := make([]lua.Op, len(b.items))
	for i, it := range b.items {
		args := []any{it.index, it.id}
		if it.kind != opDelete {
			args = append(args, it.doc)
		}
		o := map[string]any{}
		if it.o.versioned {
			o["version"] = it.o.version
			o["version_type"] = it.o.versionType
		}
		if it.o.routing != "" {
			o["routing"] = it.o.routing
		}
		if it.o.ignoreMissing {
			o["ignore_missing"] = true
		}
		if len(o) > 0 {
			args = append(args, o)
		}
		ops[i] = lua.Op{Module: "es", Sink: b.sink, Name: it.kind.String(), Args: args}
	}
	return ops
}

// Flush sends the recorded writes as one bulk request (several only past
// MaxBulkBytes) and returns when every item's result is known. See the
// package documentation for what counts as success and what is retried.
func (b *bulk) Flush(ctx context.Context) error {
	if len(b.items) == 0 {
		return nil
	}
	if b.client == nil {
		return errors.New("es bulk: no client (recording mode writers cannot be flushed)")
	}
	for lo := 0; lo < len(b.items); {
		hi := lo + 1
		for hi < len(b.items) && b.items[hi].end-b.items[lo].start <= MaxBulkBytes {
			hi++
		}
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		if err := b.send(ctx, idx); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// itemResult is one entry of a bulk response's items, under its action key.
type itemResult struct {
	Status int `json:"status"`
	Error  *struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

func (r itemResult) reason() string {
	if r.Error == nil {
		return http.StatusText(r.Status)
	}
	s := r.Error.Type + ": " + r.Error.Reason
	if c := r.Error.CausedBy; c != nil && c.Reason != "" {
		s += " (caused by " + c.Type + ": " + c.Reason + ")"
	}
	return s
}

type bulkResponse struct {
	Errors bool                    `json:"errors"`
	Items  []map[string]itemResult `json:"items"`
}

// retryableStatus are statuses worth retrying soon: the server shed load
// (429) or a node or proxy was briefly unavailable.
func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusBadGateway ||
		s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout
}

// outcome classifies one item's result: nil for success, or an error and
// whether it is worth retrying.
func (it *item) outcome(r itemResult) (retry bool, err error) {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return false, nil
	case r.Status == http.StatusConflict && it.o.versioned &&
		r.Error != nil && r.Error.Type == "version_conflict_engine_exception":
		// A stale write: the document already has this version or a
		// newer one. That is the point of external versions.
		return false, nil
	case r.Status == http.StatusNotFound && it.kind == opDelete:
		return false, nil // already gone: deletes are idempotent
	case r.Status == http.StatusNotFound && it.o.ignoreMissing &&
		r.Error != nil && r.Error.Type == "document_missing_exception":
		return false, nil
	}
	err = fmt.Errorf("%s (index %q, id %q): %d %s", it.kind, it.index, it.id, r.Status, r.reason())
	return retryableStatus(r.Status), err
}

// send sends the items idx (indexes into b.items, in call order) and
// retries what may succeed later, keeping the order of writes to each
// document: an item that is resent takes along every later item of the
// same document, even those that succeeded, so the last write still wins.
func (b *bulk) send(ctx context.Context, idx []int) error {
	backoff := BulkBackoff
	for attempt := 1; ; attempt++ {
		res, err := b.request(ctx, idx)
		var retry []int
		var failed []error
		if err == nil {
			if len(res.Items) != len(idx) {
				return fmt.Errorf("es bulk: sent %d items, the response has %d", len(idx), len(res.Items))
			}
			if !res.Errors {
				return nil
			}
			type doc struct{ index, id string }
			resend := map[doc]bool{}
			for i, r := range res.Items {
				it := &b.items[idx[i]]
				var ir itemResult
				for _, v := range r { // one key: the action
					ir = v
				}
				d := doc{it.index, it.id}
				again, ierr := it.outcome(ir)
				switch {
				case ierr != nil && !again:
					failed = append(failed, ierr)
				case again || resend[d]:
					resend[d] = true
					retry = append(retry, idx[i])
					if ierr != nil {
						err = ierr // the last retryable reason, for the final error
					}
				}
			}
			if len(failed) > 0 {
				return itemsError(len(idx), failed)
			}
			if len(retry) == 0 {
				return nil
			}
			idx = retry
		} else if !isRetryable(err) {
			return err
		}
		if attempt >= BulkAttempts {
			if retry != nil {
				return fmt.Errorf("es bulk: %d of the items still rejected after %d attempts: %w", len(retry), attempt, err)
			}
			return fmt.Errorf("es bulk: giving up after %d attempts: %w", attempt, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("es bulk: %w (after: %v)", ctx.Err(), err)
		case <-t.C:
		}
		backoff *= 2
	}
}

// itemsError names the failed items: all of them up to a handful, then a
// count, so one log line stays readable when a whole batch hits one
// mapping error.
func itemsError(total int, failed []error) error {
	const show = 5
	var b strings.Builder
	fmt.Fprintf(&b, "es bulk: %d of %d items failed: ", len(failed), total)
	for i, e := range failed {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(failed)-show)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return &BulkError{Msg: b.String(), Items: failed}
}

// BulkError is a flush that failed because the server rejected items for
// good (not by load): a mapping error, a missing document of an update, a
// bad index name. Items has one error per failed item, each naming the
// operation, index, id, status and reason.
type BulkError struct {
	// Msg is the whole message: counts and the first few items.
	Msg string
	// Items has one error per failed item.
	Items []error
}

// Error names the failed items.
func (e *BulkError) Error() string { return e.Msg }

// retryableError is a failure of the whole request that may pass on a
// later attempt: no connection, a timeout of one attempt, 429 or a 5xx of
// a proxy.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func isRetryable(err error) bool {
	var re *retryableError
	return errors.As(err, &re)
}

// request sends one bulk request with the lines of idx and decodes the
// response.
func (b *bulk) request(ctx context.Context, idx []int) (*bulkResponse, error) {
	var body []byte
	if first, last := b.items[idx[0]], b.items[idx[len(idx)-1]]; last.end-first.start == sumLen(b.items, idx) {
		body = b.buf[first.start:last.end] // contiguous: no copy
	} else {
		for _, i := range idx {
			body = append(body, b.buf[b.items[i].start:b.items[i].end]...)
		}
	}
	rctx := ctx
	if b.timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	req := esapi.BulkRequest{
		Body: bytes.NewReader(body),
		// Only what decides the outcome; a 500-item response would
		// otherwise repeat index, id, version and shard counts per item.
		FilterPath: []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason", "items.*.error.caused_by"},
	}
	res, err := req.Do(rctx, b.client.es)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("es bulk of %d items: %w", len(idx), ctx.Err())
		}
		return nil, &retryableError{fmt.Errorf("es bulk of %d items: %w", len(idx), err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, &retryableError{fmt.Errorf("es bulk of %d items: reading response: %w", len(idx), err)}
	}
	if res.IsError() {
		e := fmt.Errorf("es bulk of %d items: %s: %s", len(idx), res.Status(), snippet(data))
		if retryableStatus(res.StatusCode) {
			return nil, &retryableError{e}
		}
		return nil, e
	}
	var br bulkResponse
	if err := json.Unmarshal(data, &br); err != nil {
		return nil, fmt.Errorf("es bulk of %d items: decoding response: %w", len(idx), err)
	}
	return &br, nil
}

func sumLen(items []item, idx []int) int {
	n := 0
	for _, i := range idx {
		n += items[i].end - items[i].start
	}
	return n
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	const max = 512
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
