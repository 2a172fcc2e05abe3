"""The source distribution holds everything a platform wheel is built from, and nothing built."""
from __future__ import annotations

import subprocess
import sys
import tarfile

import pytest

from conftest import ROOT


def _tracked(*patterns: str) -> set[str]:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--", *patterns], capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout ({listed.stderr.strip()}): nothing to compare the sdist with")
    return set(listed.stdout.split())


@pytest.fixture(scope="module")
def sdist_files(tmp_path_factory) -> set[str]:
    """The file list of `python -m build --sdist --no-isolation`, without the top folder."""
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (archive,) = out.glob("microinterp-*.tar.gz")
    with tarfile.open(archive) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


def test_sdist_holds_kernel_sources_headers_and_build_files(sdist_files):
    kernels = _tracked("kernels/*.pyx", "kernels/*.pxd", "kernels/*.pxi", "kernels/*.h")
    assert kernels and kernels <= sdist_files, f"missing from the sdist: {sorted(kernels - sdist_files)}"
    assert {"setup.py", "pyproject.toml", "MANIFEST.in", "README.md"} <= sdist_files


def test_sdist_holds_every_package_module_and_bundled_model(sdist_files):
    wanted = _tracked("microinterp/*.py", "reference_models/*.tflite", "reference_models/make_models.py")
    assert wanted <= sdist_files, f"missing from the sdist: {sorted(wanted - sdist_files)}"


def test_sdist_holds_the_test_suite(sdist_files):
    wanted = _tracked("tests/*.py")
    assert wanted <= sdist_files, f"missing from the sdist: {sorted(wanted - sdist_files)}"


def test_sdist_holds_nothing_built(sdist_files):
    built = sorted(name for name in sdist_files if name.endswith((".so", ".c", ".pyc", ".o")))
    assert not built, f"build products in the sdist: {built}"
