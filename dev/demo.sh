#!/usr/bin/env bash
# dev/demo.sh — `make demo`: moontide keeping a Redis cache in step with a
# MariaDB table, in embedded mode (no Kafka), with the sample listener
# scripts/demo_cache.lua.
#
# It starts MariaDB and Redis if they are not running (and stops them again
# at the end), builds moontide, runs `moontide run` with the shipped conf.d,
# writes, updates and deletes rows of moontide_demo.items, and shows the
# table next to what landed in Redis.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=/usr/local/go/bin:$PATH

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Start what is not running; remember it so the end stops only that.
started=()
for svc in mariadb redis; do
	if ! "$here/services.sh" status "$svc" 2>/dev/null | grep -q ' up '; then
		started+=("$svc")
	fi
done
work=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if ((${#started[@]})); then
		"$here/services.sh" down "${started[@]}" >/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

say "starting MariaDB and Redis"
"$here/services.sh" up mariadb redis
eval "$("$here/services.sh" env)"
unset MOONTIDE_KAFKA_BROKERS # embedded mode: capture and dispatch in one process

say "building moontide"
go build -o "$work/moontide" ./cmd/moontide

port=${MOONTIDE_MARIADB_PORT:-13306}
sql() { mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -umoontide -pmoontide moontide_demo "$@"; }
rcli() { redis-cli -h "${MOONTIDE_REDIS_ADDR%:*}" -p "${MOONTIDE_REDIS_ADDR##*:}" "$@"; }

sql -e "DROP TABLE IF EXISTS items;
        CREATE TABLE items (
          id BIGINT UNSIGNED PRIMARY KEY,
          name VARCHAR(100) NOT NULL,
          price DECIMAL(12,2),
          stock INT NOT NULL,
          updated_at DATETIME(6) NOT NULL)"
rcli --scan --pattern 'item:*' | while read -r k; do rcli del "$k" >/dev/null; done

# The shipped conf.d, with the checkpoint and admin port of this run only.
cp -r conf.d "$work/conf.d"
cat >"$work/conf.d/90-demo.yaml" <<EOF
checkpoint:
  path: $work/checkpoint.json
admin:
  listen: 127.0.0.1:0
EOF

say "moontide validate"
"$work/moontide" validate -c "$work/conf.d"

say "moontide run (log: $work/moontide.log)"
"$work/moontide" run -c "$work/conf.d" >"$work/moontide.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q 'capture starting' "$work/moontide.log" && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/moontide.log"; exit 1; }
	sleep 0.1
done
grep -E 'listener (added|started)|capture starting' "$work/moontide.log" | sed 's/^/  /'

say "writing to moontide_demo.items"
change() {
	printf '  mariadb> %s\n' "$1"
	sql -e "$1"
}
change "INSERT INTO items VALUES (1, 'kettle', 24.90, 12, NOW(6)), (2, 'teapot', 39.00, 3, NOW(6)), (3, 'mug', 7.50, 40, NOW(6)), (4, 'tray', NULL, 0, NOW(6)), (18446744073709551615, 'the biggest id', 0.01, 1, NOW(6))"
change "UPDATE items SET price = 21.90, updated_at = NOW(6) WHERE id = 1"
change "UPDATE items SET stock = stock - 1, updated_at = NOW(6) WHERE id IN (2, 3)"
change "DELETE FROM items WHERE id = 4"

# Wait until the cache shows the last change (item:4 gone, 4 keys left).
for _ in $(seq 100); do
	[[ $(rcli exists item:4) == 0 && $(rcli --scan --pattern 'item:*' | wc -l) == 4 ]] && break
	sleep 0.1
done

say "the table"
sql -t -e "SELECT * FROM items ORDER BY id"

say "the cache in Redis"
rcli --scan --pattern 'item:*' | sort | while read -r k; do
	printf '  %-28s %s\n' "$k" "$(rcli get "$k")"
done

say "stopping moontide (SIGTERM: finish in-flight batches, save the checkpoint)"
kill -TERM "$pid"
wait "$pid" && echo "  exited 0"
pid=""
echo "  checkpoint: $(cat "$work/checkpoint.json")"
echo
echo "The listener is scripts/demo_cache.lua; change it and send SIGHUP to reload."
