"""Cold-start cost of each Lambda: the import time of its entry module and its app, over
`import boto3` alone, measured side by side in one run (fresh interpreters, interleaved, median
of N). The goal of issue 7: under 100 ms over boto3 for every function.

    .venv/bin/python bench/coldstart.py [--runs 7]

Each function's Lambda imports `roost.cloud.aws.lambda_entry` and its own app (ROOST_APPS), so
one line per app covers every function of that app. A second column adds building the runtime
(the adapters and their boto3 clients), which a cold start also pays before the first call.
"""

from __future__ import annotations

import argparse
import pkgutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _util import table

BASE = "import boto3"
ENTRY = "import roost.cloud.aws.lambda_entry"
RUNTIME = ("from roost.cloud.aws.runtime import aws_runtime; "
           "aws_runtime(env={{'ROOST_APPS': '{apps}', 'ROOST_SECRET': 'x' * 32}})")


def _seconds(code: str) -> float:
    """Wall time of running `code` in a fresh interpreter, minus the interpreter's own start."""
    timer = ("import time; t = time.perf_counter(); " + code +
             "; print(time.perf_counter() - t)")
    env_code = subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True,
                              check=True, env={"AWS_DEFAULT_REGION": "eu-central-1",
                                               "AWS_ACCESS_KEY_ID": "x",
                                               "AWS_SECRET_ACCESS_KEY": "x",
                                               "PATH": "/usr/bin:/bin"})
    return float(env_code.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    import roost.apps

    apps = sorted(m.name for m in pkgutil.iter_modules(roost.apps.__path__) if m.ispkg)
    modules = [f"roost.apps.{a}" for a in apps] + ["roost.host.auth", "roost.host.admin"]
    cases = {"boto3 alone": BASE, "entry only": f"{BASE}; {ENTRY}"}
    for m in modules:
        cases[m] = f"{BASE}; {ENTRY}; import {m}"
    samples: dict[str, list[float]] = {name: [] for name in cases}
    built: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(runs):  # interleaved, so load on the machine hits every case alike
        for name, code in cases.items():
            samples[name].append(_seconds(code))
        for m in modules:
            built[m].append(_seconds(f"{BASE}; {RUNTIME.format(apps=m)}"))
    base = statistics.median(samples["boto3 alone"])
    rows = []
    for name in cases:
        med = statistics.median(samples[name])
        over = (med - base) * 1000
        with_runtime = (statistics.median(built[name]) - base) * 1000 if name in built else None
        verdict = "" if name == "boto3 alone" else ("ok" if over < 100 else "OVER 100 ms")
        rows.append([name, f"{med * 1000:.0f}", f"{over:+.0f}",
                     "" if with_runtime is None else f"{with_runtime:+.0f}", verdict])
    print(f"Lambda cold start: import time over `import boto3` (median of {runs} fresh "
          f"interpreters, interleaved; Python {sys.version.split()[0]})")
    print(table(rows, ["module(s)", "ms", "over boto3 ms", "+ runtime built ms", "goal <100"]))


if __name__ == "__main__":
    main()
