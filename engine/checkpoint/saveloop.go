package checkpoint

import "time"

// SaveLoop calls save each time moved is signalled, and every tick when
// tick is non-zero, until stop is closed: one save at a time, so a save
// that takes long coalesces the moves that arrive meanwhile. It waits gap
// between saves, and at least a second before trying again after a failed
// save, which spares a store that is down. save logs its own errors.
//
// The outputs that own a position (the Kafka producer, the embedded
// transport) run it with a gap of 0: the position is saved as soon as it
// moves, so a kill -9 replays as little as possible.
func SaveLoop(stop, moved <-chan struct{}, tick, gap time.Duration, save func() error) {
	var ticks <-chan time.Time
	if tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	failed := false
	for {
		if !failed {
			select {
			case <-stop:
				return
			case <-moved:
			case <-ticks:
			}
		}
		pause := gap
		if failed = save() != nil; failed {
			pause = max(pause, time.Second)
		}
		if pause > 0 {
			select {
			case <-stop:
				return
			case <-time.After(pause):
			}
		}
	}
}
