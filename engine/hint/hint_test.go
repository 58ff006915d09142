package hint

import "testing"

func TestDistanceCountsEdits(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"batch", "batch", 0},
		{"btach", "batch", 2},
		{"timeout", "timout", 1},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClosestSuggestsOnlyNearNames(t *testing.T) {
	known := []string{"subscribe", "batch", "workers", "timeout"}
	tests := []struct {
		name     string
		s        string
		maxEdits int
		want     string
		ok       bool
	}{
		{"a typo is matched", "subscibe", 2, "subscribe", true},
		{"an exact name is its own hint", "batch", 2, "batch", true},
		{"a name too far off has no hint", "zzz", 2, "", false},
		{"the limit is inclusive", "wrkrs", 2, "workers", true},
		{"one edit past the limit is too far", "wrkrs", 1, "", false},
		{"the first of equally close names wins", "batcx", 5, "batch", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Closest(tt.s, known, tt.maxEdits)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Closest(%q, %d) = %q, %v; want %q, %v", tt.s, tt.maxEdits, got, ok, tt.want, tt.ok)
			}
		})
	}
}
