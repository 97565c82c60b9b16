#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, then the whole test suite
# (unit, integration and end-to-end). This is the README's test command and what CI runs.
#
# The cluster adapters of the stores are tested against real servers on loopback, which
# scripts/dev-services.sh installs and starts here and stops again at the end; a test
# that needs one and cannot find it fails rather than skips. The same goes for the audio
# tests, which make real speech with espeak-ng and ffmpeg: scripts/install-test-tools.sh
# installs them when they are missing.
#
# Parameters (environment):
#   CARGO_TARGET_DIR   where cargo builds (./target); CI keeps one outside the clone
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PODWISE_ROOT"

if ! command -v curl >/dev/null; then
    say "installing curl (the end-to-end test checks every port with it)"
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi
"$PODWISE_ROOT/scripts/install-test-tools.sh"
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "installing the $component toolchain component"
        rustup component add "$component"
    fi
done

say "checking the deployment files offline (renderings, schemas, hardening, lints)"
"$PODWISE_ROOT/scripts/check-deployment.sh"

say "checking the demo library's files (ids, scripts, tags, the listeners' episodes)"
python3 "$PODWISE_ROOT/scripts/demo-library.py" check "$PODWISE_ROOT/demo"

say "checking formatting"
cargo fmt --all -- --check

say "linting (clippy, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

say "building the six service binaries the end-to-end test starts"
cargo build --workspace --bins

say "fetching the models the services load (kept between runs)"
"$PODWISE_ROOT/scripts/fetch-models.sh"

say "starting the real store servers the cluster adapters are tested against"
results=$(mktemp)
trap 'rm -f "$results"; "$PODWISE_ROOT/scripts/dev-services.sh" stop' EXIT
eval "$("$PODWISE_ROOT/scripts/dev-services.sh" start)"
export PODWISE_REQUIRE_DEV_SERVERS=1

say "checking the operators' connection test reaches every store"
"$PODWISE_ROOT/scripts/test-k8s-connection.sh"

say "running the test suite"
set +e
cargo test --workspace 2>&1 | tee "$results"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, so a reader (or CI) sees the total at the end.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$results"
exit "$status"
