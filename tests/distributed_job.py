"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: gfp commands in one process
group, as `torchrun -m gfp ...` runs them, several in one launch to pay the start-up once.

    distributed_job.py DATASET OUT SPEC SEED BATCH LR EPOCHS IMAGES_FOLDER

Trains one epoch, resumes to EPOCHS (every rank loads the same checkpoint), evaluates and attributes, and
trains a tiny SNGAN (each rank its own batches); rank 0 writes what each command printed, and every rank's
generator checksum, to OUT/outputs.json."""

import json
import sys

from click.testing import CliRunner

from gfcore.execution import distributed as dist
from gfp.app import get_cli


def gfp(*args):
    result = CliRunner().invoke(get_cli(), [str(a) for a in args] + ["--device", "cpu", "--no-progress"])
    if result.exit_code != 0:
        raise SystemExit(f"rank {dist.rank()}: gfp {' '.join(map(str, args))}: {result.output}")
    return result.stdout


def train_tiny_gan(dataset, out):
    """A few SNGAN iterations on the dataset's images; the sum of G's and D's parameters on this rank (not
    BatchNorm's running statistics: those are each rank's own, as under DDP without SyncBatchNorm)."""
    import torch

    from gfcore.data.dataset import load_dataset
    from gfcore.plugins import get_registries
    from gfcore.runs.gan import train_gan

    tiny = get_registries().gan_sources.get("sngan").conformance_overrides
    params = {**tiny, "resolution": 16, "batch_size": 4, "iters": 3, "n_critic": 1}
    images = load_dataset(dataset).split("train").images
    spec = "sngan:" + ",".join(f"{k}={v}" for k, v in params.items())
    gan = train_gan(spec, images, out, seed=1, device=torch.device("cpu"))
    params = list(gan.G.parameters()) + list(gan.D.parameters())
    return sum(float(p.detach().double().sum()) for p in params)


def main():
    dataset, out, spec, seed, batch, lr, epochs, images = sys.argv[1:]
    run = f"{out}/run"
    common = ["--method", spec, "--seed", seed, "--batch-size", batch, "--lr", lr]
    outputs = {"train": gfp("train", dataset, "--out", run, *common, "--epochs", 1)}
    outputs["resume"] = gfp("train", dataset, "--out", run, "--resume", "--epochs", epochs)
    outputs["evaluate"] = gfp("evaluate", run, dataset, "--split", "train", "--json")
    outputs["attribute"] = gfp("attribute", run, images, "--json", "--batch-size", 5)
    outputs["world_size"] = dist.world_size()
    outputs["generator"] = train_tiny_gan(dataset, f"{out}/gan")
    all_outputs = dist.gather_json(outputs)
    if dist.is_main():
        with open(f"{out}/outputs.json", "w") as f:
            json.dump(all_outputs, f)
    # as `gfp` itself ends a command under torchrun: the ranks leave the group together, then the process
    if dist.finish():
        dist.exit_without_finalisation(0)


if __name__ == "__main__":
    main()
