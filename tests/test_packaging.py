"""The wheel holds every module and data file of the source tree (an editable install hides any it leaves
out; CI also installs the wheel into a fresh venv: .ci/check_wheel.sh)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source folder -> where its files land in the wheel (pyproject.toml: [tool.setuptools.packages.find])
PACKAGE_ROOTS = {
    "gfcore": "gfcore",
    "cli/gfp": "gfp",
    **{
        f"plugins/{p.name}": p.name
        for p in sorted((ROOT / "plugins").iterdir())
        if (p / "__init__.py").is_file()
    },
}


def not_shipped(name: str) -> bool:
    """Caches, build metadata and hidden files are not part of the source tree's content."""
    return name == "__pycache__" or name.endswith((".pyc", ".egg-info")) or name.startswith(".")


def source_files() -> dict[str, Path]:
    """Wheel path -> source file, for every file under the package roots (modules and data alike)."""
    out = {}
    for src, dest in PACKAGE_ROOTS.items():
        for path in sorted((ROOT / src).rglob("*")):
            rel = path.relative_to(ROOT / src)
            if path.is_file() and not any(not_shipped(part) for part in rel.parts):
                out[f"{dest}/{rel.as_posix()}"] = path
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, (
        f"setuptools {setuptools.__version__}: install the dev extra (pip install -e '.[dev]')"
    )
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a clean copy: a stale build/ folder in the checkout could hide a packaging mistake.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("gfcore", "cli", "plugins"):
        shutil.copytree(
            ROOT / folder, src / folder, ignore=lambda _, names: {n for n in names if not_shipped(n)}
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (built,) = (tmp / "dist").glob("gfp-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(wheel.namelist())
    expected = source_files()
    assert "gfp/commands/gan.py" in expected and "gfp_photos/images/sources.json" in expected
    assert any(name.startswith("gfp_gans/pretrained/") and name.endswith(".safetensors") for name in expected)
    missing = sorted(set(expected) - names)
    assert not missing, f"the wheel leaves out {len(missing)} files, e.g. {missing[:5]}"
    extra = sorted(n for n in names - set(expected) if ".dist-info/" not in n)
    assert not extra, f"the wheel holds files that are not in the source tree: {extra[:5]}"
    for name, path in expected.items():
        assert wheel.read(name) == path.read_bytes(), name


def test_wheel_declares_the_command_and_every_builtin_plugin(wheel):
    dist_info = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    entry_points = wheel.read(dist_info).decode()
    assert "gfp = gfp.app:main" in entry_points
    for dest in PACKAGE_ROOTS.values():
        if dest.startswith("gfp_"):
            assert f"= {dest}\n" in entry_points, f"{dest} has no `gfp` entry point"
