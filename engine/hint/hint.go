// Package hint finds the "did you mean" for a misspelt name: the known
// name closest to it in edits. It holds no state and imports nothing of
// moontide's, so any engine package (config keys, listener spec fields) can
// use it for its messages.
package hint

// Closest returns the candidate with the fewest edits from s (Levenshtein
// distance, counted in bytes), the first of equally close ones, when it is
// at most maxEdits edits away; further than that a suggestion is noise.
// It returns false when no candidate is close enough.
func Closest(s string, candidates []string, maxEdits int) (string, bool) {
	best, bestD := "", maxEdits+1
	for _, c := range candidates {
		if d := Distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD <= maxEdits
}

// Distance is the Levenshtein distance between a and b: the fewest byte
// insertions, deletions and substitutions that turn one into the other.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
