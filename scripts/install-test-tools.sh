#!/usr/bin/env bash
# Installs, from Debian's packages, the programs the speech-to-text tests need and the
# machine lacks: espeak-ng speaks the test sentences, ffmpeg converts them to 16 kHz.
# Programs already on the PATH are left alone, so a second run does nothing.
#
# Parameters (environment):
#   PODWISE_APT_GET   the apt-get to run (apt-get)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APT_GET=${PODWISE_APT_GET:-apt-get}

# program=package, for every program the tests run.
TOOLS=(espeak-ng=espeak-ng ffmpeg=ffmpeg)

missing=()
for tool in "${TOOLS[@]}"; do
    command -v "${tool%%=*}" >/dev/null || missing+=("${tool##*=}")
done
if ((${#missing[@]} == 0)); then
    say "test tools present: ${TOOLS[*]%%=*}"
    exit 0
fi

say "installing ${missing[*]} for the speech-to-text tests"
"$APT_GET" update -qq
DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
for tool in "${TOOLS[@]}"; do
    command -v "${tool%%=*}" >/dev/null || die "${tool%%=*} is still missing after installing"
done
say "installed ${missing[*]}"
