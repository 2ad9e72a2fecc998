"""Join prepared datasets whose shared classes hold the same images (the demo's tasks all draw the same
real patches): every class once, in the order first met, for a study across tasks.

    python benchmarks/join_datasets.py OUT DATASET DATASET ...

    python benchmarks/join_datasets.py families gfp-demo/datasets/existence gfp-demo/datasets/modern
"""

from __future__ import annotations

import argparse

import numpy as np

from gfcore import SPLITS, load_dataset, write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("datasets", nargs="+")
    args = parser.parse_args()
    parts = [load_dataset(path) for path in args.datasets]
    classes = list(dict.fromkeys(c for part in parts for c in part.classes))
    splits = {}
    for split in SPLITS:
        images, labels, seen = [], [], set()
        for part in parts:
            data = part.split(split)
            part_labels = np.asarray(data.labels)
            for k, name in enumerate(part.classes):
                if name in seen:  # a class already taken from an earlier dataset (the same images)
                    continue
                seen.add(name)
                rows = np.flatnonzero(part_labels == k)
                images.append(np.asarray(data.images[rows]))
                labels.append(np.full(len(rows), classes.index(name), dtype=np.int64))
        splits[split] = (np.concatenate(images), np.concatenate(labels))
    write_dataset(args.out, classes, splits, {"joined_from": list(args.datasets)})
    print(f"{args.out}: {', '.join(classes)}; " + ", ".join(f"{s} {len(v[1])}" for s, v in splits.items()))


if __name__ == "__main__":
    main()
