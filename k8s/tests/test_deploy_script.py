"""Runs scripts/deploy-backend-to-k8s.sh against a stand-in for kubectl and checks what
an operator relies on: the images are re-pointed to the registry and tag asked for, the
rendering is kept, it refuses to deploy without the Secret, it applies, waits for the
model Job and every Deployment, checks the gateway's /health and /ready, and prints a
rollback line per Deployment with the revision that ran before, on success and failure.

Usage: python3 k8s/tests/test_deploy_script.py scripts/deploy-backend-to-k8s.sh KUBECTL

KUBECTL is a real kubectl; the stand-in hands `kustomize` to it and answers the cluster
calls itself, serving the gateway's health routes on the port-forward's local port.
Prints `N passed, N failed` and exits 1 on any failure.
"""

import glob
import os
import socket
import sys
import tempfile

from script_harness import Checks, run_recorded, write_program

STAND_IN = r"""#!/usr/bin/env bash
# Stands in for kubectl: records each call, hands kustomize to the real one.
echo "$*" >> "$FAKE_DIR/calls"
case $1 in kustomize) exec "$REAL_KUBECTL" "$@" ;; version) exit 0 ;; esac
args=" $* "
case $args in
    *" get secret podwise-secrets "*) [[ -z ${FAKE_NO_SECRET:-} ]]; exit ;;
    *" get deployment/"*) echo 7; exit 0 ;;
    *" get job fetch-models "*) echo Complete; exit 0 ;;
    *" apply "*) cat >/dev/null < "${@: -1}"; echo configured; exit 0 ;;
    *" port-forward "*)
        port=${@: -1}; port=${port%%:*}
        exec python3 - "$port" "${FAKE_READY:-ok}" <<'PY'
import http.server, sys
port, ready = int(sys.argv[1]), sys.argv[2]
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/health" else ('{"status":"%s"}' % ready).encode()
        self.send_response(200 if ready == "ok" or self.path == "/health" else 503)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
PY
        ;;
esac
exit 0
"""

SERVICES = ("gateway", "rag", "ml", "tts", "stt", "llm")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    script, real_kubectl = os.path.abspath(sys.argv[1]), sys.argv[2]
    checks = Checks()
    expect = checks.expect

    with tempfile.TemporaryDirectory() as scratch:
        stand_in = write_program(scratch, "kubectl", STAND_IN)
        deploy_dir = os.path.join(scratch, "deploy")
        calls = os.path.join(scratch, "calls")

        forwarded = []

        def run(*args, **env):
            forwarded.append(free_port())
            env = {
                "PODWISE_KUBECTL": stand_in,
                "REAL_KUBECTL": real_kubectl,
                "FAKE_DIR": scratch,
                "PODWISE_DEPLOY_DIR": deploy_dir,
                "PODWISE_FORWARD_PORT": str(forwarded[-1]),
                **env,
            }
            return run_recorded(["bash", script, *args], env, timeout=120, calls=calls)

        dry, made = run(
            "prod", "--dry-run", PODWISE_IMAGE_REGISTRY="reg.test/pw", PODWISE_IMAGE_TAG="abc1"
        )
        expect(dry.returncode == 0, f"a dry run succeeds: {dry.stderr}")
        kept = sorted(glob.glob(os.path.join(deploy_dir, "prod-*.yaml")))
        expect(len(kept) == 1, "the dry run keeps its rendering")
        rendered = open(kept[-1], encoding="utf-8").read() if kept else ""
        images = {
            line.split("image:", 1)[1].strip()
            for line in rendered.splitlines()
            if "image:" in line
        }
        expected = {f"reg.test/pw/podwise-{n}:abc1" for n in SERVICES + ("models",)}
        expect(images == expected, f"every image is re-pointed: {sorted(images)}")
        expect("apply --dry-run=server" in made, "a dry run only asks the API server")
        expect(" wait " not in made, "a dry run waits for nothing")

        no_secret, made = run("dev", FAKE_NO_SECRET="1")
        expect(no_secret.returncode != 0, "no deployment without the Secret")
        expect("setup-k8s-env.sh" in no_secret.stderr, "the missing Secret points at the setup")
        expect("apply" not in made, "nothing is applied without the Secret")

        deployed, made = run("dev")
        printed = deployed.stdout + deployed.stderr
        expect(deployed.returncode == 0, f"a deployment succeeds: {deployed.stderr}")
        expect("delete job fetch-models" in made, "the finished fetch Job is deleted first")
        expect(
            made.find("delete job fetch-models") < made.find("apply -f"),
            "the Job is deleted before the apply",
        )
        expect("wait --for=condition=complete job/fetch-models" in made, "it waits for the Job")
        for name in SERVICES:
            expect(f"rollout status deployment/{name}" in made, f"it waits for {name}")
            expect(
                f"rollout undo deployment/{name} --to-revision=7" in printed,
                f"it prints how to roll {name} back to the revision before",
            )
        expect('"status":"ok"' in deployed.stdout, "it shows the gateway's readiness")
        expect(not listening(forwarded[-1]), "the port-forward is stopped at exit")

        unready, _ = run("dev", FAKE_READY="degraded")
        expect(unready.returncode != 0, "a gateway that is not ready fails the deployment")
        expect(
            "not ready" in unready.stderr and "rollout undo deployment/gateway" in unready.stderr,
            "a failed deployment says why and how to roll back",
        )
        expect(not listening(forwarded[-1]), "a failed run stops its port-forward too")
        expect(
            "apply -f " + kept[-1] not in unready.stderr if kept else True,
            "the previous rendering offered is of the same overlay",
        )

    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
