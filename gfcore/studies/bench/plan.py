"""Planning a bench (every spec checked before anything trains) and getting each method's run: reused
when finished, resumed when not, trained when new -- decided by the same checks as ``gfp train``
(:func:`gfcore.runs.training.existing_run_state`), so a bench never overwrites a run that differs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gfcore.config import build_config, parse_spec
from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.plugins import get_registries
from gfcore.studies.bench.spec import spec_slug
from gfcore.terminal.progress import Reporter

#: default parameters per method name: a mapping (``{"mymethod": {"epochs": 3}}``) or a function of the name
Overrides = Callable[[str], Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]] | None


@dataclass
class MethodPlan:
    """One method of the bench: its spec, class, parsed config, default overrides and run folder."""

    spec: str
    method: str
    cls: type
    config: Any
    overrides: dict
    run_dir: Path
    init_from: Path | None = None  # a run whose weights it starts from (gfp train --init-from), else random

    @property
    def slug(self) -> str:
        return self.run_dir.name


def _overrides_lookup(overrides_for: Overrides) -> Callable[[str], Mapping[str, Any] | None]:
    if overrides_for is None:
        return lambda name: None
    if isinstance(overrides_for, Mapping):
        return overrides_for.get
    return overrides_for


def plan_methods(specs: list[str], runs_root: Path, overrides_for: Overrides = None) -> list[MethodPlan]:
    """Parse and check every spec (names, parameters, duplicates); raises :class:`GfpError` on the first
    problem, so a typo costs nothing. Explicit spec parameters win over ``overrides_for`` defaults."""
    if not specs:
        raise GfpError("no methods to benchmark")
    registries = get_registries()
    lookup = _overrides_lookup(overrides_for)
    plans: list[MethodPlan] = []
    by_slug: dict[str, str] = {}
    for spec in specs:
        name, params = parse_spec(spec)
        cls = registries.attributor(name)  # unknown name: one line listing the valid ones
        extra = {k: v for k, v in dict(lookup(name) or {}).items() if v is not None and k not in params}
        config = build_config(cls.Config, {**params, **extra}, owner=f"method {name!r}")
        slug = spec_slug(spec)
        if slug in by_slug:
            raise GfpError(f"methods {by_slug[slug]!r} and {spec!r} are the same method; list it once")
        by_slug[slug] = spec
        plans.append(MethodPlan(spec, name, cls, config, extra, Path(runs_root) / slug))
    return plans


def with_starts(plans: list[MethodPlan], init_from: Mapping[str, str | Path] | None) -> list[MethodPlan]:
    """``plans`` with ``init_from`` (spec -> the run each starts from) applied; an unknown spec is a
    :class:`GfpError` before anything trains."""
    init_from = dict(init_from or {})
    unknown = sorted(set(init_from) - {p.spec for p in plans})
    if unknown:
        raise GfpError(f"init_from names {unknown[0]!r}, which is not one of the bench's methods")
    return [replace(p, init_from=Path(init_from[p.spec])) if p.spec in init_from else p for p in plans]


def obtain_run(plan: MethodPlan, dataset: PreparedDataset, seed: int, device, reporter: Reporter) -> bool:
    """Make sure ``plan.run_dir`` holds a complete run of the plan; True when a finished one was reused."""
    from gfcore.runs.training import existing_run_state, train_run
    from gfcore.runs.warmstart import init_record

    start = init_record(plan.init_from) if plan.init_from is not None else None
    state = existing_run_state(
        plan.run_dir, dataset, method=plan.method, config=plan.config, seed=seed, init_from=start
    )
    if state == "complete":
        reporter.log(f"{plan.spec}: reusing the finished run in {plan.run_dir}")
        return True
    if state == "unfinished":
        reporter.log(f"{plan.spec}: resuming the unfinished run in {plan.run_dir}")
    else:
        began = f" from the weights of {plan.init_from}" if plan.init_from is not None else ""
        reporter.log(f"{plan.spec}: training into {plan.run_dir}{began}")
    train_run(
        dataset,
        plan.run_dir,
        plan.spec,
        seed=seed,
        device=device,
        resume=state == "unfinished",
        overrides=plan.overrides,
        reporter=reporter,
        init_from=plan.init_from,
    )
    return False
