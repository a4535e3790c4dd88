"""The long fuzz: tests/proof/test_fuzz.py with many more examples per route, every caller that
passes a route's gate fuzzed in depth, fresh random examples each run and failures shrunk to
their smallest form. CI runs the same file bounded (4 examples, derandomised).

    .venv/bin/python bench/fuzz.py [examples_per_route_and_caller]   # default 25
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    examples = sys.argv[1] if len(sys.argv) > 1 else "25"
    env = {**os.environ, "ROOST_FUZZ_EXAMPLES": examples}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-o", "addopts=", "--timeout=3600", "tests/proof/test_fuzz.py"],
                            cwd=ROOT, env=env)
    took = time.perf_counter() - started
    print(f"\nfuzz: {examples} examples per route and caller, {took:.0f} s, "
          f"{'no failures' if result.returncode == 0 else 'FAILURES (above)'}")
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
