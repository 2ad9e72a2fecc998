import click

from gfp.common import device_option, emit_json, false_unknown_rate_option, json_option, progress_option


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("dataset", type=click.Path(file_okay=False))
@false_unknown_rate_option()
@click.option(
    "--score",
    type=click.Choice(["msp", "max-logit", "energy"]),
    default=None,
    show_default="the run's own, else msp",
    help="Open-set score: top calibrated probability, top logit, or energy.",
)
@device_option
@json_option
@progress_option
def calibrate(run, dataset, false_unknown_rate, score, device, as_json, progress):
    """(Re)fit RUN's temperature and open-set threshold on the validation split of DATASET (the dataset
    it was trained on) and store them in its run.json. `gfp train` and `gfp immunize` do this at the end;
    runs made before that have none (T = 1, no open-set rule) until calibrated."""
    from gfcore.data.dataset import load_dataset
    from gfcore.errors import GfpError
    from gfcore.execution.device import resolve_device
    from gfcore.inference.openset import calibrate_run, describe_rule
    from gfcore.runs.attributor import read_run_json
    from gfcore.terminal.progress import progress_reporter

    data = load_dataset(dataset)
    if read_run_json(run)["dataset"]["hash"] != data.hash:
        raise GfpError(f"{run} was trained on another dataset (hash differs): calibrate it on its own")
    with progress_reporter(progress) as reporter:
        info = calibrate_run(run, data, resolve_device(device), false_unknown_rate, score, reporter)
    record = info["calibration"]
    if record is None:
        raise GfpError(f"{dataset} has no validation images to calibrate on")
    if as_json:
        emit_json({"run": str(run), "dataset": str(dataset), "calibration": record})
        return
    rule = record["open_set"]
    click.echo(
        f"{run}: temperature {record['temperature']:.4g} (validation NLL {record['nll_before']:.4f} -> "
        f"{record['nll_after']:.4f}, ECE {100 * record['ece_before']:.2f}% -> {100 * record['ece_after']:.2f}%, "
        f"{record['ece_bins']} bins, {record['n']} images); open set: {describe_rule(rule)} "
        f"({100 * rule['val_false_unknown_rate']:.1f}% of validation "
        f"images, target {100 * rule['false_unknown_rate']:.1f}%)"
    )
