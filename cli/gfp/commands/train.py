import math

import click

from gfp.common import device_option, emit_json, fmt_pct, json_option, progress_option, seed_option


def _finite(ctx, param, value):
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx, param)
    return value


def _check_resume_matches(ctx, out, spec, seed) -> None:
    """--resume continues a run as it was trained: a --method or --seed given that differs is an error."""
    from click.core import ParameterSource

    from gfcore.config import build_config, parse_spec
    from gfcore.errors import GfpError
    from gfcore.plugins import get_registries
    from gfcore.runs import read_run_json

    info = read_run_json(out)
    given = {p for p in ("spec", "seed") if ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE}
    if "seed" in given and seed != info["seed"]:
        raise GfpError(f"--seed {seed} differs from the seed {info['seed']} of {out}; --resume continues the run "
                       "with its own seed (leave --seed out)")
    if "spec" in given:
        name, params = parse_spec(spec)
        stored = info["config"]
        differs = name != info["method"]
        if not differs and params:
            config = build_config(get_registries().attributor(name).Config, params, f"method {name!r}")
            differs = any(getattr(config, k) != stored.get(k, getattr(config, k)) and
                          not (isinstance(stored.get(k), list) and tuple(stored[k]) == getattr(config, k))
                          for k in params)
        if differs:
            raise GfpError(f"--method {spec} differs from {info.get('spec', info['method'])}, which {out} was "
                           "trained with; --resume continues the run as it was trained (leave --method out)")


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder to write.")
@click.option("--method", "spec", default="learned", show_default=True,
              help="Registered extractor or baseline, with optional parameters: learned:width=0.25")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Training epochs (neural methods).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Minibatch size (neural methods).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), callback=_finite, default=None,
              help="Learning rate (a finite positive number).")
@seed_option
@device_option
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@json_option
@progress_option
@click.pass_context
def train(ctx, dataset, out, spec, epochs, batch_size, lr, seed, device, resume, as_json, progress):
    """Train a method on a prepared DATASET; writes run.json and safetensors weights to --out.

    --resume continues the run in --out from its last checkpoint, with its own method and seed; pass
    --epochs N to train a finished run further. A training that diverges (non-finite loss) stops with
    one line and keeps its last good checkpoint.
    """
    from gfcore.dataset import load_dataset
    from gfcore.device import resolve_device
    from gfcore.errors import NothingToDo
    from gfcore.progress import progress_reporter
    from gfcore.runs import read_run_json, train_run

    data = load_dataset(dataset)
    if resume:
        _check_resume_matches(ctx, out, spec, seed)
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    try:
        with progress_reporter(progress) as reporter:
            result = train_run(data, out, spec, seed=seed, device=resolve_device(device), resume=resume,
                               overrides={k: v for k, v in overrides.items() if v is not None}, reporter=reporter)
    except NothingToDo as exc:
        if as_json:
            info = read_run_json(out)
            emit_json({"run": str(out), "method": info["method"], "nothing_to_do": str(exc),
                       "config": info["config"], "classes": info["classes"], "best": info.get("best"),
                       "history": info.get("history", []), "train_seconds": info.get("train_seconds")})
        else:
            click.echo(str(exc))
        return
    info = result.info
    summary = {"run": str(out), "method": info["method"], "config": info["config"], "classes": info["classes"],
               "best": info.get("best"), "history": info["history"], "train_seconds": info["train_seconds"]}
    if as_json:
        emit_json(summary)
        return
    best = info.get("best") or (info["history"][-1] if info["history"] else {})
    click.echo(f"trained {info['method']} into {out} in {info['train_seconds']:.1f}s; "
               f"best validation accuracy {fmt_pct(best.get('val_accuracy'))}")
