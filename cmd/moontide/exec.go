package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moontide/moontide/engine/lua"
)

func newExecCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec SCRIPT.lua",
		Short: "Run an ad-hoc Lua script with every module",
		Long: `Exec runs one Lua script once, outside any listener, with the same builtin
modules (redis, es, mysql, http, json, log) and the sinks of the
configuration; require also finds scripts.dir/lib/.

Reads run at once; writes are buffered and sent when the script ends, as one
pipeline, bulk request or transaction per connection, exactly as for a
listener's batch. The script runs under --timeout; the exit status is 1 when
it raises an error, returns false, or a write fails.`,
		Example: `  moontide exec scripts/adhoc/rebuild_index.lua
  moontide exec scripts/adhoc/purge.lua --timeout 10m`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			d, err := newDaemon(cmd, cfg)
			if err != nil {
				return err
			}
			ctx, cancel := d.signalContext(cmd.Context())
			defer cancel()
			if timeout, _ := cmd.Flags().GetDuration("timeout"); timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			opts := scriptOptions(cfg, d.log)
			opts.Print = cmd.OutOrStdout()
			if _, err := lua.Exec(ctx, lua.Script{File: args[0], Dir: cfg.Scripts.Dir}, opts); err != nil {
				return fmt.Errorf("exec %s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().Duration("timeout", 0, "stop the script after this long; 0 means no limit")
	return cmd
}
