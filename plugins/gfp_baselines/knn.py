"""k-nearest neighbours on raw pixels, the simplest baseline of the paper (its Table 1).

Each image is its flattened RGB pixels (floats in [0, 1]); distances are Euclidean. ``k`` is chosen on the
validation split from {1, 3, 5, 9, 17, 33, ...} (1 and 2^x + 1, as Frank et al. 2020 searched), up to the
number of training images or ``max_k`` (1025, Frank et al.'s largest), whichever is smaller.

Scores: the share of the ``k`` neighbours that belong to each class, plus a tie-break term smaller than
``1 / (2k)`` -- half the gap between two different vote counts -- so it only ever reorders classes with
equal votes. Among tied classes the one whose voters are nearer in total (smaller summed distance) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attributor, FitContext, GfpError, Split, bounded

from ._data import accuracy, check_split, iter_chunks, labels_tensor

#: query images compared against the whole training set at once (the distance block is [chunk, n_train])
QUERY_CHUNK = 256


def k_candidates(n_train: int, max_k: int = 1025) -> list[int]:
    """1, 3, 5, 9, 17, 33, ... (1 and 2^x + 1) up to ``n_train`` and ``max_k``."""
    ks, x = [1], 1
    while 2**x + 1 <= min(n_train, max_k):
        ks.append(2**x + 1)
        x += 1
    return ks


def to_vectors(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [n, 3, H, W] -> float [n, 3*H*W] in [-0.5, 0.5] (centred, so the squared-norm expansion of the
    distance loses less float32 precision)."""
    return images.to(device).reshape(len(images), -1).float().div_(255.0).sub_(0.5)


def vote_scores(
    neighbour_labels: torch.Tensor, neighbour_dists: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """``[n, k]`` labels and distances of the k nearest (nearest first) -> ``[n, L]`` scores (module docstring)."""
    n, k = neighbour_labels.shape
    votes = torch.zeros(n, num_classes, device=neighbour_labels.device)
    votes.scatter_add_(1, neighbour_labels, torch.ones_like(neighbour_dists))
    summed = torch.zeros_like(votes).scatter_add_(1, neighbour_labels, neighbour_dists)
    total = neighbour_dists.sum(1, keepdim=True).clamp_min(1e-12)
    # in (0, 1/(2k)] for a class with votes: larger when its voters are nearer; 0 for a class without votes
    tie_break = torch.where(votes > 0, (1.0 - summed / total) * 0.999 + 0.001, 0.0) / (2 * k)
    return votes / k + tie_break


class KnnAttributor(Attributor):
    name = "knn"
    description = "k-nearest neighbours on raw pixels, k chosen on validation (paper's Table 1 baseline)"
    roles = frozenset({"pixel-knn"})  # the shortcut audit's raw-pixel cue
    conformance_overrides = {"max_k": 9}  # tiny settings for gfcore.testing

    @dataclass
    class Config:
        # None: choose on validation from 1, 3, 5, 9, 17, ...; at most a million (more than any training set
        # gfp holds in memory)
        k: int | None = bounded(None, min=1, max=1_000_000)
        max_k: int = bounded(1025, min=1, max=1_000_000)  # the largest k tried when choosing

    def __init__(self, classes, resolution, config, device=None):
        super().__init__(classes, resolution, config, device)
        if (config.k is not None and config.k < 1) or config.max_k < 1:
            raise GfpError("knn: k and max_k must be at least 1")
        self.train_pixels: torch.Tensor | None = None  # uint8 [n, 3*H*W]: kNN's model is its training set
        self.train_labels: torch.Tensor | None = None
        self.k = config.k

    # -- neighbours --------------------------------------------------------------------------------
    def _neighbours(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 queries [n, 3, H, W] -> labels and distances of their ``k`` nearest training images."""
        q = to_vectors(queries, self.device)
        best_d = best_i = None
        # the training set is also read in chunks so the [n_query, chunk] distance block stays small
        for start, part in iter_chunks(self.train_pixels, 4096):
            t = part.to(self.device).float().div_(255.0).sub_(0.5)
            d2 = (q.pow(2).sum(1, keepdim=True) - 2 * q @ t.t() + t.pow(2).sum(1)).clamp_min_(0)
            d, i = d2.topk(min(k, d2.shape[1]), dim=1, largest=False)
            i = i + start
            if best_d is not None:
                d, order = torch.cat([best_d, d], 1).topk(
                    min(k, best_d.shape[1] + d.shape[1]), 1, largest=False
                )
                i = torch.cat([best_i, i], 1).gather(1, order)
            best_d, best_i = d, i
        labels = self.train_labels[best_i]
        return labels, best_d.sqrt()

    def _scores(self, images: torch.Tensor, k: int) -> torch.Tensor:
        labels, dists = self._neighbours(images, k)
        return vote_scores(labels, dists, len(self.classes))

    # -- Attributor --------------------------------------------------------------------------------
    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        check_split(train, self.resolution, "training")
        if len(train) == 0:
            raise GfpError("kNN needs at least one training image")
        task = ctx.progress.task("knn: storing training images", total=len(train) + len(val))
        parts = []
        for _, part in iter_chunks(train.images):
            parts.append(part.reshape(len(part), -1))
            task.advance(len(part))
        self.train_pixels = torch.cat(parts).to(self.device)
        self.train_labels = labels_tensor(train, self.device)

        if self.config.k is not None:
            self.k = min(self.config.k, len(train))
            ctx.history.append(
                {"epoch": 1, "val_accuracy": self._val_accuracy(val, self.k), "chosen_k": self.k}
            )
            task.done()
            return
        if len(val) == 0:  # nothing to choose with: the plain nearest neighbour
            self.k = 1
            ctx.progress.warn("knn: no validation images; using k=1")
            ctx.history.append({"epoch": 1, "val_accuracy": float("nan"), "chosen_k": 1})
            task.done()
            return
        # one neighbour search with the largest k serves every candidate: the first k of a sorted list
        task.update(description="knn: choosing k on validation")
        candidates = k_candidates(len(train), self.config.max_k)
        k_max = candidates[-1]
        val_labels, val_dists = [], []
        for _, part in iter_chunks(val.images, QUERY_CHUNK):
            labels, dists = self._neighbours(part, k_max)
            val_labels.append(labels)
            val_dists.append(dists)
            task.advance(len(part))
        val_labels, val_dists = torch.cat(val_labels), torch.cat(val_dists)
        truth = labels_tensor(val, self.device)
        per_k = {
            k: accuracy(vote_scores(val_labels[:, :k], val_dists[:, :k], len(self.classes)), truth)
            for k in candidates
        }
        self.k = max(candidates, key=lambda k: (per_k[k], -k))  # the best; ties go to the smaller k
        ctx.history.append(
            {
                "epoch": 1,
                "val_accuracy": per_k[self.k],
                "chosen_k": self.k,
                "val_accuracy_by_k": {str(k): a for k, a in per_k.items()},
            }
        )
        ctx.progress.log(f"knn: chose k={self.k} (val accuracy {per_k[self.k]:.3f})")
        task.done()

    def _val_accuracy(self, val: Split, k: int) -> float:
        if len(val) == 0:
            return float("nan")
        scores = torch.cat([self._scores(part, k) for _, part in iter_chunks(val.images, QUERY_CHUNK)])
        return accuracy(scores, labels_tensor(val, self.device))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if self.train_pixels is None:
            raise RuntimeError("knn: fit() or load_state_dict() first")
        if len(images) == 0:
            return torch.empty(0, len(self.classes))
        return torch.cat([self._scores(part, self.k).cpu() for _, part in iter_chunks(images, QUERY_CHUNK)])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "train_pixels": self.train_pixels,
            "train_labels": self.train_labels,
            "k": torch.tensor(self.k, dtype=torch.long),
        }

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        pixels = tensors["train_pixels"]
        if pixels.dtype != torch.uint8 or pixels.shape[1] != 3 * self.resolution**2:
            raise ValueError(
                f"train_pixels {tuple(pixels.shape)} do not fit {self.resolution}x{self.resolution}"
            )
        self.train_pixels = pixels.to(self.device)
        self.train_labels = tensors["train_labels"].long().to(self.device)
        self.k = int(tensors["k"])
