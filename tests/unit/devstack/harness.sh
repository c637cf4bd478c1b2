#!/bin/bash
# Source Tachyon's DevStack plugin for one phase with DevStack's functions
# replaced by recorders. Usage: harness.sh RECORD_FILE MODE [PHASE]
# Every call of a DevStack function (and of sudo, curl, systemctl, the
# Tachyon commands) is appended to RECORD_FILE as one line of words.
# shellcheck shell=bash
set -eu

REC=$1
shift

_record() {
    local line
    line=$(printf ' %q' "$@")
    echo "${line# }" >> "$REC"
}

for fn in iniset iniset_rpc_backend setup_develop git_clone install_package \
          run_process stop_process create_service_user echo_summary \
          wait_for_service sudo curl python3; do
    eval "$fn() { _record $fn \"\$@\"; }"
done

die() {
    _record die "$@"
    exit 3
}

is_service_enabled() {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}

enable_service() {
    [[ ",$ENABLED_SERVICES," == *",$1,"* ]] || ENABLED_SERVICES+=",$1"
}

bool_from_string() {
    [[ "${1,,}" =~ ^(true|1|yes|on)$ ]]
}

get_python_exec_prefix() {
    echo "$HARNESS_BIN"
}

# shellcheck disable=SC1091
source "$TACHYON_PLUGIN/settings"
# shellcheck disable=SC1091
source "$TACHYON_PLUGIN/plugin.sh" "$@"
