package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/moontide/moontide/engine/config"
)

// Exit codes. Scripts and service managers can tell a refused invocation
// (fix the command line) from a failure (fix the config or environment)
// from a capability this build lacks.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitUnavailable = 3
)

// defaultConfigDir is where -c points when not given: conf.d in the working
// directory, next to scripts/, as the shipped layout has it.
const defaultConfigDir = "conf.d"

// usageError marks a bad command line, so it exits with exitUsage and a
// pointer to --help instead of a bare failure.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageArgs wraps a cobra argument check so its failure counts as a usage
// error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{cmd: cmd, err: err}
		}
		return nil
	}
}

// newRootCmd builds the whole command tree. Tests build a fresh tree per
// case, so no state leaks between them through cobra's globals.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "moontide",
		Short: "Change data capture from MySQL/MariaDB to Lua scripts, through Kafka",
		Long: `moontide turns every row change in MySQL or MariaDB into an event, carries the
events through Kafka (or, with no brokers configured, an in-memory queue), and
hands them in batches to Lua listener scripts that keep caches, search indexes
and other databases in step.

Delivery is at-least-once from binlog to sink: no event is skipped on crash,
outage or reload; after a crash some may be delivered twice. Events of one row
are handled in binlog order.

Configuration is read from a conf.d directory (-c, default ./conf.d): every
*.yaml file in name order, merged key by key, with ${VAR} and ${VAR:-default}
taken from the environment. Unknown keys are errors. See docs/configuration.md.

Exit status: 0 success; 1 failure (the reason is printed as "moontide: ...");
2 bad usage (unknown command or flag, wrong arguments); 3 the command is not
available in this build yet.`,
		Example: `  moontide validate -c conf.d --print   # check the configuration, show the merged result
  moontide run -c conf.d                # capture and dispatch in one process
  kill -HUP $(pidof moontide)           # reload scripts without a restart`,
		// A runtime failure is not a usage problem, and execute prints
		// every error itself in one format, so cobra stays quiet.
		SilenceUsage:  true,
		SilenceErrors: true,
		// Shell completion stays available but out of the command list.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.PersistentFlags().StringP("config", "c", defaultConfigDir,
		"conf.d directory: every *.yaml file in it is read in name order and merged")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, err: err}
	})
	root.AddCommand(
		newRunCmd(),
		newCaptureCmd(),
		newDispatchCmd(),
		newTailCmd(),
		newSyncCmd(),
		newExecCmd(),
		newTestCmd(),
		newValidateCmd(),
		newReloadCmd(),
		newStatusCmd(),
		newVersionCmd(),
	)
	return root
}

// execute runs the command line and returns the process exit code. It is
// main without os.Exit, so tests run commands in-process.
func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var unavailable *unavailableError
	var usage *usageError
	switch {
	case errors.As(err, &unavailable):
		fmt.Fprintln(stderr, unavailable.Error())
		return exitUnavailable
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "moontide: %v\nRun '%s --help' for usage.\n", err, usage.cmd.CommandPath())
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command"):
		// cobra reports an unknown subcommand of a command that takes no
		// arguments itself as a plain error.
		fmt.Fprintf(stderr, "moontide: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "moontide: %v\n", err)
	return exitFailure
}

// configDir is the -c flag's value.
func configDir(cmd *cobra.Command) string {
	dir, err := cmd.Flags().GetString("config")
	if err != nil || dir == "" {
		return defaultConfigDir
	}
	return dir
}

// loadConfig loads and validates the conf.d directory named by -c. Errors
// already name the file and line, so they are returned as they are.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(configDir(cmd))
}
