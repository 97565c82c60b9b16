#!/usr/bin/env bash
# Checks the deployment files offline, with no cluster and no container engine:
#   1. renders every kustomize overlay under k8s/overlays with kubectl kustomize;
#   2. validates each rendering, and the Secret template, against the JSON schemas of
#      Kubernetes PODWISE_K8S_VERSION (kubernetes-validate ships them; strict: unknown
#      fields are errors, and so is a kind it has no schema for);
#   3. asserts the hardening and consistency rules on each rendering
#      (k8s/tests/check_manifests.py: probes, limits, non-root, read-only root, ports that
#      match the settings' defaults, autoscalers, budgets, network policy, no RBAC) and
#      proves every rule can fail by breaking the rendering one way at a time
#      (k8s/tests/test_check_manifests.py);
#   4. renders k8s/monitoring (ServiceMonitors, whose schema is the Prometheus Operator's
#      and not checked here, and the Grafana dashboard), and checks that every metric the
#      dashboard queries is recorded in the Rust sources;
#   5. runs setup-k8s-env.sh with kubectl replaced by a recorder and checks the .env and
#      Secret it makes, and that no secret reaches its output; runs deploy-backend-to-k8s.sh
#      against a stand-in cluster and checks images, order, health checks and rollback;
#      and test-k8s-connection.sh's in-cluster checks against a stand-in too;
#   6. lints every script with ShellCheck and every Dockerfile with hadolint.
# Each failure names the file, object and field; the exit status is non-zero if any check
# failed. The tools come from scripts/install-deploy-tools.sh (a network only on first use).
#
# Parameters (environment):
#   PODWISE_K8S_VERSION   Kubernetes version the schemas are for (1.37.0)
#   PODWISE_TOOLS_DIR     where the tools are installed (~/.cache/podwise/tools)
#   PODWISE_CHECK_OUT     keep the renderings in this directory (a temporary one, removed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

cd "$PODWISE_ROOT"
k8s_version=${PODWISE_K8S_VERSION:-1.37.0}
tools=$("$PODWISE_ROOT/scripts/install-deploy-tools.sh")
# The project's pinned tools win over any other kubectl on the PATH.
PATH=$tools:$PATH
out=${PODWISE_CHECK_OUT:-}
if [[ -z $out ]]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

failures=()
failed() {
    say "FAILED: $*"
    failures+=("$*")
}

# kubernetes-validate only warns about a kind it has no schema for; here that is an error,
# since such an object would be unchecked, unless the kind is named as the second argument.
validate() {
    local file=$1 unchecked_kind=${2:-} report
    if ! report=$(kubernetes-validate --strict --quiet -k "$k8s_version" "$file" 2>&1); then
        printf '%s\n' "$report" >&2
        return 1
    fi
    if grep "Couldn't find schema" <<<"$report" |
        grep -qv "for kind ${unchecked_kind:-<none>} with"; then
        printf '%s\n' "$report" >&2
        return 1
    fi
}

for overlay in k8s/overlays/*/; do
    overlay=${overlay%/}
    name=$(basename "$overlay")
    rendered=$out/$name.yaml
    say "rendering $overlay"
    if ! kubectl kustomize "$overlay" >"$rendered"; then
        failed "kubectl kustomize $overlay"
        continue
    fi
    say "validating $name against the Kubernetes $k8s_version schemas"
    validate "$rendered" || failed "$overlay does not match the Kubernetes $k8s_version schemas"
    say "asserting the hardening rules on $name"
    python k8s/tests/check_manifests.py "$rendered" || failed "$overlay breaks a hardening rule"
    say "proving each rule can fail on $name"
    python k8s/tests/test_check_manifests.py "$rendered" >&2 ||
        failed "a broken $overlay went unnoticed by k8s/tests/check_manifests.py"
done

say "rendering and validating k8s/monitoring"
if kubectl kustomize k8s/monitoring >"$out/monitoring.yaml"; then
    validate "$out/monitoring.yaml" ServiceMonitor ||
        failed "k8s/monitoring does not match the Kubernetes $k8s_version schemas"
else
    failed "kubectl kustomize k8s/monitoring"
fi
say "checking the dashboard queries only metrics the services record"
python scripts/check-dashboard-metrics.py k8s/monitoring/grafana-dashboard.json \
    --sources crates || failed "k8s/monitoring/grafana-dashboard.json queries unknown metrics"

say "validating the Secret template"
validate k8s/podwise-secrets.template.yaml ||
    failed "k8s/podwise-secrets.template.yaml does not match the schemas"

say "checking setup-k8s-env.sh writes the .env and Secret and prints no secret"
python k8s/tests/test_setup_env.py scripts/setup-k8s-env.sh ||
    failed "scripts/setup-k8s-env.sh"

say "checking deploy-backend-to-k8s.sh against a stand-in cluster"
python k8s/tests/test_deploy_script.py scripts/deploy-backend-to-k8s.sh "$tools/kubectl" ||
    failed "scripts/deploy-backend-to-k8s.sh"

say "checking test-k8s-connection.sh's in-cluster part against a stand-in cluster"
python k8s/tests/test_connection_script.py scripts/test-k8s-connection.sh ||
    failed "scripts/test-k8s-connection.sh"

say "linting the scripts with ShellCheck $(shellcheck --version | sed -n 's/^version: //p')"
shellcheck scripts/*.sh || failed "shellcheck scripts/*.sh"

say "linting the Dockerfiles with hadolint"
hadolint --config .hadolint.yaml docker/*Dockerfile || failed "hadolint docker/*Dockerfile"

if ((${#failures[@]})); then
    say "${#failures[@]} check(s) failed:"
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
say "the deployment files pass every check"
