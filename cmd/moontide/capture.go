package main

import "github.com/spf13/cobra"

func newCaptureCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "capture",
		Short: "Read the binlog and publish events to Kafka",
		Long: `Capture reads the source's binlog (source section), turns each changed row of
an included table into an event and publishes it to Kafka, keyed by the row's
primary key so each row's events stay in one partition, in order.

The checkpoint (checkpoint section) is saved only after Kafka acknowledged
every event before it, so a crash or kill -9 resumes without skipping
anything; events after the last checkpoint may be published twice.

Capture needs kafka.brokers; without brokers use 'moontide run'. Run one
capture process per source: two would publish every event twice.`,
		Example: `  MOONTIDE_KAFKA_BROKERS=k1:9092,k2:9092 moontide capture -c conf.d`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProcess(cmd, role{capture: true}, nil)
		},
	}
}
