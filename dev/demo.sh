#!/usr/bin/env bash
# dev/demo.sh — start the dev servers and show what is there. For now this
# is an inventory of the environment a demo pipeline will run against.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/services.sh" up
eval "$("$here/services.sh" env)"

echo
echo "== servers"
"$here/services.sh" status || true
echo
echo "== environment (eval \"\$(dev/services.sh env)\")"
"$here/services.sh" env
echo
port=${MOONTIDE_MARIADB_PORT:-13306}
echo "== MariaDB databases and binlog (127.0.0.1:$port)"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -umoontide -pmoontide -t \
	-e "SELECT VERSION() AS version, @@binlog_format AS binlog_format, @@binlog_row_metadata AS row_metadata; SHOW DATABASES; SHOW MASTER STATUS;"
echo
echo "== Redis (${MOONTIDE_REDIS_ADDR})"
redis-cli -h 127.0.0.1 -p "${MOONTIDE_REDIS_ADDR##*:}" info server | grep -E '^redis_version' || true
echo "keys: $(redis-cli -h 127.0.0.1 -p "${MOONTIDE_REDIS_ADDR##*:}" dbsize)"
echo
echo "== OpenSearch (${MOONTIDE_ES_URL})"
curl -fsS "${MOONTIDE_ES_URL}/_cluster/health?pretty" | grep -E '"(cluster_name|status|number_of_nodes)"'
curl -fsS "${MOONTIDE_ES_URL}/_cat/indices?v" || true
echo
echo "== Kafka (${MOONTIDE_KAFKA_BROKERS})"
echo "KRaft single node; moontide creates its topics (auto.create.topics.enable=false)."
echo
echo "Stop everything with: dev/services.sh down"
