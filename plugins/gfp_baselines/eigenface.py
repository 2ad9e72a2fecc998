"""Eigenface (Sirovich & Kirby 1987; Turk & Pentland 1991): PCA on raw pixels, then a linear classifier.

Following Frank et al. 2020's set-up of this baseline: PCA is fitted on up to ``max_fit_images`` training
images (10k there), the number of components keeps a fraction of the variance chosen on validation from
{0.25, 0.5, 0.75, 0.95}, and a linear classifier is trained on the projections. Frank et al. used a linear
SVM; here it is multinomial logistic regression (see ``_linear.py``) with ``C`` chosen on validation from
``c_grid`` jointly with the variance fraction. Projections are whitened (divided by each component's
standard deviation) so one ``C`` regularises every component alike and L-BFGS is well conditioned.

``classifier=nn`` is the classic Eigenface of Turk & Pentland: the nearest training image in the
eigenspace (Euclidean distance between unwhitened PCA coefficients), with the variance fraction chosen on
validation by its 1-NN accuracy. Its logits are the negated distance to the nearest training image of each
class, so the argmax is the nearest neighbour's class. It keeps the projected training set as its model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attributor, FitContext, GfpError, Split, bounded, one_of

from ._data import accuracy, check_split, labels_tensor, map_chunks, subset_indices
from ._linear import LinearClassifier, select_logistic

CLASSIFIERS = ("logistic", "nn")


def pixels(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [n, 3, H, W] -> float [n, 3*H*W] in [0, 1]."""
    return images.to(device).reshape(len(images), -1).float().div_(255.0)


def principal_axes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Centred ``[N, D]`` -> (squared singular values, descending; ``[K, D]`` principal directions; the
    relative size below which a value is numerical noise).

    With at least as many images as pixels (the demo: 10,000 images of 3,072 pixels) the eigenvectors of
    the ``D x D`` scatter matrix are 2-3x faster than the SVD of ``x`` on a CPU; squaring the matrix costs
    precision only in directions below ~1e-6 of the largest variance, which no kept variance fraction
    reaches. With fewer images than pixels (128x128 images), the SVD of ``x`` itself stays smaller."""
    n, d = x.shape
    if n >= d:
        values, vectors = torch.linalg.eigh(x.T @ x)
        return values.flip(0).clamp_min(0), vectors.flip(1).T.contiguous(), 1e-6
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    return s.pow(2), vh, 1e-10


def components_for(explained: torch.Tensor, fraction: float) -> int:
    """The fewest leading components whose variance sums to at least ``fraction`` of the total."""
    cumulative = (explained.cumsum(0) / explained.sum()).tolist()
    for count, share in enumerate(cumulative, start=1):
        if share >= fraction - 1e-9:
            return count
    return len(cumulative)


class EigenfaceAttributor(Attributor):
    name = "eigenface"
    description = "PCA on pixels + logistic regression; variance kept and C chosen on validation"
    conformance_overrides = {"c_grid": (1.0,), "max_iter": 20}  # tiny settings for gfcore.testing

    @dataclass
    class Config:
        # PCA is fitted on at most this many random training images
        max_fit_images: int = bounded(10000, min=1, max=10_000_000)
        variance_fractions: tuple[float, ...] = bounded((0.25, 0.5, 0.75, 0.95), min=0, max=1, min_open=True)
        # inverse regularisation strengths
        c_grid: tuple[float, ...] = bounded((1e-3, 1e-2, 1e-1, 1.0, 10.0), min=0, max=1e6, min_open=True)
        # L-BFGS iterations per classifier (it converges in hundreds; the bound keeps a typo from running for days)
        max_iter: int = bounded(200, min=1, max=100_000)
        # "logistic" (whitened + logistic regression) or "nn" (classic 1-NN)
        classifier: str = one_of("logistic", CLASSIFIERS)

    def __init__(self, classes, resolution, config, device=None):
        super().__init__(classes, resolution, config, device)
        if not config.variance_fractions or not all(0 < f <= 1 for f in config.variance_fractions):
            raise GfpError("eigenface: variance_fractions must be fractions in (0, 1]")
        self.mean: torch.Tensor | None = None  # [D] pixel mean of the PCA images
        self.basis: torch.Tensor | None = None  # [K, D] kept principal directions, scaled to whiten
        self.classifier: LinearClassifier | None = None
        self.train_features: torch.Tensor | None = None  # classifier=nn: [n, K] projected training images
        self.train_labels: torch.Tensor | None = None

    def _project(self, images: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
        return (pixels(images, self.device) - self.mean) @ basis.t()

    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        c = self.config
        check_split(train, self.resolution, "training")
        if len(train) < 2:
            raise GfpError("eigenface needs at least two training images")
        task = ctx.progress.task("eigenface: PCA", total=None)
        # 1) PCA of the centred pixels of a random subset of the training images
        idx = subset_indices(len(train), c.max_fit_images, ctx.seed)
        x = map_chunks(train.images, lambda part: pixels(part, self.device), indices=idx)
        self.mean = x.mean(0)
        x -= self.mean
        explained, vh, floor = principal_axes(x)
        del x
        std = explained.sqrt() / max(len(idx) - 1, 1) ** 0.5
        keep = explained > explained[0] * floor  # drop numerically empty directions (rank < n - 1)
        explained, std, vh = explained[keep], std[keep], vh[keep]
        k_max = max(components_for(explained, f) for f in c.variance_fractions)
        if c.classifier == "nn":  # the classic eigenspace: distances between unwhitened coefficients
            self._fit_nn(train, val, ctx, task, explained, vh[:k_max].contiguous(), len(idx))
            return
        whitening = vh[:k_max] / std[:k_max, None]

        # 2) project train and val once with the largest basis; smaller ones are its leading columns
        task.update(description="eigenface: projecting")
        train_z = map_chunks(train.images, lambda part: self._project(part, whitening))
        val_z = (
            map_chunks(val.images, lambda part: self._project(part, whitening))
            if len(val)
            else torch.empty(0, k_max, device=self.device)
        )
        train_y, val_y = labels_tensor(train, self.device), labels_tensor(val, self.device)

        # 3) choose variance fraction and C together on validation; without validation images there is
        #    nothing to choose with, so the most variance is kept
        fractions = sorted(c.variance_fractions) if len(val) else [max(c.variance_fractions)]
        task.update(description="eigenface: classifier", total=len(fractions), completed=0)
        best, by_fraction = None, {}
        for fraction in fractions:
            k = components_for(explained, fraction)
            model, chosen_c, scores = select_logistic(
                train_z[:, :k], train_y, val_z[:, :k], val_y, len(self.classes), c.c_grid, max_iter=c.max_iter
            )
            acc = scores.get(chosen_c, float("nan"))
            by_fraction[str(fraction)] = {"components": k, "C": chosen_c, "val_accuracy": acc}
            if best is None or acc > best[0]:
                best = (acc, fraction, k, chosen_c, model)
            task.advance()
        acc, fraction, k, chosen_c, model = best
        self.basis = whitening[:k].contiguous()
        self.classifier = model
        ctx.history.append(
            {
                "epoch": 1,
                "val_accuracy": acc,
                "chosen_variance_fraction": fraction,
                "chosen_components": k,
                "chosen_C": chosen_c,
                "pca_images": int(len(idx)),
                "by_variance_fraction": by_fraction,
            }
        )
        ctx.progress.log(
            f"eigenface: kept {fraction:.0%} of the variance ({k} components), C={chosen_c:g} "
            f"(val accuracy {acc:.3f})"
        )
        task.done()

    def _fit_nn(self, train, val, ctx, task, explained, basis, pca_images) -> None:
        """classifier=nn: keep the projected training set; choose the variance fraction by val 1-NN accuracy."""
        c = self.config
        task.update(description="eigenface: projecting")
        train_z = map_chunks(train.images, lambda part: self._project(part, basis))
        self.train_labels = labels_tensor(train, self.device)
        fractions = sorted(c.variance_fractions) if len(val) else [max(c.variance_fractions)]
        by_fraction, best = {}, None
        for fraction in fractions:
            k = components_for(explained, fraction)
            self.train_features, self.basis = train_z[:, :k].contiguous(), basis[:k].contiguous()
            acc = (
                accuracy(self._nn_scores(val.images), labels_tensor(val, self.device))
                if len(val)
                else float("nan")
            )
            by_fraction[str(fraction)] = {"components": k, "val_accuracy": acc}
            if best is None or acc > best[0]:  # ties keep the smaller fraction
                best = (acc, fraction, k)
        acc, fraction, k = best
        self.train_features, self.basis = train_z[:, :k].contiguous(), basis[:k].contiguous()
        ctx.history.append(
            {
                "epoch": 1,
                "val_accuracy": acc,
                "classifier": "nn",
                "chosen_variance_fraction": fraction,
                "chosen_components": k,
                "pca_images": int(pca_images),
                "by_variance_fraction": by_fraction,
            }
        )
        ctx.progress.log(
            f"eigenface (nn): kept {fraction:.0%} of the variance ({k} components), val {acc:.3f}"
        )
        task.done()

    def _nn_scores(self, images) -> torch.Tensor:
        """``[N, L]``: minus the distance to the nearest training image of each class (on the device)."""
        num = len(self.classes)

        def scores(part):
            d = torch.cdist(self._project(part, self.basis), self.train_features)  # [n, n_train]
            out = torch.full((len(part), num), float("inf"), device=d.device)
            out.scatter_reduce_(1, self.train_labels.expand(len(part), -1), d, reduce="amin")
            # a class without training images gets a finite score below every real one
            return -torch.where(torch.isinf(out), d.max() + 1.0, out)

        return map_chunks(images, scores, chunk=256)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Whitened PCA coefficients ``[N, K]`` (on the device)."""
        return map_chunks(images, lambda part: self._project(part, self.basis))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if self.classifier is None and self.train_features is None:
            raise RuntimeError("eigenface: fit() or load_state_dict() first")
        if len(images) == 0:
            return torch.empty(0, len(self.classes))
        if self.config.classifier == "nn":
            return self._nn_scores(images).cpu()
        return map_chunks(images, lambda part: self.classifier.scores(self._project(part, self.basis)).cpu())

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.config.classifier == "nn":
            return {
                "mean": self.mean,
                "basis": self.basis,
                "train_features": self.train_features,
                "train_labels": self.train_labels,
            }
        return {
            "mean": self.mean,
            "basis": self.basis,
            "weight": self.classifier.weight,
            "bias": self.classifier.bias,
        }

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        dim = 3 * self.resolution**2
        if tensors["mean"].shape != (dim,):
            raise ValueError("eigenface weights do not fit this resolution")
        self.mean = tensors["mean"].float().to(self.device)
        self.basis = tensors["basis"].float().to(self.device)
        if self.config.classifier == "nn":
            labels = tensors["train_labels"].long()
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise ValueError("eigenface (nn): training labels outside this class count")
            self.train_features = tensors["train_features"].float().to(self.device)
            self.train_labels = labels.to(self.device)
            return
        if tensors["weight"].shape[0] != len(self.classes):
            raise ValueError("eigenface weights do not fit this class count")
        self.classifier = LinearClassifier(
            tensors["weight"].float().to(self.device), tensors["bias"].float().to(self.device)
        )
