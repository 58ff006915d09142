package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show position, lag and listeners of a running moontide",
		Long: `Status asks the running process (GET /status on admin.listen, with
admin.token) for its binlog position, capture lag, checkpoint age, listeners
with their progress, the script generation and the last errors, and prints
them.

The exit status is 1 when the process could not be reached.`,
		Example: `  moontide status
  moontide status --json | jq .listeners`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := callAdmin(cmd, "GET", "/status")
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				_, err = cmd.OutOrStdout().Write(body)
				return err
			}
			return printStatus(cmd, body)
		},
	}
	cmd.Flags().Bool("json", false, "print the status document as JSON")
	return cmd
}

// printStatus prints the status document for a terminal: the summary
// first, then the transport's details.
func printStatus(cmd *cobra.Command, body []byte) error {
	var st struct {
		Mode       string          `json:"mode"`
		Generation int             `json:"script_generation"`
		Listeners  []string        `json:"listeners"`
		ReloadErr  string          `json:"last_reload_error"`
		Transport  json.RawMessage `json:"transport"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("reading status: %w", err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "mode:              %s\n", st.Mode)
	fmt.Fprintf(w, "script generation: %d\n", st.Generation)
	fmt.Fprintf(w, "listeners:         %v\n", st.Listeners)
	if st.ReloadErr != "" {
		fmt.Fprintf(w, "last reload error: %s\n", st.ReloadErr)
	}
	var details bytes.Buffer
	if len(st.Transport) > 0 && json.Indent(&details, st.Transport, "", "  ") == nil {
		fmt.Fprintf(w, "transport:\n%s\n", details.String())
	}
	return nil
}
