"""The package declares every directory it installs: building it prints no setuptools warning."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from testkit.server import REPO

pytestmark = pytest.mark.timeout(180)


def test_every_importable_directory_of_the_install_is_a_declared_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(config["packages"])
    where = {name: REPO / path for name, path in config["package-dir"].items()}
    missing = []
    for package in packages:
        root = where.get(package, REPO / package.replace(".", "/"))
        for sub in root.rglob("*"):
            rel = sub.relative_to(root).parts
            # setuptools warns about a directory Python could import as a package (a name)
            if sub.is_dir() and all(part.isidentifier() and part != "__pycache__" for part in rel):
                name = ".".join((package, *rel))
                if name not in packages:
                    missing.append(name)
    assert not missing, f"not in pyproject.toml's packages: {sorted(set(missing))}"


def test_building_the_package_prints_no_would_be_ignored_warning(tmp_path: Path):
    source = tmp_path / "mpscope"
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "build", "*.egg-info")
    )
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path / "dist"),
         str(source)],
        capture_output=True, text=True, cwd=tmp_path, timeout=170,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    said = build.stdout + build.stderr
    assert "would be ignored" not in said.lower(), said[said.lower().index("would be ignored") - 400 :][:1500]
