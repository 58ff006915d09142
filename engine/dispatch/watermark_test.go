package dispatch

import "testing"

func TestStreamWatermark(t *testing.T) {
	s := newStream(0)
	if _, ok := s.watermark(); ok {
		t.Fatal("an empty stream has a watermark")
	}
	a := s.track(10)
	b := s.track(20)
	c := s.track(25)
	// Offsets below the first delivery were never this runner's: they
	// count as finished.
	if wm, _ := s.watermark(); wm != 9 {
		t.Fatalf("watermark %d while 10 is pending, want 9", wm)
	}
	s.finish(b)
	if wm, _ := s.watermark(); wm != 9 {
		t.Fatalf("watermark %d after finishing 20 before 10, want 9", wm)
	}
	s.finish(a)
	if wm, _ := s.watermark(); wm != 24 {
		t.Fatalf("watermark %d, want 24: everything below pending 25 is finished", wm)
	}
	s.last = 30 // an unsubscribed delivery while 25 is pending
	if wm, _ := s.watermark(); wm != 24 {
		t.Fatalf("watermark %d, want 24: an unsubscribed delivery must not pass pending 25", wm)
	}
	s.finish(c)
	if wm, _ := s.watermark(); wm != 30 {
		t.Fatalf("watermark %d, want 30", wm)
	}
}

func TestStreamUntrackRestoresTheMark(t *testing.T) {
	s := newStream(0)
	a := s.track(1)
	s.finish(a)
	b := s.track(2)
	s.untrack(b)
	if wm, _ := s.watermark(); wm != 1 {
		t.Fatalf("watermark %d after a refused delivery, want 1", wm)
	}
	if s.last != 1 {
		t.Fatalf("last %d, want 1: the refused offset may be delivered again", s.last)
	}
}

func TestStreamRingGrowsWithoutLosingOrder(t *testing.T) {
	s := newStream(0)
	var tickets []uint64
	finished := map[int]bool{}
	for i := int64(0); i < 1000; i++ {
		tickets = append(tickets, s.track(i))
		// Finish some out of order while the ring grows; 0 stays pending.
		if j := int(i / 2); i%3 == 0 && j > 0 && !finished[j] {
			s.finish(tickets[j])
			finished[j] = true
		}
	}
	for i := len(tickets) - 1; i >= 1; i-- {
		if !finished[i] {
			s.finish(tickets[i])
		}
	}
	if wm, ok := s.watermark(); ok {
		t.Fatalf("watermark %d with offset 0 pending, want none", wm)
	}
	s.finish(tickets[0])
	if wm, _ := s.watermark(); wm != 999 || s.n != 0 {
		t.Fatalf("watermark %d with %d entries, want 999 and none", wm, s.n)
	}
}
