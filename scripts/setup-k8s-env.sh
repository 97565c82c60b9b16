#!/usr/bin/env bash
# Prepares a cluster for Podwise and this machine for talking to it:
#   1. writes PODWISE_ENV_FILE (./.env) for the cluster profile from .env.example: every
#      setting keeps its value from the environment, else from the .env already there,
#      else the example's; each <placeholder> must get a value (from the environment, the
#      existing .env, or typed at the terminal without echo), and PODWISE_OPERATOR_KEYS is
#      made at random when none is given;
#   2. creates the namespace and the Secret podwise-secrets with kubectl, from the keys
#      listed in k8s/podwise-secrets.template.yaml (the non-secret settings are in the
#      ConfigMap that the overlays render from k8s/base/config.env).
# No secret is ever printed or put on a command line: kubectl reads them from a file only
# this user can read, deleted at exit. Running it again updates both in place.
#
# Usage: setup-k8s-env.sh [--dry-run] [--no-kubectl] [--help]
#   --dry-run     write the .env, then only show what kubectl would create (no cluster)
#   --no-kubectl  write the .env and stop
#
# Parameters (environment):
#   PODWISE_ENV_FILE      the file to write (./.env)
#   PODWISE_NAMESPACE     the namespace (podwise)
#   PODWISE_KUBECTL       the kubectl to run (kubectl on the PATH)
#   any setting of .env.example, such as POSTGRES_PASSWORD or MINIO_HOST
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

dry_run=false
use_kubectl=true
for arg in "$@"; do
    case $arg in
        --dry-run) dry_run=true ;;
        --no-kubectl) use_kubectl=false ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

cd "$PODWISE_ROOT"
env_file=${PODWISE_ENV_FILE:-$PODWISE_ROOT/.env}
namespace=${PODWISE_NAMESPACE:-podwise}
kubectl=${PODWISE_KUBECTL:-kubectl}
example=$PODWISE_ROOT/.env.example
template=$PODWISE_ROOT/k8s/podwise-secrets.template.yaml
[[ -f $example ]] || die "$example is missing"
if $use_kubectl && ! command -v "$kubectl" >/dev/null; then
    die "$kubectl is not on the PATH (set PODWISE_KUBECTL, or pass --no-kubectl)"
fi

# The Secret's keys, and which of them must have a value.
secret_keys=()
required_keys=()
while read -r key kind; do
    secret_keys+=("$key")
    [[ $kind == required ]] && required_keys+=("$key")
done < <(sed -n 's/^  \([A-Z0-9_]*\): "<placeholder>" # \(required\|optional\)$/\1 \2/p' \
    "$template")
((${#secret_keys[@]})) || die "$template lists no keys"

# Values the existing .env holds, so a second run keeps what the first was given.
declare -A previous=()
if [[ -f $env_file ]]; then
    while IFS= read -r line; do
        [[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || continue
        name=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        if [[ $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        previous[$name]=$value
    done <"$env_file"
fi

is_secret() {
    local key
    for key in "${secret_keys[@]}"; do [[ $key == "$1" ]] && return 0; done
    return 1
}

# The value of setting NAME: the environment, then the existing .env, then FALLBACK.
value_of() {
    local name=$1 fallback=$2
    if [[ -n ${!name:-} ]]; then
        printf '%s' "${!name}"
    elif [[ -n ${previous[$name]:-} && ${previous[$name]} != *"<placeholder>"* ]]; then
        printf '%s' "${previous[$name]}"
    else
        printf '%s' "$fallback"
    fi
}

ask() {
    local name=$1 answer
    [[ -t 0 ]] || return 1
    read -r -s -p "$name: " answer </dev/tty
    echo >&2
    [[ -n $answer ]] || return 1
    printf '%s' "$answer"
}

# dotenvy reads a plain value as it is; anything else goes in single quotes, which it reads
# literally, so a value may not hold a single quote or a line break.
env_line() {
    local name=$1 value=$2
    if [[ $value == *"'"* || $value == *$'\n'* ]]; then
        die "$name holds a single quote or a line break, which a .env cannot carry"
    fi
    if [[ $value =~ ^[A-Za-z0-9_./:@,+=%-]*$ ]]; then
        printf '%s=%s\n' "$name" "$value"
    else
        printf "%s='%s'\n" "$name" "$value"
    fi
}

declare -A chosen=()
missing=()
written=$(mktemp "$env_file.XXXXXX")
secrets_file=$(mktemp)
trap 'rm -f "$written" "$secrets_file"' EXIT
chmod 600 "$written" "$secrets_file"

while IFS= read -r line; do
    commented=false
    if [[ $line =~ ^#\ ([A-Z][A-Z0-9_]*)=(.*)$ ]]; then
        commented=true
    elif [[ ! $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]]; then
        printf '%s\n' "$line" >>"$written"
        continue
    fi
    name=${BASH_REMATCH[1]}
    example_value=${BASH_REMATCH[2]}
    [[ $name == PODWISE_PROFILE ]] && example_value=cluster
    value=$(value_of "$name" "$example_value")
    if $commented && [[ $value == "$example_value" ]]; then
        # An optional setting nobody gave a value: it stays an example.
        printf '%s\n' "$line" >>"$written"
        continue
    fi
    if [[ $value == *"<placeholder>"* ]]; then
        value=$(ask "$name") || { missing+=("$name"); continue; }
    fi
    chosen[$name]=$value
    env_line "$name" "$value" >>"$written"
done <"$example"

# Secret keys that .env.example keeps commented out (the operator keys) or lacks.
for key in "${secret_keys[@]}"; do
    [[ -n ${chosen[$key]:-} ]] && continue
    value=$(value_of "$key" "")
    if [[ -z $value && $key == PODWISE_OPERATOR_KEYS ]]; then
        value=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
        say "made an operator API key (PODWISE_OPERATOR_KEYS in $env_file)"
    fi
    [[ -n $value ]] || continue
    chosen[$key]=$value
    env_line "$key" "$value" >>"$written"
done

for key in "${required_keys[@]}"; do
    if [[ -z ${chosen[$key]:-} ]] && [[ " ${missing[*]} " != *" $key "* ]]; then
        missing+=("$key")
    fi
done
if ((${#missing[@]})); then
    die "no value for ${missing[*]}: set them in the environment or $env_file," \
        "or run this at a terminal"
fi
mv "$written" "$env_file"
say "wrote $env_file (cluster profile, readable only by $(id -un))"

$use_kubectl || exit 0

for key in "${secret_keys[@]}"; do
    if [[ -n ${chosen[$key]:-} ]] && is_secret "$key"; then
        printf '%s=%s\n' "$key" "${chosen[$key]}" >>"$secrets_file"
    fi
done

if $dry_run; then
    say "dry run: what kubectl would create"
    "$kubectl" create namespace "$namespace" --dry-run=client -o name
    "$kubectl" -n "$namespace" create secret generic podwise-secrets \
        --from-env-file="$secrets_file" --dry-run=client -o name
    exit 0
fi

say "creating namespace $namespace (if missing)"
"$kubectl" create namespace "$namespace" --dry-run=client -o yaml | "$kubectl" apply -f - >&2
say "creating or updating secret podwise-secrets ($(wc -l <"$secrets_file") keys)"
# Only the object's name comes back from apply; the values stay in the pipe.
"$kubectl" -n "$namespace" create secret generic podwise-secrets \
    --from-env-file="$secrets_file" --dry-run=client -o yaml |
    "$kubectl" apply -f - -o name >&2
say "next: scripts/deploy-backend-to-k8s.sh"
