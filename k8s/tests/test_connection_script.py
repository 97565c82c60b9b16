"""Runs scripts/test-k8s-connection.sh against a stand-in for kubectl and checks its
in-cluster part: with every endpoint ready and every name resolving it passes and lists
the addresses; a Service without a ready endpoint, a name the cluster DNS does not know, or
a store the rag pod cannot reach fails it by name; without a cluster it skips (auto) or
fails (on); with PODWISE_K8S_CHECK=off it never calls kubectl. The local store checker is
replaced by `true` (the stores themselves are tested by scripts/test.sh).

Usage: python3 k8s/tests/test_connection_script.py scripts/test-k8s-connection.sh

Prints `N passed, N failed` and exits 1 on any failure.
"""

import os
import sys
import tempfile

from script_harness import Checks, run_recorded, write_program

STAND_IN = r"""#!/usr/bin/env bash
# Stands in for kubectl: records each call and answers like a small healthy cluster,
# except where FAKE_* says otherwise.
echo "$*" >> "$FAKE_DIR/calls"
args=" $* "
case $args in
    *" version "*) [[ -z ${FAKE_NO_CLUSTER:-} ]]; exit ;;
    *" get services,endpointslices "*) echo "NAME  TYPE  CLUSTER-IP"; exit 0 ;;
    *" kubernetes.io/service-name=${FAKE_UNREADY:-none} "*) exit 0 ;;
    *" get endpointslices "*) echo x; exit 0 ;;
    *" get configmap "*)
        host=${args##*data.}; host=${host%%\}*}
        case $host in
            POSTGRES_HOST) echo postgres.podwise.svc.cluster.local ;;
            MONGO_HOST) echo mongodb.podwise.svc.cluster.local ;;
            MILVUS_HOST) echo milvus.podwise.svc.cluster.local ;;
            MINIO_HOST) echo minio.podwise.svc.cluster.local ;;
        esac
        exit 0 ;;
    *" getent hosts ${FAKE_UNRESOLVED:-none} "*) exit 2 ;;
    *" getent hosts "*) echo "10.0.0.9       ${args##*hosts }"; exit 0 ;;
    *" podwise-check-stores "*) [[ -z ${FAKE_STORE_DOWN:-} ]]; exit ;;
esac
exit 0
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    script = os.path.abspath(sys.argv[1])
    checks = Checks()
    expect = checks.expect

    with tempfile.TemporaryDirectory() as scratch:
        stand_in = write_program(scratch, "kubectl", STAND_IN)
        calls = os.path.join(scratch, "calls")

        def run(**env):
            env = {
                "PODWISE_KUBECTL": stand_in, "PODWISE_CHECK_BIN": "true", "FAKE_DIR": scratch,
                **env,
            }
            return run_recorded(["bash", script], env, timeout=60, calls=calls)

        healthy, made = run()
        expect(healthy.returncode == 0, f"a healthy cluster passes: {healthy.stderr}")
        for name in ("gateway.podwise.svc.cluster.local", "milvus.podwise.svc.cluster.local"):
            expect(name in healthy.stdout, f"{name} is resolved and listed")
        expect("exec deploy/rag -c rag -- podwise-check-stores" in made,
               "the stores are reached from inside the rag pod")

        unready, _ = run(FAKE_UNREADY="stt")
        expect(unready.returncode != 0, "a Service without a ready endpoint fails the check")
        expect("service stt has no ready endpoint" in unready.stderr, "and is named")

        unresolved, _ = run(FAKE_UNRESOLVED="mongodb.podwise.svc.cluster.local")
        expect(unresolved.returncode != 0, "a name the cluster cannot resolve fails the check")
        expect("mongodb.podwise.svc.cluster.local does not resolve" in unresolved.stderr,
               "and is named")

        store_down, _ = run(FAKE_STORE_DOWN="1")
        expect(store_down.returncode != 0, "a store the rag pod cannot reach fails the check")

        skipped, _ = run(FAKE_NO_CLUSTER="1")
        expect(skipped.returncode == 0 and "skipping" in skipped.stderr,
               "without a cluster the in-cluster checks are skipped")
        required, _ = run(FAKE_NO_CLUSTER="1", PODWISE_K8S_CHECK="on")
        expect(required.returncode != 0, "without a cluster PODWISE_K8S_CHECK=on fails")

        off, made = run(PODWISE_K8S_CHECK="off")
        expect(off.returncode == 0 and made == "", "PODWISE_K8S_CHECK=off never calls kubectl")

    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
