"""`roost deploy package`: what can be checked without fetching every wheel (building the full
package downloads them for Lambda's platform: see docs/deploy.md)."""

from __future__ import annotations

import pytest

from roost.cloud.aws.package import PLATFORMS, build_package, project_root


def test_the_package_is_built_from_this_source_tree():
    root = project_root()
    assert (root / "pyproject.toml").exists() and (root / "src" / "roost").is_dir()


def test_an_unknown_architecture_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="arch"):
        build_package(tmp_path / "x.zip", arch="sparc")
    assert not (tmp_path / "x.zip").exists()
    assert set(PLATFORMS) == {"arm64", "x86_64"}
