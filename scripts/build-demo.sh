#!/usr/bin/env bash
# Loads the demo library (demo/: five invented shows, their scripts and a few synthetic
# listeners) into a running Podwise, through the gateway only, the way real shows arrive:
#
#   1. the TTS service reads each episode's script in a voice of the show's language;
#   2. the audio goes to the operator ingestion route (scripts/ingest-audio-directory.sh),
#      where it is stored, previewed, transcribed by the STT service and indexed by RAG;
#   3. each episode's job is followed until it is done;
#   4. the listeners are created, their onboarding choices set and their feedback
#      recorded, and the recommender is asked to train on it.
#
# Loading again is safe: an episode whose job is done (or under way) is not sent again,
# and a listener or feedback event already recorded is not recorded twice. What was
# loaded is remembered in PODWISE_DATA_DIR/demo/: episodes.tsv, listeners.json (which
# holds the listeners' tokens) and `loaded`, once everything is. Progress goes to stdout:
# a bar on a terminal, otherwise one line per episode; a summary ends it. A failure names
# the episode and the stage, and the script exits non-zero once everything else is loaded.
#
# Parameters (environment):
#   PODWISE_URL            the gateway (http://localhost:$API_PORT, API_PORT 8000)
#   PODWISE_OPERATOR_KEY   an operator key; unset, the first of PODWISE_OPERATOR_KEYS (from
#                          the environment or .env), or the one the start script made in
#                          PODWISE_DATA_DIR/operator-key
#   PODWISE_DATA_DIR       the data directory, where the loader's state goes (./data)
#   PODWISE_DEMO_DIR       the library to load (./demo)
#   PODWISE_DEMO_WAIT      seconds to wait for one episode's job (900)
#   PODWISE_DEMO_READY_WAIT  seconds to wait for every service to be ready (300)
#   PODWISE_DEMO_PROGRESS  bar, lines, or auto: a bar when stdout is a terminal (auto)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    echo "Usage: $0 [--help]"
}

case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
esac

url=${PODWISE_URL:-http://localhost:$(service_port gateway)}
data_dir=${PODWISE_DATA_DIR:-$PODWISE_ROOT/data}
library=${PODWISE_DEMO_DIR:-$PODWISE_ROOT/demo}
job_wait=${PODWISE_DEMO_WAIT:-900}
ready_wait=${PODWISE_DEMO_READY_WAIT:-300}
progress=${PODWISE_DEMO_PROGRESS:-auto}
state_dir=$data_dir/demo
episodes_state=$state_dir/episodes.tsv
listeners_state=$state_dir/listeners.json

helper() { python3 "$PODWISE_ROOT/scripts/demo-library.py" "$@"; }

case "$progress" in
    auto) [[ -t 1 ]] && progress=bar || progress=lines ;;
    bar | lines) ;;
    *) die "PODWISE_DEMO_PROGRESS is $progress; use bar, lines or auto" ;;
esac
for wait in "$job_wait" "$ready_wait"; do
    [[ $wait =~ ^[0-9]+$ ]] || die "$wait is not a number of seconds (PODWISE_DEMO_*WAIT)"
done

key=${PODWISE_OPERATOR_KEY:-$(first_operator_key)}
[[ -n $key ]] || die "no operator key: set PODWISE_OPERATOR_KEY, PODWISE_OPERATOR_KEYS, or \
start Podwise with scripts/start-all-services.sh, which makes $data_dir/operator-key"

helper check "$library" || die "the demo library in $library has the problems above"
mkdir -p "$state_dir"
# Two loaders at once would each send the episodes the other has not recorded yet.
exec 9>"$state_dir/lock"
flock -n 9 || die "another demo load is already running (it holds $state_dir/lock)"
curl -fsS -o /dev/null "$url/health" 2>/dev/null ||
    die "the gateway at $url does not answer; start Podwise with scripts/start-all-services.sh"
# Healthy is not ready: the models load after the services answer. Wait for all of them.
ready_deadline=$((SECONDS + ready_wait))
until curl -fsS "$url/ready" 2>/dev/null | grep -q '"status":"ok"'; do
    ((SECONDS < ready_deadline)) ||
        die "Podwise at $url is not ready after ${ready_wait}s: $(curl -sS "$url/ready")"
    sleep 1
done
touch "$episodes_state"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stopped() {
    [[ $progress == bar ]] && printf '\r\033[K'
    say "stopped; what is loaded stays, and running this again carries on from there"
    exit 130
}
trap stopped TERM INT
# Until the end is reached, the start script resumes the load at its next start.
rm -f "$state_dir/loaded"

# A gateway call: prints the body, or fails saying the status and the gateway's message.
call() {
    local method=$1 path=$2 answer status
    shift 2
    answer=$(curl -sS -X "$method" -w '\n%{http_code}' "$url$path" "$@") || return 1
    status=${answer##*$'\n'}
    answer=${answer%$'\n'*}
    if [[ $status != 2* ]]; then
        echo "HTTP $status: $(helper message <<<"$answer")" >&2
        return 1
    fi
    printf '%s' "$answer"
}
operator=(-H "authorization: Bearer $key")
json=(-H 'content-type: application/json')

# What this loader remembers of an episode: its catalog id and its job.
remembered() {
    awk -F'\t' -v guid="$1" '$1 == guid { line = $0 } END { print line }' "$episodes_state"
}

# The library, and what the catalog already has of it.
podcast_ids=()
guids=()
declare -A podcast_of language_of gender_of title_of
while IFS=$'\t' read -r podcast guid language gender title; do
    guids+=("$guid")
    podcast_of[$guid]=$podcast
    language_of[$guid]=$language
    gender_of[$guid]=$gender
    title_of[$guid]=$title
    [[ " ${podcast_ids[*]} " == *" $podcast "* ]] || podcast_ids+=("$podcast")
done < <(helper episodes "$library")

declare -A job_state
for podcast in "${podcast_ids[@]}"; do
    jobs=$(call GET "/api/v1/ingest/jobs?podcast_id=$podcast&limit=500" "${operator[@]}") ||
        die "cannot list the ingestion jobs of $podcast"
    while IFS=$'\t' read -r episode state job; do
        job_state[$episode]="$state $job"
    done < <(helper latest-jobs <<<"$jobs")
done

# An episode this loader has no record of (its state was lost, or another machine loaded
# it) is found in the catalog by its show and title.
for podcast in "${podcast_ids[@]}"; do
    listing=$(call GET "/api/v1/podcasts/$podcast/episodes?limit=100" 2>/dev/null) || continue
    while IFS=$'\t' read -r episode status title; do
        for guid in "${guids[@]}"; do
            if [[ ${podcast_of[$guid]} == "$podcast" && ${title_of[$guid]} == "$title" &&
                $status == "done" && -z $(remembered "$guid") ]]; then
                printf '%s\t%s\t-\n' "$guid" "$episode" >>"$episodes_state"
                job_state[$episode]="done -"
            fi
        done
    done < <(helper catalog-episodes <<<"$listing")
done

total=${#guids[@]}
finished=0
declare -A outcome
pending=()
for guid in "${guids[@]}"; do
    IFS=$'\t' read -r _ episode job <<<"$(remembered "$guid")"
    state=${job_state[${episode:-none}]:-}
    case "${state%% *}" in
        done) outcome[$guid]=present; finished=$((finished + 1)) ;;
        queued | transcribing | indexing) outcome[$guid]="queued ${state#* }"; pending+=("$guid") ;;
        *) pending+=("$guid") ;;
    esac
done

# Progress: a bar redrawn in place on a terminal, one line per episode elsewhere.
started_at=$SECONDS
elapsed() {
    local seconds=$((SECONDS - started_at))
    printf '%d min %02d s' $((seconds / 60)) $((seconds % 60))
}
show() {
    local guid=$1 stage=$2
    if [[ $progress == bar ]]; then
        local width=30 filled
        filled=$((finished * width / total))
        printf '\r\033[K[%s%s] %2d/%d  %s: %s' \
            "$(printf '%*s' "$filled" '' | tr ' ' '#')" \
            "$(printf '%*s' "$((width - filled))" '' | tr ' ' '.')" \
            "$finished" "$total" "${title_of[$guid]}" "$stage"
    fi
}
done_with() {
    local guid=$1 line=$2
    finished=$((finished + 1))
    if [[ $progress == bar ]]; then
        printf '\r\033[K%s\n' "$line"
    else
        printf '[%2d/%d] %s\n' "$finished" "$total" "$line"
    fi
}

failures=()
fail() {
    local guid=$1 stage=$2 why=$3
    outcome[$guid]=failed
    failures+=("${podcast_of[$guid]}/$guid (${title_of[$guid]}): $stage failed: $why")
    done_with "$guid" "FAILED ${title_of[$guid]}: $stage: $why"
}

say "loading the demo library from $library into $url: $total episodes, $finished already there"
voices=$(call GET /api/v1/tts/voices) || die "cannot list the TTS voices"

# 1 and 2: speech, then upload, for every episode that is not in the catalog.
to_send=0
for guid in "${pending[@]}"; do
    [[ ${outcome[$guid]:-} == queued* ]] || to_send=$((to_send + 1))
done
[[ $progress == lines && ${#pending[@]} -gt 0 ]] &&
    echo "synthesizing and uploading $to_send episodes, then waiting for ${#pending[@]}"
for guid in "${pending[@]}"; do
    [[ ${outcome[$guid]:-} == queued* ]] && continue
    folder=$work/$guid
    mkdir -p "$folder"
    show "$guid" "synthesizing"
    voice=$(helper voice "${language_of[$guid]}" "${gender_of[$guid]}" <<<"$voices") || {
        fail "$guid" synthesizing "no voice for ${language_of[$guid]}"
        continue
    }
    body=$(helper script "$library" "$guid" |
        python3 -c 'import json, sys; print(json.dumps({"text": sys.stdin.read(),
            "voice": sys.argv[1], "format": "wav"}))' "$voice")
    status=$(curl -sS -o "$folder/$guid.wav" -w '%{http_code}' "${json[@]}" -d "$body" \
        "$url/api/v1/tts/synthesize" 2>"$folder/tts.log") || status="no answer"
    if [[ $status != 200 ]]; then
        fail "$guid" synthesizing "HTTP $status: $(helper message <"$folder/$guid.wav" \
            2>/dev/null || tail -n 1 "$folder/tts.log")"
        continue
    fi

    # The audio was streamed, so its header could not say its length; now it can, and
    # players show the duration and seek in the stored file.
    helper wav-sizes "$folder/$guid.wav"
    show "$guid" "uploading"
    helper upload "$library" "$guid" "$folder"
    if ! queued=$(PODWISE_URL=$url PODWISE_OPERATOR_KEY=$key PODWISE_INGEST_WAIT=0 \
        "$PODWISE_ROOT/scripts/ingest-audio-directory.sh" "$folder" 2>"$folder/upload.log"); then
        fail "$guid" uploading "$(tail -n 1 "$folder/upload.log")"
        continue
    fi
    job=${queued%% *}
    episode=$(call GET "/api/v1/ingest/jobs/$job" "${operator[@]}" | helper field episode_id) || {
        fail "$guid" uploading "job $job cannot be read back"
        continue
    }
    printf '%s\t%s\t%s\n' "$guid" "$episode" "$job" >>"$episodes_state"
    outcome[$guid]="queued $job"
done

# 3: follow each job, in the order the workers take them.
loaded=0
for guid in "${pending[@]}"; do
    [[ ${outcome[$guid]:-} == queued* ]] || continue
    job=${outcome[$guid]#queued }
    deadline=$((SECONDS + job_wait))
    stage=queued
    while true; do
        answer=$(call GET "/api/v1/ingest/jobs/$job" "${operator[@]}") || {
            fail "$guid" "$stage" "job $job cannot be read"
            break
        }
        state=$(helper field state <<<"$answer")
        case "$state" in
            done)
                loaded=$((loaded + 1))
                outcome[$guid]=loaded
                done_with "$guid" "loaded ${title_of[$guid]} ($(elapsed) in)"
                break
                ;;
            failed)
                fail "$guid" "$stage" "$(helper field last_error <<<"$answer")"
                break
                ;;
        esac
        stage=$state
        attempts=$(helper field attempts <<<"$answer")
        ((attempts > 1)) && stage="$state (attempt $attempts)"
        if ((SECONDS > deadline)); then
            fail "$guid" "$stage" "not finished after ${job_wait}s (job $job)"
            break
        fi
        show "$guid" "$stage"
        sleep 2
    done
done
[[ $progress == bar ]] && printf '\r\033[K'

# 4: listeners, their feedback, and a training run on it.
new_listeners=0
new_events=0
missing_events=0
while IFS=$'\t' read -r name preferences; do
    user=$(helper state-get "$listeners_state" "$name" user_id)
    if [[ -z $user ]]; then
        created=$(call POST /api/v1/users) || die "listener $name: cannot be created"
        user=$(helper field user_id <<<"$created")
        helper state-set "$listeners_state" "$name" token "$(helper field token <<<"$created")"
        helper state-set "$listeners_state" "$name" user_id "$user"
        new_listeners=$((new_listeners + 1))
    fi
    listener=(-H "authorization: Bearer $(helper state-get "$listeners_state" "$name" token)")
    call PUT "/api/v1/users/$user/preferences" "${listener[@]}" "${json[@]}" \
        -d "$preferences" >/dev/null || die "listener $name: the preferences were refused"
    while IFS=$'\t' read -r kind guid; do
        event="$kind:$guid"
        helper state-has "$listeners_state" "$name" "$event" && continue
        IFS=$'\t' read -r _ episode _ <<<"$(remembered "$guid")"
        if [[ -z $episode || ${outcome[$guid]:-} == failed ]]; then
            missing_events=$((missing_events + 1))
            continue
        fi
        call POST "/api/v1/users/$user/feedback" "${listener[@]}" "${json[@]}" \
            -d "{\"episode_id\": \"$episode\", \"kind\": \"$kind\"}" >/dev/null ||
            die "listener $name: the feedback $kind on $guid was refused"
        helper state-add "$listeners_state" "$name" "$event"
        new_events=$((new_events + 1))
    done < <(helper feedback "$library" "$name")
done < <(helper listeners "$library")

training="not needed (nothing new)"
if ((loaded + new_events > 0)); then
    trained=$(call POST /api/v1/ml/train "${operator[@]}") ||
        die "the recommender's training failed"
    training="model $(helper field model_version <<<"$trained"), trained on \
$(helper field interactions <<<"$trained") interactions in $(helper field seconds <<<"$trained") s"
fi

present=$((total - ${#pending[@]}))
echo "Demo library: $loaded episodes loaded now, $present already there, ${#failures[@]} failed \
(of $total) in $(elapsed)."
echo "  Listeners: $new_listeners new, $new_events feedback events recorded \
(state in $state_dir)."
((missing_events == 0)) ||
    echo "  $missing_events feedback events wait for episodes that are not loaded yet."
echo "  Recommender: $training."
if ((${#failures[@]} > 0)); then
    for failure in "${failures[@]}"; do
        echo "  FAILED $failure"
    done
    echo "  Run $0 again to retry what failed; what is loaded stays."
    exit 1
fi
date -u +%FT%TZ >"$state_dir/loaded"
echo "  Ask: curl -s $url/api/v1/ask -H 'content-type: application/json' \\"
echo "         -d '{\"question\": \"睡眠和記憶有什麼關係？\"}'"
echo "  More questions with the episode that answers each: $library/questions.toml"
