#!/usr/bin/env bash
# Checks that the four stores can be reached with the settings the services use: TCP
# first, then one real round trip of each store's protocol (PostgreSQL, MongoDB, S3,
# Milvus). Prints one line per store, with the reason when it fails.
#
# Settings come from the environment and ./.env, exactly as the services read them, so
# this works against a cluster's stores from a laptop (with .env), against the local
# dev servers (eval "$(scripts/dev-services.sh env)" first), and inside a pod, where
# the image's podwise-check-stores binary is on the PATH.
#
# Where kubectl reaches a cluster, it then also lists the services and endpoints of the
# namespace (a Service without endpoints has no ready pod), resolves every service and
# store name from inside the gateway pod (the cluster DNS as the services see it), and
# runs the store checker inside the rag pod, the one service that uses all four stores.
# The exit status is non-zero if any check failed.
#
# Parameters (environment):
#   PODWISE_CHECK_BIN   the checker binary to run (podwise-check-stores on the PATH,
#                       else built here with cargo)
#   PODWISE_PROFILE     cluster (the default here) or embedded
#   PODWISE_K8S_CHECK   auto (the cluster checks when kubectl reaches a cluster), on
#                       (fail without one) or off
#   PODWISE_NAMESPACE   the namespace (podwise)
#   PODWISE_KUBECTL     the kubectl to run (kubectl on the PATH)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

# The point is to reach the servers: check the cluster stores unless told otherwise.
export PODWISE_PROFILE=${PODWISE_PROFILE:-cluster}
k8s_check=${PODWISE_K8S_CHECK:-auto}
namespace=${PODWISE_NAMESPACE:-podwise}
kubectl=${PODWISE_KUBECTL:-kubectl}
[[ $k8s_check =~ ^(auto|on|off)$ ]] || die "PODWISE_K8S_CHECK must be auto, on or off"

checker=${PODWISE_CHECK_BIN:-$(command -v podwise-check-stores || true)}
if [[ -z $checker ]]; then
    say "building the store checker"
    cd "$PODWISE_ROOT"
    cargo build --quiet -p podwise-common --bin podwise-check-stores \
        --features catalog,documents,objects,vectors
    checker=${CARGO_TARGET_DIR:-$PODWISE_ROOT/target}/debug/podwise-check-stores
fi

status=0
"$checker" || status=1

[[ $k8s_check == off ]] && exit "$status"
if ! command -v "$kubectl" >/dev/null ||
    ! "$kubectl" version --request-timeout=5s >/dev/null 2>&1; then
    [[ $k8s_check == on ]] && die "kubectl reaches no cluster (PODWISE_K8S_CHECK=on)"
    say "kubectl reaches no cluster: skipping the in-cluster checks"
    exit "$status"
fi

k() { "$kubectl" -n "$namespace" --request-timeout=20s "$@"; }

say "services and endpoints in namespace $namespace"
k get services,endpointslices -o wide || status=1
ready_endpoints='{range .items[*].endpoints[?(@.conditions.ready==true)]}x{end}'
for service in "${PODWISE_SERVICES[@]}"; do
    ready=$(k get endpointslices -l "kubernetes.io/service-name=$service" \
        -o jsonpath="$ready_endpoints" 2>/dev/null || true)
    if [[ -z $ready ]]; then
        say "FAILED: service $service has no ready endpoint"
        status=1
    fi
done

# getent is in every image (glibc); it asks the resolver exactly as the services do.
names=()
for service in "${PODWISE_SERVICES[@]}"; do names+=("$service.$namespace.svc.cluster.local"); done
for store in POSTGRES MONGO MILVUS MINIO; do
    host_variable=${store}_HOST
    names+=("$(k get configmap -l app.kubernetes.io/name=podwise-config \
        -o jsonpath="{.items[0].data.$host_variable}" 2>/dev/null || true)")
done
say "resolving ${#names[@]} names from inside the gateway pod"
for name in "${names[@]}"; do
    [[ -n $name ]] || continue
    if address=$(k exec deploy/gateway -c gateway -- getent hosts "$name" 2>/dev/null); then
        printf '%-48s %s\n' "$name" "${address%% *}"
    else
        say "FAILED: $name does not resolve inside the cluster"
        status=1
    fi
done

say "reaching the stores from inside the rag pod"
k exec deploy/rag -c rag -- podwise-check-stores || status=1
exit "$status"
