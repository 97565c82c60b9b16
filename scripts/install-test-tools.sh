#!/usr/bin/env bash
# Installs the programs the speech tests run, when they are missing: espeak-ng speaks the
# test sentences (and is what the TTS service runs for its Mandarin voices and English
# phonemes) and ffmpeg encodes them into every format the STT service accepts (WAV at
# several rates, MP3, FLAC, Ogg Vorbis, M4A with AAC). With both already on the PATH it
# does nothing, so a second run needs no network. It also installs what the offline checks
# of the deployment files run (scripts/install-deploy-tools.sh).
#
# scripts/test.sh runs it before the test suite; run it by hand before `cargo test` on a
# new machine. Installing needs root (Debian's apt-get).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_programs "the speech tests make and check their audio with them" \
    espeak-ng=espeak-ng ffmpeg=ffmpeg
say "espeak-ng and ffmpeg are installed"
"$(dirname "$0")/install-deploy-tools.sh" >/dev/null
say "the deployment checks' tools are installed"
