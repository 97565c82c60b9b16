"""What the tests of the operations scripts share: a tally of named checks, a stand-in
program (for kubectl) written into a scratch folder, and a run of a script that records
the stand-in's calls, with the calling shell's own Podwise settings kept out."""

import os
import subprocess
import sys


class Checks:
    """Named expectations: each one that fails is printed as it happens."""

    def __init__(self):
        self.results = []

    def expect(self, condition, what):
        self.results.append(bool(condition))
        if not condition:
            print(f"FAILED: {what}", file=sys.stderr)

    def finish(self):
        """Prints `N passed, N failed` and gives the exit status: 1 on any failure."""
        passed = sum(self.results)
        print(f"{passed} passed, {len(self.results) - passed} failed", file=sys.stderr)
        return 0 if all(self.results) else 1


def write_program(folder, name, text):
    """Writes an executable script NAME into FOLDER and gives its path."""
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(path, 0o755)
    return path


def run_recorded(command, env, timeout, calls=None, without=lambda name: False):
    """Runs COMMAND and gives its result with the lines the stand-in appended to the file
    CALLS meanwhile (none without CALLS). The environment is this one's, less every
    PODWISE_ setting and every name WITHOUT picks (a developer's own, which must not steer
    the run), plus ENV."""
    if calls and os.path.exists(calls):
        os.remove(calls)
    full = {
        k: v for k, v in os.environ.items() if not k.startswith("PODWISE_") and not without(k)
    }
    full.update(env)
    done = subprocess.run(
        command, env=full, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout, check=False,
    )
    made = open(calls, encoding="utf-8").read() if calls and os.path.exists(calls) else ""
    return done, made
