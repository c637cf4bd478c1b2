#!/bin/bash
#
# DevStack plugin for Tachyon: a shared Neo4j cluster model for Watcher.
# DevStack calls it as `plugin.sh <mode> <phase>`.
#
# shellcheck shell=bash

TACHYON_PLUGIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tachyon
source "$TACHYON_PLUGIN_DIR/lib/tachyon"

TACHYON_REPO=${TACHYON_REPO:-${GIT_BASE:-https://opendev.org}/openstack/tachyon.git}
TACHYON_BRANCH=${TACHYON_BRANCH:-master}
TACHYON_BIN_DIR=${TACHYON_BIN_DIR:-$(get_python_exec_prefix)}

if is_service_enabled tachyon-engine; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing Neo4j for Tachyon"
        install_tachyon_neo4j
        echo_summary "Installing Tachyon"
        install_tachyon

    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring Tachyon"
        create_tachyon_accounts
        configure_tachyon
        configure_tachyon_neo4j
        configure_tachyon_notifiers
        configure_watcher_for_tachyon

    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting Neo4j and Tachyon"
        start_tachyon_neo4j
        init_tachyon
        start_tachyon
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_tachyon
        stop_tachyon_neo4j
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_tachyon
    fi
fi
