"""`roost deploy package`: the Lambda code package the template's `CodeUri` points to — roost and
its dependencies installed for Lambda's Linux (arm64 by default) and Python, zipped.

pip does the work (`--target`, `--platform`, `--only-binary`): it fetches the wheels built for
that platform, so the package is right whatever machine builds it.
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


PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
LAMBDA_PYTHON = "3.13"  # the template's runtime


def project_root() -> Path:
    """The folder holding roost's pyproject.toml (the package is built from the source)."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").exists():
            return folder
    raise FileNotFoundError("roost's pyproject.toml was not found above " + str(here))


def build_package(
    out: Path, *, arch: str = "arm64", python: str = LAMBDA_PYTHON, deps: bool = True,
    source: Path | None = None,
) -> Path:
    """Install roost (and, unless `deps=False`, its dependencies) for Lambda into a fresh
    folder and zip it to `out`. Returns `out`."""
    if arch not in PLATFORMS:
        raise ValueError(f"arch is one of {sorted(PLATFORMS)}")
    source = source or project_root()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="roost-lambda-") as tmp:
        target = Path(tmp) / "python"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
                   "--target", str(target), str(source)]
        if deps:
            command += ["--platform", PLATFORMS[arch], "--implementation", "cp",
                        "--python-version", python, "--only-binary=:all:"]
        else:
            command.append("--no-deps")
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise PackageError("pip could not install roost for Lambda "
                               f"({PLATFORMS[arch]}, Python {python}): "
                               + ("; ".join(errors) or done.stderr[-500:]))
        for junk in target.glob("*.dist-info/RECORD"):
            junk.unlink()  # absolute build paths; not needed to import
        shutil.rmtree(target / "bin", ignore_errors=True)
        partial = out.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in sorted(target.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(target).as_posix())
        partial.replace(out)
    return out
