#!/usr/bin/env bash
# Ingests a directory of one podcast's audio files through the gateway's operator API:
# each file is uploaded to POST /api/v1/ingest/audio, where it is stored, previewed,
# transcribed and indexed.
#
# The directory holds:
#   podcast.json        {"id", "title", "category", "language"} for the show, and
#                       optionally its "author" and "description"
#   <name>.<audio>      each episode (wav, mp3, flac, ogg, m4a, aac)
#   <name>.json         optional, per episode: {"title", "published", "description",
#                       "tags": [...]}; without it the title is the file name and the
#                       episode id the file name's letters and digits
#
# Parameters (environment):
#   PODWISE_URL            the gateway (http://localhost:$API_PORT, API_PORT 8000)
#   PODWISE_OPERATOR_KEY   an operator key; unset, the one the start script made in
#                          PODWISE_DATA_DIR/operator-key (./data)
#   PODWISE_INGEST_WAIT    seconds to wait for every job to finish (0: do not wait; 600)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    echo "Usage: $0 DIRECTORY"
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; exit 2 ;;
esac
directory=$1
[[ -d $directory ]] || die "$directory is not a directory"
[[ -f $directory/podcast.json ]] || die "$directory/podcast.json is missing (the show's id, title, category, language)"

url=${PODWISE_URL:-http://localhost:$(service_port gateway)}
key=${PODWISE_OPERATOR_KEY:-}
if [[ -z $key ]]; then
    key_file=${PODWISE_DATA_DIR:-$PODWISE_ROOT/data}/operator-key
    [[ -s $key_file ]] || die "no PODWISE_OPERATOR_KEY and no $key_file"
    key=$(<"$key_file")
fi
wait_seconds=${PODWISE_INGEST_WAIT:-600}

# One field of a JSON file, or the default when the file or the field is absent.
field() {
    python3 - "$1" "$2" "${3:-}" <<'PY'
import json, sys
path, name, default = sys.argv[1:]
try:
    with open(path, encoding="utf-8") as f:
        value = json.load(f).get(name, default)
except FileNotFoundError:
    value = default
print("\n".join(value) if isinstance(value, list) else value)
PY
}

show=$directory/podcast.json
# --form-string, not -F, for text: curl reads a value starting with @ or < as a file.
podcast_fields=(
    --form-string "podcast_id=$(field "$show" id)"
    --form-string "podcast_title=$(field "$show" title)"
    --form-string "category=$(field "$show" category)"
    --form-string "language=$(field "$show" language)"
    --form-string "podcast_author=$(field "$show" author)"
    --form-string "podcast_description=$(field "$show" description)"
)

jobs=()
shopt -s nullglob nocaseglob
for audio in "$directory"/*.{wav,mp3,flac,ogg,m4a,aac}; do
    name=$(basename "${audio%.*}")
    sidecar=${audio%.*}.json
    episode_id=$(tr -cd 'A-Za-z0-9_-' <<<"$name")
    [[ -n $episode_id ]] || die "$audio: its name has no letters or digits for an episode id"
    fields=(
        --form-string "episode_id=$episode_id"
        --form-string "episode_title=$(field "$sidecar" title "$name")"
        --form-string "published=$(field "$sidecar" published)"
        --form-string "description=$(field "$sidecar" description)"
    )
    while IFS= read -r tag; do
        [[ -n $tag ]] && fields+=(--form-string "tags=$tag")
    done < <(field "$sidecar" tags)
    say "uploading $audio"
    answer=$(curl -sS --fail-with-body -H "authorization: Bearer $key" \
        "${podcast_fields[@]}" "${fields[@]}" -F "file=@$audio" "$url/api/v1/ingest/audio") ||
        die "$audio was refused: $answer"
    job=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["id"])' <<<"$answer")
    jobs+=("$job")
    echo "$job $audio"
done
((${#jobs[@]} > 0)) || die "$directory has no audio files"

((wait_seconds > 0)) || exit 0
deadline=$((SECONDS + wait_seconds))
failed=0
for job in "${jobs[@]}"; do
    while true; do
        state=$(curl -sS -H "authorization: Bearer $key" "$url/api/v1/ingest/jobs/$job" |
            python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["state"], j.get("last_error") or "")')
        case "$state" in
            done*) say "job $job done"; break ;;
            failed*) say "job $job failed: ${state#failed }"; failed=$((failed + 1)); break ;;
        esac
        ((SECONDS < deadline)) || die "job $job is still ${state%% *} after ${wait_seconds}s"
        sleep 1
    done
done
((failed == 0)) || die "$failed of ${#jobs[@]} episodes failed"
say "all ${#jobs[@]} episodes ingested"
