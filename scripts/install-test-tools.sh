#!/usr/bin/env bash
# Installs the programs the speech-to-text tests make their audio with, when they are
# missing: espeak-ng speaks the test sentences and ffmpeg encodes them into every format
# the service accepts (WAV at several rates, MP3, FLAC, Ogg Vorbis, M4A with AAC). With
# both already on the PATH it does nothing, so a second run needs no network.
#
# scripts/test.sh runs it before the test suite; run it by hand before `cargo test` on a
# new machine. Installing needs root (Debian's apt-get).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Each program the tests run, and the Debian package it comes in.
programs=(espeak-ng ffmpeg)
packages=(espeak-ng ffmpeg)

missing=()
for i in "${!programs[@]}"; do
    command -v "${programs[$i]}" >/dev/null || missing+=("${packages[$i]}")
done
if ((${#missing[@]} == 0)); then
    say "espeak-ng and ffmpeg are installed"
    exit 0
fi

if ((EUID != 0)); then
    die "${missing[*]} missing; installing needs root: sudo $0, or apt-get install ${missing[*]}"
fi
say "installing ${missing[*]} (the speech-to-text tests make their audio with them)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
for program in "${programs[@]}"; do
    command -v "$program" >/dev/null || die "$program is still missing after installing it"
done
say "installed ${missing[*]}"
