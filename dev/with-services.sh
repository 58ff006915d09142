#!/usr/bin/env bash
# dev/with-services.sh CMD [ARG...] — bring the dev servers up, run CMD with
# the MOONTIDE_* variables of `dev/services.sh env` exported, then bring the
# servers down again whatever CMD did (also on Ctrl-C), and exit with CMD's
# status (or with 1 if only `up` or `down` failed).
#
# MOONTIDE_KEEP_SERVICES=1 skips the final `down`, for a quick rerun.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -gt 0 ] || { echo "usage: dev/with-services.sh CMD [ARG...]" >&2; exit 2; }

rc=0
finish() {
	local down_rc=0
	trap - EXIT INT TERM
	if [ "${MOONTIDE_KEEP_SERVICES:-}" != 1 ]; then
		"$here/services.sh" down || down_rc=$?
	fi
	if [ "$rc" -eq 0 ] && [ "$down_rc" -ne 0 ]; then rc=1; fi
	exit "$rc"
}
trap finish EXIT
trap 'rc=130; finish' INT
trap 'rc=143; finish' TERM

"$here/services.sh" up || { rc=$?; exit "$rc"; }
eval "$("$here/services.sh" env)"
"$@" || rc=$?
