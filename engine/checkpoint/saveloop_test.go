package checkpoint

import (
	"errors"
	"testing"
	"time"
)

// waitFor is how long a test waits for something that should happen at
// once; only a broken loop makes it wait that long.
const waitFor = 10 * time.Second

func TestSaveLoopCoalescesMovesDuringASave(t *testing.T) {
	stop, moved := make(chan struct{}), make(chan struct{}, 1)
	calls := make(chan struct{})
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		SaveLoop(stop, moved, 0, 0, func() error {
			calls <- struct{}{}
			<-release
			return nil
		})
	}()
	moved <- struct{}{}
	expect(t, calls, "the first save")
	// Three moves while the save runs: one more save covers them all.
	for range 3 {
		select {
		case moved <- struct{}{}:
		default:
		}
	}
	release <- struct{}{}
	expect(t, calls, "the save after the moves")
	release <- struct{}{}
	select {
	case <-calls:
		t.Fatal("a third save without a move")
	case <-time.After(50 * time.Millisecond):
	}
	close(stop)
	expect(t, done, "the loop to stop")
}

func TestSaveLoopRetriesAFailedSaveWithoutAMove(t *testing.T) {
	stop, moved := make(chan struct{}), make(chan struct{}, 1)
	calls := make(chan error, 2)
	results := []error{errors.New("store down"), nil}
	go SaveLoop(stop, moved, 0, 0, func() error {
		err := results[0]
		results = results[1:]
		calls <- err
		return err
	})
	defer close(stop)
	moved <- struct{}{}
	if err := <-calls; err == nil {
		t.Fatal("the first save should fail")
	}
	select {
	case err := <-calls:
		if err != nil {
			t.Fatalf("the retry failed: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("a failed save was never tried again")
	}
}

func expect[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitFor):
		t.Fatalf("waited %s for %s", waitFor, what)
	}
}
