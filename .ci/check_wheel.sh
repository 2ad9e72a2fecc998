#!/usr/bin/env bash
# Build gfp's wheel, install it with its dependencies into a fresh virtual environment, and run `gfp --help`,
# every command's and sub-command's `--help` and a few data checks from outside the checkout, so that only
# the installed wheel can be imported (an editable install hides files the wheel leaves out).
# Measured here: the fresh venv with torch 2.14.1 taken from this machine's local wheels takes ~80 s, 5.5 GB.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"  # needs setuptools>=77 (the dev extra)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build from a clean copy: a stale build/ folder in a developer's checkout can put deleted files in a wheel.
mkdir "$work/src"
(cd "$root" && tar cf - --exclude=__pycache__ --exclude='*.egg-info' pyproject.toml README.md LICENSE cli gfcore plugins) |
    tar xf - -C "$work/src"
"$python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/dist" "$work/src"
wheel=("$work"/dist/gfp-*.whl)
echo "built ${wheel[0]##*/}"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "${wheel[0]}" 2> >(grep -v "^WARNING: Location 'file:" >&2)

cd "$work"  # outside the checkout: nothing can be imported from the source tree
"$work/venv/bin/python" "$root/.ci/check_installed.py"
