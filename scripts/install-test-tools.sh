#!/usr/bin/env bash
# Installs the programs the tests run, when they are missing:
# - espeak-ng speaks the test sentences (and is what the TTS service runs for its Mandarin
#   voices and English phonemes), and ffmpeg encodes them into every format the STT
#   service accepts (WAV at several rates, MP3, FLAC, Ogg Vorbis, M4A with AAC);
# - Chromium (Debian's build) and the pinned playwright-core in
#   crates/podwise-gateway/tests/ui/ drive the web UI test in a headless browser, and a
#   small Chinese font (WenQuanYi Micro Hei) lets its screenshots show the zh-TW text;
# - the programs the offline checks of the deployment files run
#   (scripts/install-deploy-tools.sh);
# - OpenAI's Python client, in a virtual environment of its own, with which the demo test
#   runs the README's tour of the OpenAI-compatible routes.
# With all of them in place it does nothing, so a second run needs no network.
#
# Parameters (environment):
#   PODWISE_API_CLIENT_DIR  where the OpenAI client's virtual environment lives
#                           (~/.cache/podwise/api-client; the demo test reads it too)
#
# scripts/test.sh runs it before the test suite; run it by hand before `cargo test` on a
# new machine. Installing programs needs root (Debian's apt-get); the npm packages come
# from the lock file with `npm ci`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_programs "the speech tests make and check their audio with them" \
    espeak-ng=espeak-ng ffmpeg=ffmpeg
say "espeak-ng and ffmpeg are installed"

ensure_programs "the web UI test runs in a headless browser" \
    chromium=chromium node=nodejs npm=npm
if [[ -z $(fc-list :lang=zh-tw family 2>/dev/null) ]]; then
    ((EUID == 0)) || die "no Chinese font; installing one needs root: sudo $0"
    say "installing a Chinese font (the web UI's screenshots show zh-TW text)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        fonts-wqy-microhei >/dev/null
fi
ui_tests="$PODWISE_ROOT/crates/podwise-gateway/tests/ui"
if [[ ! -d $ui_tests/node_modules/playwright-core ]]; then
    say "installing the web UI test's npm packages from its lock file"
    # No browser download: the test drives Debian's Chromium.
    (cd "$ui_tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi
say "chromium and playwright-core are installed"

"$(dirname "$0")/install-deploy-tools.sh" >/dev/null
say "the deployment checks' tools are installed"

# Changing the pin makes the next run install it again.
ensure_python_venv "${PODWISE_API_CLIENT_DIR:-$HOME/.cache/podwise/api-client}" openai==3.60.0
say "the OpenAI Python client is installed"
