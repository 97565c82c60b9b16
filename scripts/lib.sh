# Shared helpers for the scripts in this folder; sourced, never run on its own.
# shellcheck shell=bash

# Absolute path of the repository root.
PODWISE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PODWISE_ROOT

# The six services: name, binary, and the variable that holds its port.
# shellcheck disable=SC2034 # read by the scripts that source this file
PODWISE_SERVICES=(llm stt tts rag ml gateway)

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "$*"; exit 1; }

# The port a service listens on, from the same variables the services read.
service_port() {
    case "$1" in
        gateway) echo "${API_PORT:-8000}" ;;
        rag) echo "${RAG_PORT:-8001}" ;;
        ml) echo "${ML_PORT:-8002}" ;;
        tts) echo "${TTS_PORT:-8003}" ;;
        stt) echo "${STT_PORT:-8004}" ;;
        llm) echo "${LLM_PORT:-8005}" ;;
        *) die "unknown service $1" ;;
    esac
}

# True when the PID in FILE is alive and still a Podwise binary (not a recycled PID).
pid_is_ours() {
    local file=$1 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'podwise-'
}

# Installs the Debian package of each missing program, given as PROGRAM=PACKAGE pairs
# after a first word that says what needs them. Does nothing (and needs no network) when
# all are on the PATH; installing needs root.
ensure_programs() {
    local why=$1 pair missing=()
    shift
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
    done
    ((${#missing[@]} == 0)) && return 0
    if ((EUID != 0)); then
        die "${missing[*]} missing; installing needs root: sudo $0, or apt-get install ${missing[*]}"
    fi
    say "installing ${missing[*]} ($why)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null || die "${pair%%=*} is still missing after installing it"
    done
    say "installed ${missing[*]}"
}

# True when the PID in FILE is alive and still the demo loader, scripts/build-demo.sh.
demo_is_loading() {
    local file=$1 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'build-demo\.sh'
}

# The first operator key the services accept: from PODWISE_OPERATOR_KEYS, else from the
# .env file they read (PODWISE_DOTENV), else the one the start script made in
# PODWISE_DATA_DIR/operator-key. Prints nothing when there is none.
first_operator_key() {
    local keys=${PODWISE_OPERATOR_KEYS:-} dotenv=${PODWISE_DOTENV:-$PODWISE_ROOT/.env}
    local key_file=${PODWISE_DATA_DIR:-$PODWISE_ROOT/data}/operator-key
    if [[ -z $keys && -f $dotenv ]]; then
        keys=$(sed -n 's/^PODWISE_OPERATOR_KEYS=//p' "$dotenv" | tail -n 1 | tr -d "\"'")
    fi
    if [[ -z $keys && -s $key_file ]]; then
        keys=$(<"$key_file")
    fi
    printf '%s' "${keys%%,*}"
}

# Makes the virtual environment VENV (once) and installs the pinned requirements given
# after it, unless the same pins went in before, so a second run needs no network.
# Creating one needs python3-venv, installed with apt when missing (as root).
ensure_python_venv() {
    local venv=$1 began=$SECONDS
    shift
    local marker=$venv/.podwise-pins
    [[ -f $marker && $(<"$marker") == "$*" ]] && return 0
    if [[ ! -x $venv/bin/python ]]; then
        say "creating the virtual environment $venv"
        mkdir -p "$(dirname "$venv")"
        if ! python3 -m venv "$venv" >&2; then
            ((EUID == 0)) || die "python3 cannot create a virtual environment; install python3-venv"
            say "installing python3-venv with apt"
            rm -rf "$venv"
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
            python3 -m venv "$venv" >&2
        fi
    fi
    say "installing $* into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    printf '%s' "$*" >"$marker"
    say "installed in $((SECONDS - began)) s"
}
