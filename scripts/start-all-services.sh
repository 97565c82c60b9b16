#!/usr/bin/env bash
# Starts the six Podwise services on this machine and waits until all answer /health.
#
# With no .env and no store variables the services use the embedded stores under
# PODWISE_DATA_DIR (./data). With --cluster, or store variables in .env or the
# environment, they use the cluster stores instead (see README.md, "Configuration").
#
# Parameters (environment):
#   PODWISE_BIN_DIR        use binaries already built there instead of building
#   PODWISE_BUILD_PROFILE  cargo profile to build when PODWISE_BIN_DIR is unset (release)
#   PODWISE_RUN_DIR        where PID files go (./.run)
#   PODWISE_LOG_DIR        where logs go, one file per service (./logs)
#   PODWISE_START_TIMEOUT  seconds to wait for every service to be healthy (120)
#   API_PORT, RAG_PORT, ML_PORT, TTS_PORT, STT_PORT, LLM_PORT   the ports (8000-8005)
#   PODWISE_OPERATOR_KEYS  operator API keys; when neither this nor .env sets one, a key is
#                          made once in PODWISE_DATA_DIR/operator-key and used
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    echo "Usage: $0 [--cluster] [--help]"
}

profile_flag=""
for arg in "$@"; do
    case "$arg" in
        --cluster) profile_flag=cluster ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

cd "$PODWISE_ROOT"
run_dir=${PODWISE_RUN_DIR:-$PODWISE_ROOT/.run}
log_dir=${PODWISE_LOG_DIR:-$PODWISE_ROOT/logs}
timeout=${PODWISE_START_TIMEOUT:-120}
bin_dir=${PODWISE_BIN_DIR:-}
mkdir -p "$run_dir" "$log_dir"

for service in "${PODWISE_SERVICES[@]}"; do
    if pid_is_ours "$run_dir/$service.pid"; then
        die "$service is already running (PID $(<"$run_dir/$service.pid")); run scripts/stop-all-services.sh first"
    fi
    port=$(service_port "$service")
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port (for $service) is already in use by another process"
    fi
done

if [[ -z $bin_dir ]]; then
    build_profile=${PODWISE_BUILD_PROFILE:-release}
    say "building all services (cargo profile '$build_profile'; the first build takes several minutes)"
    cargo build --workspace --bins --profile "$build_profile" >&2
    target_dir=${CARGO_TARGET_DIR:-$PODWISE_ROOT/target}
    [[ $build_profile == dev ]] && bin_dir=$target_dir/debug || bin_dir=$target_dir/$build_profile
fi

# The model services load their models at start-up; fetching is quick once they are there.
"$PODWISE_ROOT/scripts/fetch-models.sh"
# The TTS service runs espeak-ng (GPL, so it is a separate program, never linked in).
ensure_programs "the TTS service speaks Mandarin and phonemises English with it" \
    "${PODWISE_TTS_ESPEAK:-espeak-ng}=espeak-ng"

if [[ -n $profile_flag ]]; then
    export PODWISE_PROFILE=$profile_flag
fi

# Ingestion and training need an operator key; a laptop gets one without any setup.
key_file=""
if [[ -z ${PODWISE_OPERATOR_KEYS:-} ]] && ! grep -qs '^PODWISE_OPERATOR_KEYS=.' .env; then
    key_file=${PODWISE_DATA_DIR:-$PODWISE_ROOT/data}/operator-key
    if [[ ! -s $key_file ]]; then
        mkdir -p "$(dirname "$key_file")"
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$key_file")
        say "made an operator API key for ingestion and training: $key_file"
    fi
    PODWISE_OPERATOR_KEYS=$(<"$key_file")
    export PODWISE_OPERATOR_KEYS
fi

started=()
cleanup_on_failure() {
    say "start-up failed; stopping what was started"
    for service in "${started[@]}"; do
        if pid_is_ours "$run_dir/$service.pid"; then
            kill -TERM "$(<"$run_dir/$service.pid")" 2>/dev/null || true
        fi
        rm -f "$run_dir/$service.pid"
    done
}
trap cleanup_on_failure ERR INT TERM

for service in "${PODWISE_SERVICES[@]}"; do
    binary=$bin_dir/podwise-$service
    [[ -x $binary ]] || die "$binary is missing; build with 'cargo build --workspace --bins'"
    say "starting $service on port $(service_port "$service") (log: $log_dir/$service.log)"
    "$binary" >>"$log_dir/$service.log" 2>&1 &
    echo $! >"$run_dir/$service.pid"
    started+=("$service")
done

deadline=$((SECONDS + timeout))
for service in "${PODWISE_SERVICES[@]}"; do
    port=$(service_port "$service")
    while true; do
        if ! pid_is_ours "$run_dir/$service.pid"; then
            say "$service exited during start-up; last lines of its log:"
            tail -n 20 "$log_dir/$service.log" >&2
            false
        fi
        curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
        if ((SECONDS > deadline)); then
            say "$service did not answer /health within ${timeout}s"
            false
        fi
        sleep 0.2
    done
done
trap - ERR INT TERM

api_port=$(service_port gateway)
say "all six services are healthy"
cat <<MSG
Podwise is running.
  Web UI and API:   http://localhost:$api_port/
  Readiness:        http://localhost:$api_port/ready
  Service health:   http://localhost:{$(service_port rag),$(service_port ml),$(service_port tts),$(service_port stt),$(service_port llm)}/health
  Logs:             $log_dir/<service>.log
  Stop:             scripts/stop-all-services.sh
MSG
if [[ -n $key_file ]]; then
    echo "  Operator key:     $key_file (send it as 'Authorization: Bearer <key>')"
fi
