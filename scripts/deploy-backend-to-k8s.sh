#!/usr/bin/env bash
# Deploys the Podwise backend to a cluster with kubectl:
#   1. renders the chosen overlay of k8s/overlays (dev or prod), with the images
#      PODWISE_IMAGE_REGISTRY and PODWISE_IMAGE_TAG name when set, and keeps the rendering
#      under PODWISE_DEPLOY_DIR;
#   2. checks the Secret podwise-secrets exists (scripts/setup-k8s-env.sh makes it) and
#      notes each Deployment's current revision;
#   3. applies the rendering, after deleting a finished model fetch Job (a Job cannot be
#      changed, and a rerun of it keeps the files already fetched);
#   4. waits for the fetch Job and for every Deployment's rollout;
#   5. checks the gateway's /health and /ready (which asks every service) through a
#      port-forward;
# and prints how to roll back, whether it succeeded or not.
#
# Usage: deploy-backend-to-k8s.sh [dev|prod] [--dry-run] [--help]
#   --dry-run   render and have the API server validate the objects (apply
#               --dry-run=server); nothing changes
#
# Parameters (environment):
#   PODWISE_OVERLAY          the overlay when none is given (dev)
#   PODWISE_NAMESPACE        the namespace the overlays use (podwise)
#   PODWISE_KUBECTL          the kubectl to run (kubectl on the PATH)
#   PODWISE_IMAGE_REGISTRY   registry of the images, e.g. registry.example.com/podwise
#   PODWISE_IMAGE_TAG        tag of the images, e.g. what scripts/build-images.sh built
#   PODWISE_DEPLOY_DIR       where renderings are kept (./.run/deploy)
#   PODWISE_ROLLOUT_TIMEOUT  how long the Job and each rollout may take (10m)
#   PODWISE_FORWARD_PORT     local port of the health-check port-forward (18080)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

overlay=${PODWISE_OVERLAY:-dev}
dry_run=false
for arg in "$@"; do
    case $arg in
        --dry-run) dry_run=true ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; exit 2 ;;
        *) overlay=$arg ;;
    esac
done

cd "$PODWISE_ROOT"
namespace=${PODWISE_NAMESPACE:-podwise}
kubectl=${PODWISE_KUBECTL:-kubectl}
registry=${PODWISE_IMAGE_REGISTRY:-}
tag=${PODWISE_IMAGE_TAG:-}
deploy_dir=${PODWISE_DEPLOY_DIR:-$PODWISE_ROOT/.run/deploy}
timeout=${PODWISE_ROLLOUT_TIMEOUT:-10m}
forward_port=${PODWISE_FORWARD_PORT:-18080}
overlay_dir=$PODWISE_ROOT/k8s/overlays/$overlay
if [[ ! -f $overlay_dir/kustomization.yaml ]]; then
    die "no overlay '$overlay'; k8s/overlays has:" \
        "$(find k8s/overlays -mindepth 1 -maxdepth 1 -type d -printf '%f ')"
fi
command -v "$kubectl" >/dev/null || die "$kubectl is not on the PATH (set PODWISE_KUBECTL)"
command -v curl >/dev/null || die "curl is needed for the health checks"
"$kubectl" version --request-timeout=10s >/dev/null 2>&1 ||
    die "kubectl reaches no cluster: check the current context ($kubectl config current-context)"

k() { "$kubectl" -n "$namespace" "$@"; }

scratch=$(mktemp -d)
forward_pid=""
cleanup() {
    if [[ -n $forward_pid ]]; then
        kill "$forward_pid" 2>/dev/null || true
        wait "$forward_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

mkdir -p "$deploy_dir"
rendered=$deploy_dir/$overlay-$(date -u +%Y%m%dT%H%M%SZ).yaml
say "rendering k8s/overlays/$overlay"
"$kubectl" kustomize "$overlay_dir" >"$scratch/overlay.yaml"
if [[ -n $registry || -n $tag ]]; then
    # Re-point every image the overlay names, whatever registry and tag it gave them.
    {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources: [overlay.yaml]"
        echo "images:"
        sed -n 's/^ *-\{0,1\} *image: *//p' "$scratch/overlay.yaml" | sed 's/:[^/:]*$//' |
            sort -u | while read -r image; do
                name=${image##*/}
                new_name=${registry:+$registry/$name}
                echo "  - name: $image"
                echo "    newName: ${new_name:-$image}"
                [[ -n $tag ]] && echo "    newTag: \"$tag\""
            done
    } >"$scratch/kustomization.yaml"
    "$kubectl" kustomize "$scratch" >"$rendered"
else
    cp "$scratch/overlay.yaml" "$rendered"
fi
say "rendered $(grep -c '^kind:' "$rendered") objects into $rendered; images:"
sed -n 's/^ *-\{0,1\} *image: *//p' "$rendered" | sort -u | sed 's/^/  /' >&2

if ! k get secret podwise-secrets >/dev/null 2>&1; then
    die "secret podwise-secrets is missing in namespace $namespace: run scripts/setup-k8s-env.sh"
fi

deployments=$(sed -n '/^kind: Deployment$/,/^spec:/s/^  name: //p' "$rendered")
declare -A revision=()
for name in $deployments; do
    revision[$name]=$(k get "deployment/$name" \
        -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}' 2>/dev/null ||
        true)
done
previous=$(find "$deploy_dir" -name "$overlay-*.yaml" ! -path "$rendered" | sort | tail -n1)

rollback_help() {
    echo "To roll back:"
    local name any=false
    for name in $deployments; do
        if [[ -n ${revision[$name]} ]]; then
            printf '  %s -n %s rollout undo deployment/%s --to-revision=%s\n' \
                "$kubectl" "$namespace" "$name" "${revision[$name]}"
            any=true
        fi
    done
    if [[ -n $previous ]]; then
        echo "  or apply the previous rendering, ConfigMap included: $kubectl apply -f $previous"
    fi
    $any || echo "  (a first deployment) remove it: $kubectl delete -f $rendered"
}

if $dry_run; then
    say "dry run: the API server validates the objects, nothing changes"
    "$kubectl" apply --dry-run=server -f "$rendered" >&2
    exit 0
fi

failed() {
    say "FAILED: $*"
    rollback_help >&2
    exit 1
}

finished=$(k get job fetch-models \
    -o jsonpath='{.status.conditions[?(@.status=="True")].type}' 2>/dev/null || true)
if [[ $finished == *Complete* || $finished == *Failed* ]]; then
    say "deleting the finished model fetch Job so the new one can run"
    k delete job fetch-models --wait=true >&2
fi

say "applying"
"$kubectl" apply -f "$rendered" >&2 || failed "kubectl apply"

say "waiting for the model fetch Job (up to $timeout)"
k wait --for=condition=complete job/fetch-models --timeout="$timeout" >&2 ||
    failed "the model fetch Job did not complete: $kubectl -n $namespace logs job/fetch-models"
for name in $deployments; do
    say "waiting for deployment/$name"
    k rollout status "deployment/$name" --timeout="$timeout" >&2 ||
        failed "deployment/$name did not roll out: $kubectl -n $namespace describe deployment/$name"
done

say "checking the gateway's /health and /ready through a port-forward"
# Started directly (not through k) so that $! is kubectl itself, which cleanup stops.
"$kubectl" -n "$namespace" port-forward service/gateway "$forward_port:8000" \
    >"$scratch/forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$forward_port/health" 2>/dev/null && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$forward_port/health" >/dev/null ||
    failed "the gateway does not answer /health: $(<"$scratch/forward.log")"
ready=$(curl -sS "http://127.0.0.1:$forward_port/ready" || true)
[[ $ready == *'"status":"ok"'* ]] || failed "the gateway is not ready: $ready"
echo "gateway /ready: $ready"

say "deployed k8s/overlays/$overlay to namespace $namespace"
rollback_help
