"""mpscope as a package: installed in a fresh venv, the ``mpscope`` command serves the page from anywhere."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from pathlib import Path

import pytest

from testkit.server import REPO, RUNNING_AT
from testkit.waiting import wait_for

pytestmark = pytest.mark.timeout(180)


def test_runtime_dependencies_are_apart_from_the_test_tools():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert "flask" in runtime and "psutil" in runtime
    for tool in ("pytest", "playwright", "ruff", "hypothesis"):
        assert tool not in runtime
        assert any(tool in dep for dep in project["optional-dependencies"]["dev"])
    assert project["scripts"]["mpscope"] == "webapp.__main__:console_main"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with mpscope installed from a copy of the repository (dependencies from ours)."""
    root = tmp_path_factory.mktemp("package")
    source = root / "mpscope"
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "build", "*.egg-info")
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # the dependencies come from the test environment: this test is about our package, not PyPI
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    target = ["--python", str(venv / "bin" / "python")]
    # one pip: it builds the wheel (isolated, as `pip wheel` would) and installs it
    subprocess.run([*pip, *target, "install", "--quiet", "--no-deps", str(source)],
                   check=True, cwd=root, capture_output=True)  # fmt: skip
    shutil.rmtree(source)  # nothing may be read from the source tree any more
    return venv


def test_the_mpscope_command_serves_the_dashboard_from_any_directory(installed: Path, tmp_path: Path):
    out = tmp_path / "out"
    with open(out, "wb") as sink:
        command = [str(installed / "bin" / "mpscope"), "--port", "0"]
        proc = subprocess.Popen(command, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = wait_for(
            lambda: (m := RUNNING_AT.search(out.read_text())) and m.group(1), 30, "mpscope to print its URL"
        )
        for path in ("/", "/labs", "/static/js/app.js", "/static/js/program.js", "/static/css/app.css"):
            with urllib.request.urlopen(url + path, timeout=10) as response:
                assert response.status == 200, path
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0


def test_mpscope_run_works_from_the_installed_package(installed: Path, tmp_path: Path):
    (tmp_path / "hello.py").write_text(
        "import multiprocessing as mp\n"
        "def child():\n    print('from the child')\n"
        "if __name__ == '__main__':\n"
        "    p = mp.Process(target=child); p.start(); p.join(); raise SystemExit(5)\n"
    )
    done = subprocess.run(
        [str(installed / "bin" / "mpscope"), "run", "--port", "0", "--exit-with-program", "hello.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert "from the child" in done.stdout
