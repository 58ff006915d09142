package kafka

import (
	"math/rand/v2"
	"testing"
)

func TestWindowMovesOnlyPastContiguousAcknowledgements(t *testing.T) {
	tests := []struct {
		name  string
		acks  []uint64
		moves []uint64
	}{
		{"in order", []uint64{0, 1, 2}, []uint64{1, 1, 1}},
		{"a gap holds the mark", []uint64{1, 2, 0}, []uint64{0, 0, 3}},
		{"across the ring's end", []uint64{0, 1, 2, 4, 3, 5}, []uint64{1, 1, 1, 0, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := window{acked: make([]bool, 4)}
			for i, seq := range tt.acks {
				if got := w.ack(seq); got != tt.moves[i] {
					t.Fatalf("ack(%d) moved %d, want %d", seq, got, tt.moves[i])
				}
			}
		})
	}
}

// TestWindowNeverPassesAnUnacknowledgedMessage acknowledges a stream in
// random order, keeping within the window as the Producer's slots do, and
// checks that the mark never passes a message not yet acknowledged.
func TestWindowNeverPassesAnUnacknowledgedMessage(t *testing.T) {
	const size, total = 8, 10_000
	r := rand.New(rand.NewPCG(7, 7))
	w := window{acked: make([]bool, size)}
	acked := make([]bool, total)
	var next uint64
	var open []uint64 // sent, not yet acknowledged
	for w.low < total {
		for next < total && next-w.low < size {
			open = append(open, next)
			next++
		}
		i := r.IntN(len(open))
		seq := open[i]
		open = append(open[:i], open[i+1:]...)
		acked[seq] = true
		w.ack(seq)
		for s := uint64(0); s < w.low; s++ {
			if !acked[s] {
				t.Fatalf("the mark is at %d but %d was never acknowledged", w.low, s)
			}
		}
	}
}
