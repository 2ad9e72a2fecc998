"""Multinomial logistic regression trained in torch, with its regularisation chosen on validation.

The objective is scikit-learn's: ``0.5 * ||W||^2 + C * sum_i CE(x_i, y_i)``, written per sample as
``mean CE + ||W||^2 / (2 C n)`` so that ``C`` means the same at any training-set size (small ``C`` =
strong regularisation). The bias is not penalised. It is convex and smooth, so full-batch L-BFGS with a
strong-Wolfe line search reaches the optimum in a few dozen iterations on whatever device holds the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import GfpError

from ._data import accuracy


@dataclass
class LinearClassifier:
    weight: torch.Tensor  # [L, D]
    bias: torch.Tensor  # [L]

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, features, self.weight.t())


def train_logistic(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    c: float,
    *,
    max_iter: int = 200,
    init: LinearClassifier | None = None,
) -> LinearClassifier:
    """Fit ``W, b`` on float ``features [n, D]`` and ``labels [n]`` (same device) for one value of ``C``."""
    n, dim = features.shape
    device = features.device
    if init is not None:
        weight = init.weight.detach().clone().requires_grad_(True)
        bias = init.bias.detach().clone().requires_grad_(True)
    else:
        weight = torch.zeros(num_classes, dim, device=device, requires_grad=True)
        bias = torch.zeros(num_classes, device=device, requires_grad=True)
    penalty = 1.0 / (2.0 * c * n)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=1,
        max_iter=max_iter,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-6,
        tolerance_change=1e-10,
    )

    def closure():
        opt.zero_grad()
        loss = (
            F.cross_entropy(torch.addmm(bias, features, weight.t()), labels) + penalty * weight.pow(2).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return LinearClassifier(weight.detach(), bias.detach())


def select_logistic(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    num_classes: int,
    c_grid: tuple[float, ...],
    *,
    max_iter: int = 200,
) -> tuple[LinearClassifier, float, dict[float, float]]:
    """Train one classifier per ``C`` (ascending, each warm-started from the last) and keep the one with the
    best validation accuracy; ties go to the smaller ``C``, the simpler model. Without validation images
    the middle of the grid is used. Returns ``(classifier, chosen C, {C: val accuracy})``.
    """
    grid = sorted(set(c_grid))
    if not grid:
        raise GfpError("c_grid is empty: give at least one C value")
    if len(val_y) == 0:
        c = grid[len(grid) // 2]
        return train_logistic(train_x, train_y, num_classes, c, max_iter=max_iter), c, {}
    best, best_c, best_acc, scores, previous = None, grid[0], -1.0, {}, None
    for c in grid:
        model = train_logistic(train_x, train_y, num_classes, c, max_iter=max_iter, init=previous)
        acc = accuracy(model.scores(val_x), val_y)
        scores[c] = acc
        if acc > best_acc:
            best, best_c, best_acc = model, c, acc
        previous = model
    return best, best_c, scores
