#!/usr/bin/env bash
# Stops the services that scripts/start-all-services.sh started, by their PID files:
# SIGTERM first (each service drains in-flight requests), SIGKILL after a grace period.
# A demo loader still running in the background is stopped first; loading the demo again
# later carries on where it stopped.
#
# Parameters (environment):
#   PODWISE_RUN_DIR        where the PID files are (./.run)
#   PODWISE_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (30)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

run_dir=${PODWISE_RUN_DIR:-$PODWISE_ROOT/.run}
timeout=${PODWISE_STOP_TIMEOUT:-30}

if demo_is_loading "$run_dir/demo.pid"; then
    say "stopping the demo loader (PID $(<"$run_dir/demo.pid"))"
    kill -TERM "$(<"$run_dir/demo.pid")" 2>/dev/null || true
fi
rm -f "$run_dir/demo.pid"

stopping=()
for service in "${PODWISE_SERVICES[@]}"; do
    file=$run_dir/$service.pid
    if pid_is_ours "$file"; then
        say "stopping $service (PID $(<"$file"))"
        kill -TERM "$(<"$file")" 2>/dev/null || true
        stopping+=("$service")
    else
        rm -f "$file"
    fi
done

deadline=$((SECONDS + timeout))
for service in "${stopping[@]}"; do
    file=$run_dir/$service.pid
    while pid_is_ours "$file"; do
        if ((SECONDS > deadline)); then
            say "$service did not stop within ${timeout}s; killing it"
            kill -KILL "$(<"$file")" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$file"
done
say "stopped ${#stopping[@]} service(s)"
