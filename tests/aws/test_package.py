"""`roost deploy package`: the platform tags pip is given, the bytecode a cold start needs, and
the real default build (arm64, Python 3.13, every pinned dependency fetched from the index)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from roost.cloud.aws.package import (
    ARCHES,
    build_package,
    bytecode_python,
    platforms,
    project_root,
)

PILLOW_13_ARM = "pillow-13.0.0-cp313-cp313-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl"
"""The only aarch64 CPython 3.13 wheel pillow 13.0.0 has on PyPI."""
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def _accepts(platform_tags: list[str], wheel: str, python: tuple[int, int] = (3, 13)) -> bool:
    """Whether pip, given these `--platform` tags, would take `wheel` (the same tag logic)."""
    accepted: set[Tag] = {*cpython_tags(python, platforms=platform_tags),
                          *compatible_tags(python, platforms=platform_tags)}
    return bool(parse_wheel_filename(wheel)[3] & accepted)


def test_the_package_is_built_from_this_source_tree():
    root = project_root()
    assert (root / "pyproject.toml").exists() and (root / "src" / "roost").is_dir()


def test_an_unknown_architecture_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="arch"):
        build_package(tmp_path / "x.zip", arch="sparc")
    assert not (tmp_path / "x.zip").exists()
    assert set(ARCHES) == {"arm64", "x86_64"}


def test_pip_is_given_every_manylinux_tag_lambdas_linux_runs():
    """pip takes `--platform` literally: `manylinux2014_aarch64` alone refused pillow 13's
    2.28 wheel, which Lambda's Amazon Linux 2023 (glibc 2.34) runs."""
    assert not _accepts(["manylinux2014_aarch64"], PILLOW_13_ARM), "the old, too narrow list"
    tags = platforms("arm64", "3.13")
    assert _accepts(tags, PILLOW_13_ARM)
    assert tags[0] == "manylinux_2_34_aarch64" and "manylinux2014_aarch64" in tags
    assert "manylinux_2_17_aarch64" in tags and "manylinux_2_35_aarch64" not in tags
    assert not _accepts(tags, PILLOW_13_ARM.replace("2_28", "2_39").replace("2_27", "2_39"))
    assert platforms("x86_64", "3.12")[0] == "manylinux_2_34_x86_64"
    assert platforms("arm64", "3.11")[0] == "manylinux_2_26_aarch64", "Amazon Linux 2"


def test_the_package_holds_bytecode_that_runs_without_its_source_being_checked(tmp_path):
    """Lambda's code folder is read-only: without `.pyc` in the package every cold start
    compiles every module. The bytecode is unchecked-hash based, so it is used as it is even
    when the source's time stamp (a zip's) or content differs: here the source is replaced and
    the import still runs the compiled module."""
    built = build_package(tmp_path / "roost.zip", python=HERE, deps=False)
    assert bytecode_python(built) == HERE
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "task")
    tag = f"cpython-{HERE.replace('.', '')}"
    assert f"roost/cloud/aws/__pycache__/lambda_entry.{tag}.pyc" in names
    assert not [n for n in names if "__pycache__" in n and tag not in n]
    (tmp_path / "task" / "roost" / "cloud" / "ids.py").write_text("raise SystemExit(3)\n")
    ran = subprocess.run(
        [sys.executable, "-S", "-B", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import roost.cloud.ids as ids; print(len(ids.new_id()))", str(tmp_path / "task")],
        capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.strip() == "26", ran.stderr


def test_without_an_interpreter_of_the_target_python_the_package_has_no_bytecode(tmp_path):
    built = build_package(tmp_path / "roost.zip", python="3.99", deps=False)
    assert bytecode_python(built) is None
    with zipfile.ZipFile(built) as zf:
        assert "roost/cloud/ids.py" in zf.namelist()


@pytest.mark.slow
def test_the_default_package_builds_for_arm64_and_python_3_13(tmp_path):
    """What `roost deploy package` does by default: every pinned dependency has a wheel for
    Lambda's arm64 Linux and Python 3.13 (pip names the one that does not)."""
    built = build_package(tmp_path / "roost-lambda.zip", bytecode=False)
    with zipfile.ZipFile(built) as zf:
        names = set(zf.namelist())
    assert "roost/cloud/aws/lambda_entry.py" in names
    assert any(n.startswith("PIL/_imaging.cpython-313-aarch64-linux-gnu") for n in names)
    assert any(n.startswith("pydantic_core/_pydantic_core.cpython-313-aarch64") for n in names)
