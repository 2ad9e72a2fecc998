"""Third-party plugins installed for real, used by a separate ``gfp`` process.

``acme`` is a package written here with its own ``pyproject.toml`` and ``gfp`` entry point; pip builds and
installs it into a folder put on ``PYTHONPATH``. It registers one plugin of every kind plus a command,
and must pass the conformance kit. Broken plugins (failing import, raising hooks, taken names) are
installed as bare ``.dist-info`` folders, which is all ``importlib.metadata`` reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("tomllib")  # the throwaway package's build backend reads its pyproject.toml

HINT = "(set GFP_DISABLE_PLUGIN_AUTOLOAD=1 to load only gfp's built-in plugins)"

# A PEP 517 backend with no requirements: builds a pure-Python wheel from pyproject.toml's [project]
# table, so that pip installs the package offline, whatever setuptools the environment has.
BACKEND = """
import base64, hashlib, tomllib, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def get_requires_for_build_wheel(config_settings=None):
    return []


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dist, version = project["name"].replace("-", "_"), project["version"]
    info = f"{dist}-{version}.dist-info"
    files = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in sorted(ROOT.glob("gfp_*/**/*.py"))}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {project['name']}\\nVersion: {version}\\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{info}/entry_points.txt"] = "".join(
        f"[{group}]\\n" + "".join(f"{k} = {v}\\n" for k, v in eps.items())
        for group, eps in project.get("entry-points", {}).items()
    ).encode()
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = "\\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    wheel = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel
"""

PYPROJECT = """
[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "gfp-acme"
version = "0.1.0"
description = "A third-party gfp plugin of every kind"

[project.entry-points.gfp]
acme = "gfp_acme"
"""

# No torch at module level: `gfp --help` imports this.
ACME_INIT = '''
import click

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .methods import MeanColour
    register(MeanColour)


@hookimpl
def gfp_register_baselines(register):
    from .methods import ColourHistogram
    register(ColourHistogram)


@hookimpl
def gfp_register_gan_sources(register):
    from .methods import PixelGaussian
    register(PixelGaussian)


@hookimpl
def gfp_register_attacks(register):
    from .methods import SaltPepper
    register(SaltPepper)


@click.command("acme-count")
@click.option("--kind", default="baselines", show_default=True, help="Registry to count.")
def acme_count(kind):
    """Print how many names a registry holds."""
    from gfcore import get_registries
    click.echo(f"{kind}: {len(get_registries().by_kind()[kind])}")


@hookimpl
def gfp_register_commands(cli):
    cli.add_command(acme_count)
'''

ACME_METHODS = '''
from dataclasses import dataclass

import torch

from gfcore import Attack, Attributor, GanSource


def mean_colours(images):
    return images.float().mean(dim=(2, 3))


class MeanColour(Attributor):
    """Model fingerprint: a source's mean colour; image fingerprint: the image's."""
    name = "acme-mean-colour"
    description = "Nearest mean colour"
    has_fingerprints = True

    @dataclass
    class Config:
        scale: float = 1.0

    def fit(self, train, val, ctx):
        colours, labels = mean_colours(torch.from_numpy(train.images[:])), torch.from_numpy(train.labels)
        self.means = torch.stack([colours[labels == i].mean(0) for i in range(len(self.classes))])
        ctx.history.append({"epoch": 1})

    def logits(self, images):
        return -self.config.scale * torch.cdist(mean_colours(images), self.means)

    def state_dict(self):
        return {"means": self.means}

    def load_state_dict(self, tensors):
        self.means = tensors["means"]

    def image_fingerprints(self, images):
        return mean_colours(images)

    def model_fingerprints(self):
        return self.means.clone()


class ColourHistogram(Attributor):
    name = "acme-histogram"
    description = "Nearest mean colour histogram"

    @dataclass
    class Config:
        bins: int = 8

    def _histograms(self, images):
        index = images.long() * self.config.bins // 256
        out = torch.stack([torch.stack([torch.bincount(c.flatten(), minlength=self.config.bins) for c in img])
                           for img in index]).float()
        return (out / out.sum(-1, keepdim=True)).flatten(1)

    def fit(self, train, val, ctx):
        hist, labels = self._histograms(torch.from_numpy(train.images[:])), torch.from_numpy(train.labels)
        self.centres = torch.stack([hist[labels == i].mean(0) for i in range(len(self.classes))])

    def logits(self, images):
        return -torch.cdist(self._histograms(images), self.centres, p=1)

    def state_dict(self):
        return {"centres": self.centres}

    def load_state_dict(self, tensors):
        self.centres = tensors["centres"]


class PixelGaussian(GanSource):
    """Per-pixel mean and spread of the real images, averaged over random batches; samples are noise."""
    name = "acme-pixel-gaussian"
    description = "Per-pixel Gaussian"
    conformance_overrides = {"iters": 3}

    @dataclass
    class Config:
        resolution: int = 16
        iters: int = 10
        batch_size: int = 4

    def __init__(self, config, device=None):
        super().__init__(config, device)
        shape = (3, config.resolution, config.resolution)
        self.sums, self.squares, self.count = torch.zeros(shape), torch.zeros(shape), torch.zeros(())
        self.loaded = None  # (mean, std) when only the generator was loaded

    def train(self, real, ctx, preview=None):
        real = torch.as_tensor(real[:]).double()
        step = 0
        if ctx.resume is not None:
            tensors, meta = ctx.resume
            self.load_state_dict(tensors)
            step = meta["step"]
        while step < self.config.iters:
            step += 1
            pick = torch.randint(len(real), (self.config.batch_size,), generator=torch.Generator().manual_seed(ctx.seed * 100003 + step))
            batch = real[pick]
            self.sums += batch.sum(0).float()
            self.squares += (batch ** 2).sum(0).float()
            self.count += len(batch)
            ctx.history.append({"step": step})
            ctx.checkpoint(step, self.state_dict(), {"step": step})
            if preview is not None:
                preview(step)

    def _mean_std(self):
        if self.loaded is not None:
            return self.loaded
        mean = self.sums / self.count.clamp_min(1)
        return mean, (self.squares / self.count.clamp_min(1) - mean ** 2).clamp_min(0).sqrt()

    def sample(self, n, seed):
        mean, std = self._mean_std()
        noise = torch.randn((n, *mean.shape), generator=torch.Generator().manual_seed(seed))
        return (mean + std * noise).round().clamp(0, 255).to(torch.uint8)

    def state_dict(self):
        return {"sums": self.sums, "squares": self.squares, "count": self.count}

    def generator_state_dict(self):
        mean, std = self._mean_std()
        return {"mean": mean, "std": std}

    def load_state_dict(self, tensors):
        if "mean" in tensors:  # the generator only: enough to sample, not to train on
            self.loaded = (tensors["mean"].clone(), tensors["std"].clone())
        else:
            self.sums, self.squares, self.count = (tensors[k].clone() for k in ("sums", "squares", "count"))
            self.loaded = None


class SaltPepper(Attack):
    name = "acme-salt-pepper"
    description = "Salt-and-pepper noise"

    @dataclass
    class Config:
        amount: float = 0.05

    def apply(self, images, generator):
        n, _, h, w = images.shape
        hit = (torch.rand(n, 1, h, w, generator=generator) < self.config.amount).to(images.device)
        value = (torch.randint(0, 2, (n, 1, h, w), generator=generator) * 255).to(images.device, torch.uint8)
        return torch.where(hit, value.expand_as(images), images)
'''


def gfp(*args, site: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``gfp ARGS`` in a fresh process that sees the plugins installed in ``site``."""
    environment = {k: v for k, v in os.environ.items() if k != "GFP_DISABLE_PLUGIN_AUTOLOAD"}
    environment.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "gfp", *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def python(code: str, site: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300
    )


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("acme")
    package = root / "gfp-acme"
    files = {
        "pyproject.toml": PYPROJECT,
        "_build/backend.py": BACKEND,
        "gfp_acme/__init__.py": ACME_INIT,
        "gfp_acme/methods.py": ACME_METHODS,
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(textwrap.dedent(text).lstrip())
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        timeout=300,
    )
    assert (site / "gfp_acme-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def test_installed_package_registers_every_kind_and_a_command(acme_site):
    result = gfp("plugins", "--json", site=acme_site)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert {"name": "acme", "origin": "gfp-acme (entry point gfp_acme)"} in listed["plugins"]
    mine = {
        kind: [e["name"] for e in listed[kind] if e["plugin"] == "acme"]
        for kind in ("extractors", "baselines", "gan_sources", "attacks", "commands")
    }
    assert mine == {
        "extractors": ["acme-mean-colour"],
        "baselines": ["acme-histogram"],
        "gan_sources": ["acme-pixel-gaussian"],
        "attacks": ["acme-salt-pepper"],
        "commands": ["acme-count"],
    }
    assert listed["problems"] == []
    assert "learned" in [e["name"] for e in listed["extractors"]]  # the built-ins are all still there

    ran = gfp("acme-count", "--kind", "attacks", site=acme_site)
    # the built-in attacks and acme's one, as `gfp plugins` listed them
    assert (ran.returncode, ran.stdout) == (0, f"attacks: {len(listed['attacks'])}\n"), ran.stderr
    assert len(listed["attacks"]) > 1
    assert "acme-count" in gfp("--help", site=acme_site).stdout


def test_installed_package_passes_the_conformance_kit(acme_site):
    result = python(
        "from gfcore.testing import check_plugin; print(','.join(check_plugin('acme')))", acme_site
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "extractors:acme-mean-colour,baselines:acme-histogram,gan_sources:acme-pixel-gaussian,"
        "attacks:acme-salt-pepper,commands:acme-count"
    ]


# --- broken plugins: each in its own site folder, installed as a bare .dist-info -------------------------

RAISER = """
from gfcore import hookimpl

@hookimpl
def gfp_register_baselines(register):
    raise RuntimeError("boom")
"""

DUPLICATE = """
from gfcore import hookimpl

@hookimpl
def gfp_register_baselines(register):
    from gfp_acme.methods import ColourHistogram
    register(ColourHistogram, name="dup")
"""

COMMANDS = """
import click
from gfcore import hookimpl

@hookimpl
def gfp_register_commands(cli):
    @cli.command("train")
    def impostor():
        click.echo("impostor")

    @cli.command("trainer-ok")
    def ok():
        click.echo("ok")
"""

COMMAND_RAISER = """
from gfcore import hookimpl

@hookimpl
def gfp_register_commands(cli):
    raise KeyError("no cli for me")
"""

IMPOSTOR = """
from gfcore import hookimpl

@hookimpl
def gfp_register_baselines(register):
    raise AssertionError("an entry point named like a built-in plugin must never be loaded")
"""


def install_bare(site: Path, dist: str, entry_point: str, module: str, source: str) -> None:
    """What pip leaves for a package with one ``gfp`` entry point: a module and its .dist-info."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gfp]\n{entry_point} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source).lstrip())


def warnings(result) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]


def test_plugin_that_fails_to_import_is_named_and_the_rest_works(acme_site, tmp_path):
    install_bare(acme_site, "gfp-broken", "broken", "gfp_broken", "import gfp_no_such_dependency\n")
    try:
        line = (
            "Warning: plugin 'broken' of gfp-broken (entry point gfp_broken) failed to load and is skipped: "
            f"ModuleNotFoundError: No module named 'gfp_no_such_dependency' {HINT}"
        )
        for args in (["--help"], ["prepare", "--help"]):
            result = gfp(*args, site=acme_site)
            assert result.returncode == 0 and warnings(result) == [line]
        listed = gfp("plugins", "--json", site=acme_site)
        assert listed.returncode == 0 and warnings(listed) == [line]
        data = json.loads(listed.stdout)
        assert data["problems"] == [line.removeprefix("Warning: ")]
        assert {"learned", "acme"} <= {p["name"] for p in data["plugins"]}
        quiet = gfp("--help", site=acme_site, env={"GFP_DISABLE_PLUGIN_AUTOLOAD": "1"})
        assert quiet.returncode == 0 and quiet.stderr == "" and "acme-count" not in quiet.stdout
    finally:
        for path in (acme_site / "gfp_broken.py", *(acme_site / "gfp_broken-0.1.dist-info").iterdir()):
            path.unlink()
        (acme_site / "gfp_broken-0.1.dist-info").rmdir()


def test_hook_that_raises_is_one_line_naming_the_plugin_and_the_rest_works(tmp_path):
    install_bare(tmp_path, "gfp-raiser", "raiser", "gfp_raiser", RAISER)
    line = f"Warning: plugin 'raiser' failed in gfp_register_baselines: RuntimeError: boom; its baselines are skipped {HINT}"
    result = gfp("plugins", "--json", site=tmp_path)
    assert result.returncode == 0 and warnings(result) == [line]
    data = json.loads(result.stdout)
    assert data["problems"] == [line.removeprefix("Warning: ")] and "knn" in [
        e["name"] for e in data["baselines"]
    ]
    families = gfp("gan", "list", "--json", site=tmp_path)
    assert families.returncode == 0 and warnings(families) == [line]
    assert "progan" in [f["name"] for f in json.loads(families.stdout)["families"]]
    for args in (["--help"], ["train", "--help"]):  # no registries needed: no warning either
        shown = gfp(*args, site=tmp_path)
        assert shown.returncode == 0 and warnings(shown) == []


def test_same_name_from_two_plugins_is_an_error_naming_both(acme_site, tmp_path):
    install_bare(tmp_path, "gfp-dup-a", "dup-a", "gfp_dup_a", DUPLICATE)
    install_bare(tmp_path, "gfp-dup-b", "dup-b", "gfp_dup_b", DUPLICATE)
    result = gfp("plugins", "--json", site=f"{tmp_path}{os.pathsep}{acme_site}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Error: baseline name 'dup' is registered by two plugins: 'dup-a' and 'dup-b'"
    ]


def test_builtin_names_win_over_plugin_commands_and_entry_points(tmp_path):
    install_bare(tmp_path, "gfp-trainer", "trainer", "gfp_trainer", COMMANDS)
    install_bare(tmp_path, "gfp-cmd-raiser", "cmd-raiser", "gfp_cmd_raiser", COMMAND_RAISER)
    install_bare(tmp_path, "gfp-impostor", "learned", "gfp_impostor", IMPOSTOR)
    expected = {
        "Warning: plugin 'learned' of gfp-impostor (entry point gfp_impostor) is skipped: plugin 'learned' of "
        f"gfp (entry point gfp_learned) already has that name {HINT}",
        f"Warning: plugin 'cmd-raiser' failed in gfp_register_commands and adds no commands: KeyError: "
        f"'no cli for me' {HINT}",
        "Warning: plugin 'trainer' adds a command 'train', but that name is gfp's built-in one; the "
        f"plugin's command is refused {HINT}",
    }
    shown = gfp("--help", site=tmp_path)
    assert shown.returncode == 0 and set(warnings(shown)) == expected and len(warnings(shown)) == 3
    train = gfp("train", "--help", site=tmp_path)
    assert train.returncode == 0 and "--method" in train.stdout  # the built-in train
    ok = gfp("trainer-ok", site=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, "ok\n")
    listed = json.loads(gfp("plugins", "--json", site=tmp_path).stdout)
    assert {"name": "learned", "origin": "gfp (entry point gfp_learned)"} in listed["plugins"]
    assert listed["commands"] == [
        {"name": "data", "plugin": "photos"},
        {"name": "demo", "plugin": "demo"},
        {"name": "persistence", "plugin": "persistence"},
        {"name": "trainer-ok", "plugin": "trainer"},
    ]


def test_help_with_plugins_imports_neither_torch_nor_numpy(acme_site):
    code = (
        "import sys\nfrom gfp.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)"
    )
    result = python(code, acme_site)
    assert result.returncode == 0 and "acme-count" in result.stdout
    assert result.stderr.split() == ["False", "False"]
