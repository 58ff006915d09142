package backlog

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Measure is the result of one timed read of a backlog.
type Measure struct {
	Rows int
	Wall time.Duration
	// CPU is the user+system time of this process, not of the servers.
	CPU time.Duration
	// Busy is the machine's busy CPU time over the same span, every process
	// and the servers included; 0 when /proc/stat cannot be read.
	Busy time.Duration
	// Startup is the time before the first event, where a bench takes it.
	Startup time.Duration
}

// Rate is rows per second of wall time.
func (m Measure) Rate() float64 { return float64(m.Rows) / m.Wall.Seconds() }

// String is the rows, the wall time and the CPU seconds, as the benches
// print them beside a rate.
func (m Measure) String() string {
	return fmt.Sprintf("%d rows in %s, %.2f CPU s of this process, %.1f of %d cores busy",
		m.Rows, m.Wall.Round(time.Millisecond), m.CPU.Seconds(), m.Busy.Seconds()/m.Wall.Seconds(), runtime.NumCPU())
}

// Stopwatch takes wall and process CPU time together.
type Stopwatch struct {
	Began time.Time
	cpu   time.Duration
	busy  time.Duration
}

// Start starts a Stopwatch.
func Start() Stopwatch { return Stopwatch{time.Now(), cpuTime(), machineBusy()} }

// Measure returns rows read between the start and end, with the CPU time
// this process used from the start until now.
func (s Stopwatch) Measure(rows int, end time.Time) Measure {
	return Measure{Rows: rows, Wall: end.Sub(s.Began), CPU: cpuTime() - s.cpu, Busy: machineBusy() - s.busy}
}

// machineBusy is the CPU time all cores of the machine have spent not idle
// (nor waiting for I/O) since boot, from the first line of /proc/stat, or 0
// when it cannot be read. It tells whether a rate is bound by the cores.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal; guest time is
	// counted in user already.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	// USER_HZ is 100 on every Linux the benches run on.
	return time.Duration(busy) * 10 * time.Millisecond
}

// cpuTime is the user+system time this process has used so far, or 0 when
// getrusage fails.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// WaitFor polls done every interval until it holds, and returns when it
// did. A value from errc first, an error or nil (the stage ended before the
// backlog did), is a failure.
func WaitFor(errc <-chan error, every time.Duration, done func() bool) (time.Time, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("stopped before the end of the backlog")
			}
			return time.Time{}, err
		case <-t.C:
			if done() {
				return time.Now(), nil
			}
		}
	}
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages from
// /proc/loadavg, or "?": the benches print it beside each run, since the
// machine may be shared.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// StartCPUProfile writes a CPU profile of this process to path until the
// returned function is called.
func StartCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
