package dispatch

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/moontide/moontide/engine/pattern"
)

// The defaults Spec documents, applied by WithDefaults.
const (
	DefaultBatch      = 256
	DefaultMaxWait    = 100 * time.Millisecond
	DefaultWorkers    = 1
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// WithDefaults returns s with every zero field that has a documented default
// set to it.
func (s Spec) WithDefaults() Spec {
	if s.Batch <= 0 {
		s.Batch = DefaultBatch
	}
	if s.MaxWait <= 0 {
		s.MaxWait = DefaultMaxWait
	}
	if s.Workers <= 0 {
		s.Workers = DefaultWorkers
	}
	if s.Retry.Backoff <= 0 {
		s.Retry.Backoff = DefaultBackoff
	}
	if s.Retry.MaxBackoff <= 0 {
		s.Retry.MaxBackoff = DefaultMaxBackoff
	}
	if s.Retry.MaxBackoff < s.Retry.Backoff {
		s.Retry.MaxBackoff = s.Retry.Backoff
	}
	if s.Start == "" {
		s.Start = "latest"
	}
	return s
}

// Validate reports every problem of s at once. Zero values that have
// defaults are fine; negative ones are not.
func (s Spec) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if len(s.Subscribe) == 0 {
		errs = append(errs, errors.New("subscribe needs at least one schema.table pattern"))
	}
	for _, p := range s.Subscribe {
		if _, err := pattern.Parse(p); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Batch < 0 {
		errs = append(errs, fmt.Errorf("batch %d is negative", s.Batch))
	}
	if s.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d is negative", s.Workers))
	}
	if s.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("max_wait %s is negative", s.MaxWait))
	}
	if s.Retry.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max_attempts %d is negative", s.Retry.MaxAttempts))
	}
	if s.Retry.Backoff < 0 || s.Retry.MaxBackoff < 0 {
		errs = append(errs, errors.New("backoff must not be negative"))
	}
	switch s.Start {
	case "", "latest", "earliest":
	default:
		errs = append(errs, fmt.Errorf("start must be latest or earliest, not %q", s.Start))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("listener %q: %w", s.Name, err)
	}
	return nil
}

// Equal reports whether a runner built for s would behave exactly like one
// built for o. A reload rebuilds a listener's runner only when its spec
// changed; a handler-only change is a Swap.
func (s Spec) Equal(o Spec) bool {
	return s.Name == o.Name && slices.Equal(s.Subscribe, o.Subscribe) &&
		s.Batch == o.Batch && s.MaxWait == o.MaxWait && s.Workers == o.Workers &&
		s.Retry == o.Retry && s.DeadLetter == o.DeadLetter && s.Start == o.Start
}
