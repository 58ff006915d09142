package main

import "github.com/spf13/cobra"

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Capture and dispatch in one process",
		Long: `Run reads the binlog and dispatches events to every listener script in one
process, until SIGTERM or SIGINT.

With no kafka.brokers configured (embedded mode), capture and dispatch are
joined by a bounded in-memory queue and the binlog checkpoint advances only
past events every subscribed listener has finished. With brokers configured,
run publishes to Kafka and consumes from it in the same process, exactly as
separate capture and dispatch processes would.

Guarantees: at-least-once delivery to sinks, per-row order, bounded memory.
SIGHUP (or POST /reload, or 'moontide reload') reloads the scripts: if any
fails to load, the running ones stay and the error is reported. SIGTERM and
SIGINT stop reading, finish in-flight batches, commit and exit 0.`,
		Example: `  moontide run -c conf.d
  MOONTIDE_LOG_FORMAT=json moontide run`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProcess(cmd, role{capture: true, dispatch: true}, nil)
		},
	}
}
