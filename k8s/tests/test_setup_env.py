"""Runs scripts/setup-k8s-env.sh in a scratch directory and checks what an operator relies
on: the .env it writes has the cluster profile, every credential and only this user may
read it; a second run keeps the values; the Secret it hands kubectl holds exactly the
template's keys that have a value; a missing credential is named; and no secret value ever
appears in anything it prints.

Usage: python3 k8s/tests/test_setup_env.py scripts/setup-k8s-env.sh

kubectl is replaced by a recorder that keeps the --from-env-file it is given, so no
cluster is needed. Prints `N passed, N failed` and exits 1 on any failure.
"""

import os
import re
import stat
import sys
import tempfile

from script_harness import Checks, run_recorded, write_program

SECRETS = {
    "POSTGRES_PASSWORD": "pg pass#1 with spaces",
    "MONGO_PASSWORD": "mongo-SECRET-7731",
    "MINIO_ACCESS_KEY": "access-SECRET-0042",
    "MINIO_SECRET_KEY": "secret$SECRET&9913",
}

RECORDER = """#!/usr/bin/env bash
# Stands in for kubectl: keeps the env file a Secret would be made from, and reads what
# it is piped, as apply does.
[[ " $* " == *" apply "* ]] && cat >/dev/null
for arg in "$@"; do
    case $arg in --from-env-file=*) cp "${arg#--from-env-file=}" "$RECORDED_SECRET" ;; esac
done
for arg in "$@"; do
    case $arg in namespace) echo namespace/podwise; exit 0 ;; esac
done
echo secret/podwise-secrets
"""


def template_keys(script):
    """The Secret's keys, as setup-k8s-env.sh reads them from the template."""
    root = os.path.dirname(os.path.dirname(script))
    template = os.path.join(root, "k8s", "podwise-secrets.template.yaml")
    text = open(template, encoding="utf-8").read()
    return set(re.findall(r'^  ([A-Z0-9_]+): "<placeholder>"', text, re.MULTILINE))


def run(script, scratch, extra_env, *args):
    env = {
        "PODWISE_ENV_FILE": os.path.join(scratch, ".env"),
        "PODWISE_KUBECTL": os.path.join(scratch, "kubectl"),
        "RECORDED_SECRET": os.path.join(scratch, "secret.env"),
        **extra_env,
    }
    # Credentials of the calling shell (a developer's own) must not leak into the runs.
    keys = template_keys(script)
    done, _ = run_recorded(["bash", script, *args], env, timeout=60, without=keys.__contains__)
    return done


def env_values(path):
    values = {}
    for line in open(path, encoding="utf-8"):
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.rstrip("\n"))
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            values[match.group(1)] = value
    return values


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    script = os.path.abspath(sys.argv[1])
    checks = Checks()
    expect = checks.expect

    with tempfile.TemporaryDirectory() as scratch:
        write_program(scratch, "kubectl", RECORDER)
        env_file = os.path.join(scratch, ".env")

        first = run(script, scratch, SECRETS)
        printed = first.stdout + first.stderr
        expect(first.returncode == 0, f"a run with every credential succeeds: {printed}")
        expect(
            not any(value in printed for value in SECRETS.values()),
            "no credential appears in the output",
        )
        if first.returncode != 0:
            return checks.finish()
        mode = stat.S_IMODE(os.stat(env_file).st_mode)
        expect(mode == 0o600, f"the .env is readable only by its owner (mode {mode:o})")
        written = env_values(env_file)
        expect(written.get("PODWISE_PROFILE") == "cluster", "the .env selects the cluster profile")
        expect(
            all(written.get(k) == v for k, v in SECRETS.items()),
            "the .env holds every credential as given",
        )
        key = written.get("PODWISE_OPERATOR_KEYS", "")
        expect(len(key) >= 16, "an operator key of at least 16 characters is made")
        expect(key not in printed, "the operator key made is not printed")
        expect(
            "<placeholder>" not in "".join(f"{k}={v}" for k, v in written.items()),
            "no placeholder is left in a setting",
        )
        secret = env_values(os.path.join(scratch, "secret.env"))
        expect(
            set(secret) == set(SECRETS) | {"PODWISE_OPERATOR_KEYS"},
            f"the Secret holds exactly the credentials given, not {sorted(secret)}",
        )
        expect(
            all(secret.get(k) == v for k, v in SECRETS.items()),
            "the Secret's values are the credentials, unquoted",
        )

        again = run(script, scratch, {})
        expect(again.returncode == 0, f"a second run needs no input: {again.stderr}")
        kept = env_values(env_file)
        expect(
            all(kept.get(k) == v for k, v in SECRETS.items())
            and kept.get("PODWISE_OPERATOR_KEYS") == key,
            "a second run keeps every credential and the operator key",
        )

        os.remove(env_file)
        partial = {k: v for k, v in SECRETS.items() if k != "MINIO_SECRET_KEY"}
        missing = run(script, scratch, partial, "--no-kubectl")
        expect(missing.returncode != 0, "a missing credential fails the run")
        expect("MINIO_SECRET_KEY" in missing.stderr, "the missing credential is named")
        expect(not os.path.exists(env_file), "no .env is written when one is missing")
        expect(
            not any(value in missing.stdout + missing.stderr for value in SECRETS.values()),
            "a failed run prints no credential either",
        )
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
