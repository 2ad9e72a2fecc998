"""How fast `gfp data photos` cuts patches from the shipped photographs (moved here from the test suite:
timings belong in benchmarks, never in tests).

    python benchmarks/photo_patches.py [--count 10000] [--resolution 32] [--rounds 3]

Decoding the photographs is a one-time cost per process and is measured apart from cutting.
Measured on the shared 2-core development machine (other jobs running): 5.2 s for 10,000 32x32 patches.
"""

from __future__ import annotations

import argparse
import time

from gfp_photos import patches
from gfp_photos.patches import sample_patches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    patches.decoded_photo(patches.photo_paths()[0])
    print(f"first photograph decoded in {time.perf_counter() - start:.2f} s")
    for r in range(args.rounds):
        start = time.perf_counter()
        sample_patches(args.count, resolution=args.resolution, seed=r)
        seconds = time.perf_counter() - start
        print(
            f"round {r + 1}: {args.count} patches of {args.resolution}x{args.resolution} in {seconds:.2f} s "
            f"({args.count / seconds:,.0f} per second)"
        )


if __name__ == "__main__":
    main()
