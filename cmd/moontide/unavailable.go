package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// unavailableError says a command exists in the interface but its engine
// work has not landed in this build. It is its own kind so the exit code
// (exitUnavailable) and message tell the user the build, not their
// configuration, is the reason.
type unavailableError struct {
	command string // full command path, e.g. "moontide capture"
	reason  string
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%s: not available yet in this build (%s)", e.command, e.reason)
}

// notAvailable is the body of a command whose capability has not landed;
// reason says which work brings it.
func notAvailable(cmd *cobra.Command, reason string) error {
	return &unavailableError{command: cmd.CommandPath(), reason: reason}
}
