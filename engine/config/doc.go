// Package config loads moontide's configuration: every *.yaml file of a
// conf.d directory in lexical order, merged, with ${VAR} and ${VAR:-default}
// expanded, decoded strictly so that an unknown key is an error naming its
// file and line, and validated section by section.
package config
