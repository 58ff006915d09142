package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/moontide/moontide/engine/dispatch"
)

// DispatcherOptions configures a Dispatcher.
type DispatcherOptions struct {
	Brokers []string
	Topics  *Topics
	// GroupPrefix names each listener's consumer group:
	// <GroupPrefix>.<listener>.
	GroupPrefix string
	// DeadLetters receives what listeners give up on and undecodable
	// messages.
	DeadLetters *DeadLetters
	// Runner is the template of every runner's options; Committer and
	// DeadLetter are set here.
	Runner dispatch.RunnerOptions
	Logger *slog.Logger
}

// Dispatcher runs listeners over Kafka: one consumer group and one
// dispatch.Runner per listener. More dispatcher processes with the same
// listeners share the partitions through the groups.
type Dispatcher struct {
	opts DispatcherOptions
	log  *slog.Logger

	mu      sync.Mutex
	ctx     context.Context
	running map[string]*groupRun
	closed  bool
}

// groupRun is one listener's runner and consumer, and what stops them.
type groupRun struct {
	spec     dispatch.Spec
	runner   *dispatch.Runner
	consumer *Consumer
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
}

// NewDispatcher returns a Dispatcher without listeners; Run starts it and
// Apply sets its listeners.
func NewDispatcher(opts DispatcherOptions) *Dispatcher {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Dispatcher{opts: opts, log: opts.Logger, running: map[string]*groupRun{}}
}

// Run keeps the listeners running until ctx is done, then stops each:
// fetching ends, what was delivered is finished and committed, and the
// group is left.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	pending := make([]*groupRun, 0, len(d.running))
	for _, g := range d.running {
		pending = append(pending, g)
	}
	d.mu.Unlock()
	for _, g := range pending {
		d.start(g)
	}
	<-ctx.Done()
	d.mu.Lock()
	d.closed = true
	all := d.running
	d.running = map[string]*groupRun{}
	d.mu.Unlock()
	var errs []error
	for _, g := range all {
		errs = append(errs, g.stop())
	}
	return errors.Join(errs...)
}

// Apply makes the running listeners those of ls. A listener whose spec is
// unchanged gets the new handler from its next batch on; one whose spec
// changed is stopped — everything delivered to it finished and committed —
// and started again, resuming from its group's offsets; removed ones stop;
// new ones start at their Spec.Start when the group has no offsets yet.
func (d *Dispatcher) Apply(ctx context.Context, ls []dispatch.Listener) error {
	for _, l := range ls {
		if err := l.Spec.Validate(); err != nil {
			return err
		}
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("applying listeners: dispatcher stopped")
	}
	want := make(map[string]dispatch.Listener, len(ls))
	for _, l := range ls {
		want[l.Spec.Name] = l
	}
	var stop []*groupRun
	var start []dispatch.Listener
	for name, g := range d.running {
		l, ok := want[name]
		switch {
		case !ok:
			stop = append(stop, g)
			delete(d.running, name)
		case g.spec.Equal(l.Spec.WithDefaults()):
			g.runner.Swap(l.Handler)
		default: // changed spec: stopped here, started again below
			stop = append(stop, g)
			delete(d.running, name)
		}
	}
	for name, l := range want {
		if _, ok := d.running[name]; !ok {
			start = append(start, l)
		}
	}
	d.mu.Unlock()

	var errs []error
	for _, g := range stop {
		if err := g.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range start {
		g, err := d.newGroup(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.mu.Lock()
		d.running[l.Spec.Name] = g
		started := d.ctx != nil
		d.mu.Unlock()
		if started {
			d.start(g)
		}
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) newGroup(l dispatch.Listener) (*groupRun, error) {
	spec := l.Spec.WithDefaults()
	c := NewConsumer(ConsumerOptions{
		Brokers:   d.opts.Brokers,
		Topics:    d.opts.Topics,
		Group:     d.opts.GroupPrefix + "." + spec.Name,
		Subscribe: spec.Subscribe,
		Earliest:  spec.Start == "earliest",
		Logger:    d.log.With("listener", spec.Name),
	})
	ro := d.opts.Runner
	ro.Committer = c
	if d.opts.DeadLetters != nil {
		ro.DeadLetter = d.opts.DeadLetters
	}
	r, err := dispatch.NewRunner(spec, l.Handler, ro)
	if err != nil {
		return nil, fmt.Errorf("starting listener %q: %w", spec.Name, err)
	}
	return &groupRun{spec: spec, runner: r, consumer: c, done: make(chan struct{})}, nil
}

// start runs g's runner and consumer under the dispatcher's context.
func (d *Dispatcher) start(g *groupRun) {
	d.mu.Lock()
	ctx, cancel := context.WithCancel(d.ctx)
	g.cancel = cancel
	d.mu.Unlock()
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- g.runner.Run(context.WithoutCancel(ctx)) }()
	go func() {
		defer close(g.done)
		err := g.consumer.Run(ctx, g.runner)
		if err != nil && ctx.Err() == nil {
			d.log.Error("listener stopped reading", "listener", g.spec.Name, "err", err)
		}
		// The consumer drained the runner before leaving the group.
		g.runner.Stop()
		g.err = errors.Join(err, <-runnerDone)
	}()
}

// stop ends g and waits until its last offsets are committed.
func (g *groupRun) stop() error {
	if g.cancel == nil {
		return nil // never started
	}
	g.cancel()
	<-g.done
	if g.err != nil && !errors.Is(g.err, context.Canceled) {
		return fmt.Errorf("stopping listener %q: %w", g.spec.Name, g.err)
	}
	return nil
}

// Status returns each listener's runner status, by name.
func (d *Dispatcher) Status() []dispatch.RunnerStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.running))
	for n := range d.running {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]dispatch.RunnerStatus, len(names))
	for i, n := range names {
		out[i] = d.running[n].runner.Status()
	}
	return out
}
