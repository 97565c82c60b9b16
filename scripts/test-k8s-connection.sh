#!/usr/bin/env bash
# Checks that the four stores can be reached with the settings the services use: TCP
# first, then one real round trip of each store's protocol (PostgreSQL, MongoDB, S3,
# Milvus). Prints one line per store, with the reason when it fails, and exits non-zero
# if any store fails.
#
# Settings come from the environment and ./.env, exactly as the services read them, so
# this works against a cluster's stores from a laptop (with .env), against the local
# dev servers (eval "$(scripts/dev-services.sh env)" first), and inside a pod, where
# the image's podwise-check-stores binary is on the PATH.
#
# Parameters (environment):
#   PODWISE_CHECK_BIN   the checker binary to run (podwise-check-stores on the PATH,
#                       else built here with cargo)
#   PODWISE_PROFILE     cluster (the default here) or embedded
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The point is to reach the servers: check the cluster stores unless told otherwise.
export PODWISE_PROFILE=${PODWISE_PROFILE:-cluster}

checker=${PODWISE_CHECK_BIN:-$(command -v podwise-check-stores || true)}
if [[ -z $checker ]]; then
    say "building the store checker"
    cd "$PODWISE_ROOT"
    cargo build --quiet -p podwise-common --bin podwise-check-stores \
        --features catalog,documents,objects,vectors
    checker=${CARGO_TARGET_DIR:-$PODWISE_ROOT/target}/debug/podwise-check-stores
fi

exec "$checker"
