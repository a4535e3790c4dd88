"""`roost deploy package`: the Lambda code package the template's `CodeUri` points to — roost and
its dependencies installed for Lambda's Linux (arm64 by default) and Python, zipped.

pip does the work (`--target`, `--platform`, `--only-binary`): it fetches the wheels built for
that platform, so the package is right whatever machine builds it. Two details matter:

- **Every manylinux tag Lambda's Linux can run.** pip takes `--platform` literally: given only
  `manylinux2014_aarch64` (glibc 2.17) it refuses a wheel tagged `manylinux_2_28_aarch64`,
  though Lambda's Amazon Linux 2023 (glibc 2.34) runs it — which is how `pillow==13.0.0`, whose
  aarch64 wheels are all 2.28, looked as if it had no wheel. `platforms()` lists every tag from
  2.17 up to the runtime's glibc.
- **Bytecode.** Lambda's code folder is read-only, so a package without `__pycache__` compiles
  every module it imports on every cold start (boto3, pydantic and an app: ~1.3 s on top of the
  imports). The package holds `.pyc` files made by an interpreter of the target Python,
  hash-based and unchecked (zip timestamps are two-second DOS times, which would fail a
  timestamp check on the source), when one is found (`python3.13` on the PATH, or this one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


class PackageError(RuntimeError):
    """pip could not build the package (typically: a pinned dependency has no wheel for
    Lambda's platform and Python)."""


ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}
LAMBDA_PYTHON = "3.13"  # the template's runtime
GLIBC = {"3.12": 34, "3.13": 34, "3.14": 34}
"""glibc 2.x of each Lambda Python runtime: Amazon Linux 2023 (2.34) from python3.12 on;
python3.9-3.11 run on Amazon Linux 2 (2.26), the default below."""
OLDEST_GLIBC = 17  # manylinux2014


def platforms(arch: str, python: str = LAMBDA_PYTHON) -> list[str]:
    """pip `--platform` tags for Lambda's `arch` and `python`, newest glibc first."""
    if arch not in ARCHES:
        raise ValueError(f"arch is one of {sorted(ARCHES)}")
    machine = ARCHES[arch]
    newest = GLIBC.get(python, 26)
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, OLDEST_GLIBC - 1, -1)]
    return [*tags, f"manylinux2014_{machine}"]  # the legacy name of 2.17, used by older wheels


def project_root() -> Path:
    """The folder holding roost's pyproject.toml (the package is built from the source)."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").exists():
            return folder
    raise FileNotFoundError("roost's pyproject.toml was not found above " + str(here))


def interpreter(python: str) -> str | None:
    """An interpreter of Python `python` ("3.13") to compile with: this one if it is that
    version, else `python3.13` on the PATH if it says it is; None if there is none."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    found = shutil.which(f"python{python}")
    if found is None:
        return None
    said = subprocess.run([found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=False)
    return found if said.returncode == 0 and said.stdout.strip() == python else None


def compile_bytecode(folder: Path, python_exe: str) -> None:
    """`.pyc` files for every module under `folder`, unchecked-hash based (see the module).
    A file that does not compile (a Python 2 leftover in some package) keeps its source only."""
    subprocess.run([python_exe, "-m", "compileall", "-q", "-q", "-j", "0",
                    "--invalidation-mode", "unchecked-hash", str(folder)],
                   capture_output=True, check=False)


def build_package(
    out: Path, *, arch: str = "arm64", python: str = LAMBDA_PYTHON, deps: bool = True,
    source: Path | None = None, bytecode: bool = True,
) -> Path:
    """Install roost (and, unless `deps=False`, its dependencies) for Lambda into a fresh
    folder, compile it for `python` when an interpreter of that version is found (and
    `bytecode`), and zip it to `out`. Returns `out`; `bytecode_python(out)` says whether it
    holds bytecode."""
    tags = platforms(arch, python)
    source = source or project_root()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="roost-lambda-") as tmp:
        target = Path(tmp) / "python"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                   "--target", str(target), str(source)]
        if deps:
            command += [arg for tag in tags for arg in ("--platform", tag)]
            command += ["--implementation", "cp", "--python-version", python,
                        "--only-binary=:all:"]
        else:
            command.append("--no-deps")
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise PackageError(f"pip could not install roost for Lambda ({tags[0]} or older, "
                               f"Python {python}): " + ("; ".join(errors) or done.stderr[-500:]))
        for junk in target.glob("*.dist-info/RECORD"):
            junk.unlink()  # absolute build paths; not needed to import
        shutil.rmtree(target / "bin", ignore_errors=True)
        compiler = interpreter(python) if bytecode else None
        if compiler is not None:
            compile_bytecode(target, compiler)
        tag = f".cpython-{python.replace('.', '')}.pyc"
        partial = out.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(target.rglob("*")):
                if path.is_file() and ("__pycache__" not in path.parts
                                       or path.name.endswith(tag)):
                    zf.write(path, path.relative_to(target).as_posix())
        partial.replace(out)
    return out


def bytecode_python(package: Path) -> str | None:
    """The Python version ("3.13") whose bytecode `package` holds, or None if it holds none."""
    with zipfile.ZipFile(package) as zf:
        for name in zf.namelist():
            if name.startswith("roost/") and name.endswith(".pyc"):
                version = name.rsplit(".cpython-", 1)[1].removesuffix(".pyc")
                return f"{version[0]}.{version[1:]}"
    return None
