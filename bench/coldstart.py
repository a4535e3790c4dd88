"""Cold-start cost of each Lambda, measured side by side in one run (fresh interpreters,
interleaved, median of N), over `import boto3` alone. The goal of issue 7: under 100 ms over
boto3 for every function.

    .venv/bin/python bench/coldstart.py [--runs 7] [--function-runs 3] [--per-function] [--cpu]

A Lambda of an app's route, handler or schedule imports `roost.cloud.aws.lambda_entry`; its
first call builds the runtime (`lambda_entry.runtime()`): the app imported (its models' builds
deferred) and the adapters made. The columns:

- **over boto3**: the entry and the app imported as the Lambda imports it — the goal's figure;
- **+ runtime built**: `lambda_entry.runtime()` from the template's variables;
- **+ first call, median / slowest**: per function, the runtime and what its first call adds
  before the function's own code runs: a route's pydantic validators (its body, query, path
  and response types and the models in them) and, unless it is public, PyJWT to check the
  caller's token; a handler's or schedule's Powertools batch processor. The median over the
  app's Lambda functions and the slowest (`--per-function` lists each).

The web pages' Lambda (`roost.host.aws_web`: the host's FastAPI app with every app, behind
Mangum) is one more line: its import, and its handler built as its first request builds it.

A second table: the libraries functions import when they need them, and what each adds to the
first call of a function that does (a mail handler, an upload, a signed-in request, ...). The
first-call columns include PyJWT and Powertools, not the others (they depend on what the call does).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _util import table

BASE = "import boto3"
ENTRY = "import roost.cloud.aws.lambda_entry as entry"
IMPORT = "with entry.deferred_model_builds(): import {module}"
RUNTIME = "rt = entry.runtime()"
FIRST_CALL = """
import inspect, typing
from pydantic import BaseModel
def models(tp, seen):
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        if tp not in seen:
            seen.add(tp)
            for f in tp.model_fields.values():
                models(f.annotation, seen)
    for arg in typing.get_args(tp):
        models(arg, seen)
    return seen
fn = rt.function({name!r})
if fn.kind == "route":
    v = entry.validators(fn)
    for adapter in (v.body, v.response, *v.path.values()):
        if adapter is not None:
            adapter.rebuild()
    for model in models(tuple[fn.body_model, fn.query_model, fn.response_model], set()):
        model.model_rebuild()
    if "public" not in fn.roles:
        import jwt  # the caller's token is checked
else:  # what handle_sqs imports for its first batch
    from aws_lambda_powertools.utilities.batch import BatchProcessor
"""
WEB = "web pages (aws_web)"
WEB_IMPORT = "import roost.host.aws_web as web"
WEB_BUILT = """
from roost.cloud.aws.runtime import aws_runtime
from roost.host.bootstrap import installed_apps
web.make_handler(aws_runtime(apps=installed_apps(None)))  # what web.handler does first
"""
MODULES = ["roost.apps.desks", "roost.apps.images", "roost.apps.rooms", "roost.host.auth",
           "roost.host.admin"]
LAMBDA_KINDS = ("route", "handler", "schedule")  # pages are the web Lambda's (roost.host.aws_web)
LIBRARIES = {
    "icalendar": ("icalendar", "rooms' and desks' mail handlers, rooms' calendar feed"),
    "Pillow": ("PIL.Image", "images: upload, processing, render"),
    "pydantic-settings": ("pydantic_settings", "desks and images: a function reading a setting"),
    "PyJWT + cryptography": ("jwt", "every signed-in request (its token checked)"),
    "email-validator": ("email_validator", "auth: a sign-in (the address normalised)"),
    "argon2-cffi": ("argon2", "auth: a password sign-in or sign-up"),
    "structlog": ("structlog", "images' processing handler and purge (their logs)"),
    "Powertools batch": ("aws_lambda_powertools.utilities.batch", "every SQS handler"),
}


def _seconds(code: str, env: dict[str, str], clock: str = "perf_counter") -> float:
    """Time of running `code` in a fresh interpreter, minus the interpreter's own start: wall
    (`perf_counter`) or the process's CPU (`process_time`, steadier on a busy machine)."""
    timer = f"import time\nt = time.{clock}()\n{code}\nprint(time.{clock}() - t)"
    done = subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True,
                          env=env)
    if done.returncode != 0:
        raise SystemExit(f"failed:\n{code}\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _env(module: str) -> dict[str, str]:
    """What the template gives every function's Lambda (no Cognito: Roost's own identity)."""
    return {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin:/bin", "ROOST_APPS": module,
            "ROOST_SECRET": "x" * 32, "ROOST_TABLE_PREFIX": "roost_", "ROOST_BUCKET": "b",
            "ROOST_MAIL_SENDER": "roost@example.com", "HOME": os.environ.get("HOME", "/tmp")}


def _lambda_functions() -> dict[str, list[str]]:
    """module -> the names of its functions that are Lambdas of their own."""
    import importlib

    out = {}
    for module in MODULES:
        app = importlib.import_module(module).app
        out[module] = [f.name for f in app.functions() if f.kind in LAMBDA_KINDS]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--function-runs", type=int, default=3,
                        help="fresh interpreters per function for the first-call columns")
    parser.add_argument("--per-function", action="store_true", help="list every function")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU time of each interpreter, not wall time (a busy machine)")
    args = parser.parse_args()
    clock = "process_time" if args.cpu else "perf_counter"
    functions = _lambda_functions()
    env0 = _env("")
    cases = {"boto3 alone": (BASE, env0), "entry only": (f"{BASE}\n{ENTRY}", env0)}
    for m in MODULES:
        cases[m] = (f"{BASE}\n{ENTRY}\n{IMPORT.format(module=m)}", _env(m))
    cases[WEB] = (f"{BASE}\n{WEB_IMPORT}", env0)
    built = {m: (f"{BASE}\n{ENTRY}\n{RUNTIME}", _env(m)) for m in MODULES}
    built[WEB] = (f"{BASE}\n{WEB_IMPORT}\n{WEB_BUILT}", env0)
    first = {(m, name): (f"{BASE}\n{ENTRY}\n{RUNTIME}\n{FIRST_CALL.format(name=name)}",
                         _env(m)) for m in MODULES for name in functions[m]}
    libs = {label: (f"{BASE}\n{ENTRY}\nimport {mod}", env0)
            for label, (mod, _) in LIBRARIES.items()}
    samples: dict[object, list[float]] = {}
    for r in range(max(args.runs, args.function_runs)):  # interleaved: load hits all alike
        todo = {**cases, **{("built", m): c for m, c in built.items()},
                **{("lib", k): c for k, c in libs.items()}} if r < args.runs else {}
        if r < args.function_runs:
            todo.update(first)
        for key, (code, env) in todo.items():
            samples.setdefault(key, []).append(_seconds(code, env, clock))

    def ms(key: object, minus: object = "boto3 alone") -> float:
        return (statistics.median(samples[key]) - statistics.median(samples[minus])) * 1000

    rows = []
    for name in cases:
        over = ms(name)
        row = [name, f"{statistics.median(samples[name]) * 1000:.0f}", f"{over:+.0f}"]
        if name in MODULES:
            firsts = sorted((ms((name, f)), f) for f in functions[name])
            row += [f"{ms(('built', name)):+.0f}",
                    f"{statistics.median(t for t, _ in firsts):+.0f}",
                    f"{firsts[-1][0]:+.0f} ({firsts[-1][1].split('.', 1)[1]})"]
        elif name == WEB:
            row += [f"{ms(('built', name)):+.0f}", "", ""]
        else:
            row += ["", "", ""]
        row.append("" if name == "boto3 alone" else ("ok" if over < 100 else "OVER 100 ms"))
        rows.append(row)
    print(f"Lambda cold start over `import boto3`, {'CPU' if args.cpu else 'wall'} ms (median "
          f"of {args.runs} fresh interpreters, {args.function_runs} per function, interleaved; "
          f"Python {sys.version.split()[0]})")
    print(table(rows, ["module(s)", "ms", "over boto3 ms", "+ runtime built ms",
                       "+ first call: median", "slowest", "goal <100"]))
    print("\nLibraries imported on first use, over the entry alone (median of "
          f"{args.runs}):")
    print(table([[label, f"{ms(('lib', label), 'entry only'):+.0f}", LIBRARIES[label][1]]
                 for label in LIBRARIES], ["library", "ms", "paid by the first call of"]))
    if args.per_function:
        print("\nPer function, + first call over boto3:")
        print(table([[f, f"{ms((m, f)):+.0f}"] for m in MODULES for f in functions[m]],
                    ["function", "ms"]))


if __name__ == "__main__":
    main()
