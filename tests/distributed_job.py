"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: gfp commands in one process
group, as `torchrun -m gfp ...` runs them, several in one launch to pay the start-up once.

    distributed_job.py DATASET OUT SPEC SEED BATCH LR EPOCHS IMAGES_FOLDER

Trains one epoch, resumes to EPOCHS (every rank loads the same checkpoint), evaluates and attributes; rank 0
writes what each command printed to OUT/outputs.json."""

import json
import sys

from click.testing import CliRunner

from gfcore import distributed as dist
from gfp.app import get_cli


def gfp(*args):
    result = CliRunner().invoke(get_cli(), [str(a) for a in args] + ["--device", "cpu", "--no-progress"])
    if result.exit_code != 0:
        raise SystemExit(f"rank {dist.rank()}: gfp {' '.join(map(str, args))}: {result.output}")
    return result.stdout


def main():
    dataset, out, spec, seed, batch, lr, epochs, images = sys.argv[1:]
    run = f"{out}/run"
    common = ["--method", spec, "--seed", seed, "--batch-size", batch, "--lr", lr]
    outputs = {"train": gfp("train", dataset, "--out", run, *common, "--epochs", 1)}
    outputs["resume"] = gfp("train", dataset, "--out", run, "--resume", "--epochs", epochs)
    outputs["evaluate"] = gfp("evaluate", run, dataset, "--split", "train", "--json")
    outputs["attribute"] = gfp("attribute", run, images, "--json", "--batch-size", 5)
    outputs["world_size"] = dist.world_size()
    all_outputs = dist.gather_json(outputs)
    if dist.is_main():
        with open(f"{out}/outputs.json", "w") as f:
            json.dump(all_outputs, f)


if __name__ == "__main__":
    main()
