#!/usr/bin/env bash
# Run Tachyon's whole test suite on this machine, from a fresh clone:
#
#   1. installs Tachyon and its test requirements with pip, at the
#      versions upper-constraints.txt pins (TACHYON_CONSTRAINTS: another
#      constraints file),
#   2. installs the Debian packages of the peers the tests run when
#      missing (as root): rabbitmq-server, postgresql, systemd-container,
#      debootstrap, prometheus, shellcheck (the tests start private
#      servers of their own),
#   3. starts a private Neo4j (provisioned from Maven Central, cached under
#      ~/.cache/tachyon) and RabbitMQ on 127.0.0.1 with tools/devservices.py,
#   4. runs the unit tests, then the functional and integration tests (the
#      latter run python-watcher's strategies on Tachyon) against those
#      servers,
#   5. stops the servers and prints "N passed, N failed".
#
# Export TACHYON_NEO4J_URI (and TACHYON_NEO4J_USER, TACHYON_NEO4J_PASSWORD)
# to test against a Neo4j of your own; TACHYON_SKIP_INSTALL=1 skips step 1-2.
# TACHYON_NEO4J_ROUTING=1 runs the functional and integration tests over
# the routing scheme (neo4j://, neo4j+s://: a cluster's URI) instead of
# bolt://; Neo4j Community answers it with a routing table of one member.
# Extra arguments are passed to stestr as a test filter.
set -eu -o pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${TACHYON_SKIP_INSTALL:-0}" != 1 ]; then
    echo "== Installing Tachyon and its test requirements"
    "$PYTHON" -m pip install -q --disable-pip-version-check \
        -c "${TACHYON_CONSTRAINTS:-upper-constraints.txt}" \
        -r requirements.txt -r test-requirements.txt
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps -e .
    # Debian packages of the real peers the tests run: RabbitMQ (the
    # messaging tests), PostgreSQL (the database several real Watcher
    # decision engines share), systemd-nspawn and debootstrap (a real
    # systemd as PID 1 of a container, for the shipped unit; its Debian
    # root is built once, about 4 minutes, and cached in
    # ~/.cache/tachyon/systemd-root), Prometheus (the operator guide's
    # scrape configuration and queries) and shellcheck (the DevStack
    # plugin's lint test).
    missing=()
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
        || command -v rabbitmq-server >/dev/null 2>&1 \
        || missing+=(rabbitmq-server)
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
        || missing+=(postgresql)
    command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ -x /usr/bin/prometheus ] || missing+=(prometheus)
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "== Installing ${missing[*]} (Debian packages)"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                "${missing[@]}" >/dev/null
        else
            echo "Missing Debian packages the tests need: ${missing[*]}" \
                 "(apt-get install ${missing[*]})." >&2
        fi
    fi
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

run_suite() {
    # $1: suite name, $2: test path, $3: stestr concurrency (0: one worker
    # per CPU), rest: the test filter
    local name=$1 path=$2 concurrency=$3
    shift 3
    # A filter that matches nothing in this suite skips it: stestr would
    # fail the run and "last" would report an older one.
    if [ "$#" -gt 0 ] && [ -z "$("$PYTHON" -m stestr --test-path "$path" \
            list "$@" 2>/dev/null)" ]; then
        echo "== No $name test matches the filter"
        return 0
    fi
    echo "== Running the $name tests"
    local rc=0
    "$PYTHON" -m stestr --test-path "$path" run --concurrency "$concurrency" \
        "$@" || rc=$?
    "$PYTHON" -m stestr --test-path "$path" last --subunit \
        > "$results/$name.subunit" 2>/dev/null || true
    return $rc
}

export -f run_suite
export results PYTHON

rc=0
run_suite unit ./tests/unit 0 ${1:+"$@"} || rc=$?
# tests/integration runs python-watcher's own strategy tests on Tachyon's
# model; Watcher's test base reconfigures the process (options, logging),
# so those run in a process of their own.
# shellcheck disable=SC2016  # expanded by the inner bash, on purpose
"$PYTHON" tools/devservices.py run -- \
    bash -c 'rc=0
             if [ "${TACHYON_NEO4J_ROUTING:-0}" = 1 ] \
                     && [ "${TACHYON_NEO4J_URI#bolt}" != "$TACHYON_NEO4J_URI" ]
             then
                 export TACHYON_NEO4J_URI=neo4j${TACHYON_NEO4J_URI#bolt}
                 echo "== Neo4j over its routing URI $TACHYON_NEO4J_URI"
             fi
             run_suite functional ./tests/functional 1 "$@" || rc=$?
             run_suite integration ./tests/integration 1 "$@" || rc=$?
             exit $rc' \
    functional ${1:+"$@"} || rc=$?

"$PYTHON" tools/test-summary.py "$results"/*.subunit || rc=$?
exit $rc
