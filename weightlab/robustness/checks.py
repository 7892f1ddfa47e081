"""Checks of an uncertainty spec against the data it will run on, before any work is done.

They refuse (``SpecError``) or state (a warning, also kept in the run's manifest) what the engine
would otherwise compute quietly:

- units without any value (``read_dataset`` refuses them; a Dataset built in Python may hold them):
  stated, they rank last in every replication;
- ``drop_indicator`` on a framework with one indicator would drop the whole index;
  dropping the only indicator of a group removes that group from the index (its parent's weights
  are renormalised over the remaining members): stated;
- bootstrap re-estimation of PCA weights needs resamples with more distinct units than the
  members of every group PCA weighs. A bootstrap resample of ``n`` units holds on average
  ``n (1 - 1/e)`` distinct ones, with standard deviation about ``sqrt(n (e^-1 - 2 e^-2))``;
  the run is refused unless that mean minus five standard deviations exceeds the largest such
  group (otherwise some replications would keep factors of eigenvalue 0);
- ``reps`` above ``spec.MAX_REPS`` (checked by the spec itself).

:func:`check_nominal` builds the nominal index once the plan is compiled, so that its errors
(overflow, PCA on too few units, a shift that swamps the data...) come before the kernels run.
"""

from __future__ import annotations

import math
import warnings

from ..data import Dataset
from ..errors import SpecError
from ..weighting.base import parse_levels
from .spec import UncertaintySpec

PCA_SCHEMES = ("pca", "pca1")


def min_distinct_units(n: int) -> float:
    """Mean minus five standard deviations of the number of distinct units in a bootstrap resample."""
    return n * (1.0 - math.exp(-1.0)) - 5.0 * math.sqrt(n * (math.exp(-1.0) - 2.0 * math.exp(-2.0)))


def check_run(dataset: Dataset, spec: UncertaintySpec) -> list[str]:
    """Raise SpecError for a spec that cannot give a meaningful run on ``dataset``; return the
    statements (also issued as warnings) of behaviours the user should know about."""
    fw = dataset.framework
    where = spec.source or "spec"
    notes: list[str] = []
    spec.check_against(fw)
    empty = dataset.values.isna().all(axis=1)
    if empty.any():  # read_dataset refuses such units; a Dataset built in Python may still hold them
        notes.append(f"unit(s) {', '.join(map(str, dataset.units[empty.to_numpy()][:5]))} have no indicator value "
                     f"at all: their score is missing and they rank last in every replication")
    if spec.choices.drop_indicator:
        if len(fw.indicator_codes) == 1:
            raise SpecError(f"{where}: [choices] drop_indicator = true would drop '{fw.indicator_codes[0]}', the only "
                            f"indicator of the index: set drop_indicator = false.")
        lonely = [(c, fw.node(c).parent) for c in fw.indicator_codes if len(fw.children(fw.node(c).parent)) == 1]
        if lonely:
            notes.append(f"drop_indicator: dropping {', '.join(f'{c} (the only indicator of {g})' for c, g in lonely)} "
                         f"removes that group from the index for the replication; its parent's weights are "
                         f"renormalised over the remaining members")
    if spec.bootstrap_units:
        pca = [o.label for o in spec.choices.scheme if o.name in PCA_SCHEMES]
        if pca:
            levels = parse_levels(spec.choices.scheme_levels, fw)
            biggest = max((len(fw.children(g)), g) for lvl in levels for g in fw.groups_at(lvl + 1))
            floor = min_distinct_units(dataset.n_units)
            if floor <= biggest[0]:
                raise SpecError(f"{where}: [bootstrap] units = true with scheme {pca[0]}: a resample of "
                                f"{dataset.n_units} units may hold no more distinct units than the {biggest[0]} "
                                f"members of group '{biggest[1]}', and PCA would then keep factors of eigenvalue 0; "
                                f"set units = false, drop {pca[0]} from [choices] scheme, or use more units.")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return notes


def check_nominal(dataset: Dataset, spec: UncertaintySpec, plan=None):
    """Build the nominal index (the first option of every choice, unperturbed weights) and return it
    (an IndexResult), so that its errors (overflow, PCA on too few units, every unit tied...) come
    before the kernels are compiled and run; the run's nominal ranks are this build's.

    With the compiled ``plan`` of ``spec`` on ``dataset``, the build reads the plan's matrix of those
    first options (normalised by the same code, so the same values) instead of normalising again:
    the nominal result then holds no copy of its own (305 MiB at 100,000 units x 400 indicators)."""
    from ..index import build_index
    from .factors import STAGES
    from .plan import staged_data

    ch = spec.choices
    data = staged_data(dataset, spec, {f.name: getattr(ch, f.name)[0] for f in STAGES})
    normalised = None if plan is None else plan.matrix()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_index(data.dataset, normalizer=ch.normalizer[0].build(), scheme=ch.scheme[0].build(),
                           aggregator=ch.aggregator[0].build(), imputation=data.imputation.name,
                           scheme_level=ch.scheme_levels, normalised=normalised)
