"""Check an installed gfp from outside the checkout (CI runs it with a fresh venv's python, on the wheel).

It fails unless gfp, gfcore and every built-in plugin are imported from this interpreter's own environment
(not from a source tree), `gfp --help` and every command's and sub-command's `--help` exit 0 with nothing
on stderr, and the data files that ship in the wheel (bundled photos, shipped generators) are usable.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

BUILTIN_PLUGIN_PACKAGES = ("gfp_learned", "gfp_gans", "gfp_photos", "gfp_baselines")


def fail(message: str) -> None:
    print(f"check_installed: {message}", file=sys.stderr)
    raise SystemExit(1)


def check_import_locations() -> None:
    import importlib

    prefix = Path(sys.prefix).resolve()
    for name in ("gfp", "gfcore", "gfp.commands", *BUILTIN_PLUGIN_PACKAGES):
        path = Path(importlib.import_module(name).__file__).resolve()
        print(f"{name:14} {path}")
        if prefix not in path.parents:
            fail(f"{name} was imported from {path}, not from the environment under test ({prefix})")


def run_gfp(*args: str) -> subprocess.CompletedProcess:
    gfp = Path(sys.executable).parent / "gfp"  # the console script the wheel installed
    result = subprocess.run([str(gfp), *args], capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        fail(f"`gfp {' '.join(args)}` exited {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def check_every_help() -> None:
    from gfp.app import get_cli, iter_commands

    paths = [()] + [path for path, _ in iter_commands(get_cli())]
    for path in paths:
        out = run_gfp(*path, "--help").stdout
        if not out.startswith("Usage: gfp"):
            fail(f"`gfp {' '.join(path)} --help` printed no usage line:\n{out}")
        print(f"ok  gfp {' '.join((*path, '--help'))}")
    leaves = {" ".join(p) for p in paths if p}
    for required in ("plugins", "prepare", "train", "evaluate", "attribute", "gan train", "data photos"):
        if required not in leaves:
            fail(f"`gfp {required}` is missing from the installed command tree")


def check_shipped_data() -> None:
    photos = json.loads(run_gfp("data", "licences", "--json").stdout)["photos"]
    if not photos or not all(Path(p["path"]).is_file() for p in photos):
        fail("bundled photos are missing from the installation")
    shipped = json.loads(run_gfp("gan", "list", "--json").stdout)["shipped"]
    if not shipped or not all(s["size_bytes"] for s in shipped):
        fail("shipped generators are missing from the installation")
    with tempfile.TemporaryDirectory() as tmp:
        sample = json.loads(
            run_gfp(
                "gan", "sample", shipped[0]["name"], "-n", "2", "--out", tmp, "--no-progress", "--json"
            ).stdout
        )
        if sample["count"] != 2:
            fail(f"gan sample wrote {sample['count']} images, not 2")
    runs = json.loads(run_gfp("plugins", "--json").stdout)["shipped_runs"]
    if "shipped:existence" not in [r["name"] for r in runs]:
        fail("the shipped attributor is missing from the installation")
    print(
        f"ok  {len(photos)} bundled photos, {len(shipped)} shipped generators, sampling works, "
        f"{len(runs)} shipped run(s)"
    )


def check_service() -> None:
    """`gfp serve` from the wheel: it listens, its page and API answer (the page is a data file)."""

    server = subprocess.Popen(
        [sys.executable, "-m", "gfp", "serve", "shipped:existence", "--port", "0", "--device", "cpu"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:
            found = re.search(r"at (http://\S+)", line)
            if found:
                break
        else:
            fail("gfp serve exited before it listened")
        page = urllib.request.urlopen(found.group(1), timeout=30).read().decode()
        run = json.loads(urllib.request.urlopen(found.group(1) + "api/run", timeout=30).read())
        if "Drop images here" not in page or run["classes"][0] != "real":
            fail("gfp serve's page or API is missing from the installation")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("ok  gfp serve answers its page and /api/run")


def main() -> None:
    check_import_locations()
    check_every_help()
    check_shipped_data()
    check_service()


if __name__ == "__main__":
    main()
