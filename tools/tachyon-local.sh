#!/usr/bin/env bash
# Run Tachyon's main job on local defaults, from a fresh clone:
#
#   1. installs Tachyon with pip (and rabbitmq-server from Debian when root),
#   2. starts a private Neo4j and RabbitMQ on 127.0.0.1 (tools/devservices.py;
#      they keep running afterwards: `python3 tools/devservices.py stop`),
#   3. writes .devservices/tachyon.conf pointing at them,
#   4. creates or upgrades the graph schema (tachyon-manage db sync),
#   5. starts tachyon-engine in the background (pid and log under the state
#      directory) and waits until it answers over RPC,
#   6. loads a sample cloud (a Watcher scenario) and runs Watcher's server
#      consolidation strategy on it through a simulation session, printing
#      the action plan and each node's utilization before and after.
#
# Export TACHYON_NEO4J_URI (TACHYON_NEO4J_USER, TACHYON_NEO4J_PASSWORD) to use
# a Neo4j of your own; TACHYON_SKIP_INSTALL=1 skips step 1.
set -eu -o pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export TACHYON_DEV_STATE=${TACHYON_DEV_STATE:-$PWD/.devservices}

if [ "${TACHYON_SKIP_INSTALL:-0}" != 1 ]; then
    echo "== Installing Tachyon"
    "$PYTHON" -m pip install -q --disable-pip-version-check \
        -c "${TACHYON_CONSTRAINTS:-upper-constraints.txt}" \
        -r requirements.txt "python-watcher>=17.0.0"
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps -e .
    if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
            && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== Installing rabbitmq-server (Debian package)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            rabbitmq-server >/dev/null
    fi
fi

echo "== Starting Neo4j and RabbitMQ on 127.0.0.1"
eval "$("$PYTHON" tools/devservices.py start)"

conf=$TACHYON_DEV_STATE/tachyon.conf
umask 077
cat > "$conf" <<EOF
[DEFAULT]
transport_url = ${TACHYON_TRANSPORT_URL:-}

[collectors]
enabled_collectors =

[neo4j]
uri = $TACHYON_NEO4J_URI
username = $TACHYON_NEO4J_USER
password = $TACHYON_NEO4J_PASSWORD
EOF
echo "== Wrote $conf"

echo "== Syncing the graph schema"
tachyon-manage --config-file "$conf" db sync
echo "Schema version: $(tachyon-manage --config-file "$conf" db version)"

echo "== Starting tachyon-engine"
pidfile=$TACHYON_DEV_STATE/tachyon-engine.pid
log=$TACHYON_DEV_STATE/tachyon-engine.log
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "tachyon-engine already runs (pid $(cat "$pidfile"))"
else
    setsid tachyon-engine --config-file "$conf" >"$log" 2>&1 </dev/null &
    echo $! > "$pidfile"
fi
for _ in $(seq 60); do
    if "$PYTHON" tools/demo_strategy.py --config-file "$conf" --ping \
            >/dev/null 2>&1; then
        break
    fi
    sleep 1
done
"$PYTHON" tools/demo_strategy.py --config-file "$conf" --ping

echo "== Loading a sample cloud (a Watcher scenario)"
"$PYTHON" tools/demo_strategy.py --config-file "$conf" --load-sample

echo "== Running Watcher's server consolidation through a simulation session"
"$PYTHON" tools/demo_strategy.py --config-file "$conf" --strategy

cat <<EOF

Tachyon runs locally:
  config     $conf
  engine     pid $(cat "$pidfile"), log $log
  query      tachyon-manage --config-file $conf model export
             python3 tools/demo_strategy.py --config-file $conf --ping
  sessions   tachyon-manage --config-file $conf session list
  stop       kill \$(cat $pidfile); python3 tools/devservices.py stop
EOF
