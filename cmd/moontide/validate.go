package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/moontide/moontide/engine/config"
	"github.com/moontide/moontide/engine/lua"
)

func newValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration without starting anything",
		Long: `Validate loads the conf.d directory the way every other command does: each
*.yaml file in name order, environment variables expanded, unknown keys and
wrong types refused with the file and line, files merged, defaults applied and
every section checked. Then every listener script in scripts.dir is compiled
and validated as a reload would (syntax, the returned table, subscriptions,
handlers), with errors as file:line. Nothing is contacted: addresses are
checked for form, not reachability, and scripts run with recording builtins.

On success it prints a one-line summary, or with --print the effective merged
configuration as YAML with passwords, tokens and URL passwords replaced by
REDACTED. On failure it prints every problem found, each with its file:line,
and exits 1.`,
		Example: `  moontide validate -c conf.d
  moontide validate --print > effective.yaml
  MOONTIDE_KAFKA_BROKERS=k1:9092 moontide validate --print`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			listeners, err := validateScripts(cfg)
			if err != nil {
				return err
			}
			print, _ := cmd.Flags().GetBool("print")
			if print {
				return printConfig(cmd, cfg)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s, listeners: %s\n", summary(configDir(cmd), cfg), listeners)
			return err
		},
	}
	cmd.Flags().Bool("print", false, "print the merged configuration as YAML, secrets redacted")
	return cmd
}

func printConfig(cmd *cobra.Command, cfg *config.Config) error {
	var buf bytes.Buffer
	buf.WriteString("# effective configuration, merged from:\n")
	for _, f := range cfg.Files {
		fmt.Fprintf(&buf, "#   %s\n", f)
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg.Redacted()); err != nil {
		return fmt.Errorf("printing configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("printing configuration: %w", err)
	}
	_, err := cmd.OutOrStdout().Write(buf.Bytes())
	return err
}

// validateScripts loads the scripts directory in recording mode, as a
// reload would, and names the listeners it holds.
func validateScripts(cfg *config.Config) (string, error) {
	opts := scriptOptions(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	opts.Record = true
	gen, err := lua.Load(cfg.Scripts.Dir, opts)
	if err != nil {
		return "", fmt.Errorf("scripts in %s: %w", cfg.Scripts.Dir, err)
	}
	defer gen.Close()
	var names []string
	for _, l := range gen.Listeners() {
		names = append(names, l.Name())
	}
	if len(names) == 0 {
		return "none", nil
	}
	return strings.Join(names, ", "), nil
}

// summary says what the configuration amounts to, so a glance tells
// whether the right files and mode were picked up.
func summary(dir string, cfg *config.Config) string {
	mode := "embedded mode (no kafka brokers)"
	if !cfg.Kafka.Embedded() {
		mode = fmt.Sprintf("kafka mode (%d brokers)", len(cfg.Kafka.Brokers))
	}
	var sinks []string
	for _, name := range cfg.Sinks.Names() {
		sinks = append(sinks, fmt.Sprintf("%s (%s)", name, cfg.Sinks[name].Type))
	}
	if len(sinks) == 0 {
		sinks = []string{"none"}
	}
	return fmt.Sprintf("%s: ok: %d files, %s, sinks: %s", dir, len(cfg.Files), mode, strings.Join(sinks, ", "))
}
