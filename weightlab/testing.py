"""Common checks of plug-ins: every registered normalizer, weighting scheme and aggregator meets them.

As scikit-learn's ``parametrize_with_checks``, a new plug-in is tested by registering it::

    from weightlab.testing import parametrize_with_checks
    from weightlab.normalization import NORMALIZERS

    @parametrize_with_checks(NORMALIZERS)
    def test_normalizer(plugin, check):
        check(plugin)

or all at once: ``check_normalizer(cls)``, ``check_scheme(cls)``, ``check_aggregator(cls)``.

The expectations are independent of the plug-in's code: invariances (unit permutation, the scale of
the data, the scale of the weights), output ranges and monotonicity, the direction (cost) rule, the
plain numpy power mean, the contract of the estimator API. What is particular to a plug-in comes from
attributes it declares with its class (``example_params``, ``constant_value``, ``cost_rule``,
``output_range``, ``negated_params`` on normalizers; ``data_driven``, ``requires_positive``,
``constant_member_weight`` on schemes; ``power`` and the positivity rule on aggregators), never from
a list of names here. Each check raises ``AssertionError`` (or the plug-in's own error) on failure.

Imports numpy and pandas only (pytest in :func:`parametrize_with_checks`).
"""

from __future__ import annotations

import itertools
import warnings
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from ._estimator import clone
from .errors import InputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from .framework import Framework

Check = Callable[[type], None]


# ---------------------------------------------------------------------------------------------
# data of the checks
# ---------------------------------------------------------------------------------------------

def check_table() -> pd.DataFrame:
    """12 units x 3 indicators with values in [0.5, 12]: a tie, a triple tie and two missing cells."""
    rng = np.random.default_rng(11)
    vals = np.minimum(np.round(rng.gamma(2.0, 2.0, size=(12, 3)) + 0.5, 1), 12.0)
    vals[2, 0] = vals[5, 0]  # a tie
    vals[7, 1] = vals[1, 1] = vals[9, 1]  # a triple tie
    vals[4, 0] = np.nan
    vals[10, 2] = np.nan
    return pd.DataFrame(vals, columns=["x1", "x2", "x3"], index=pd.Index([f"u{i:02d}" for i in range(12)], name="unit"))


def three_level_framework(cost: tuple[str, ...] = ()) -> "Framework":
    """The checks' framework: index -> A (weight 2), B -> a1, a2 (weight 0.5), b1 -> x1 .. x7 (x2 weight
    2, x7 weight 3; a2 has one member); the indicators of ``cost`` have direction -1."""
    from .framework import Framework

    members = [("x1", "a1", 1), ("x2", "a1", 2), ("x3", "a1", 1), ("x4", "a2", 1), ("x5", "b1", 1),
               ("x6", "b1", 1), ("x7", "b1", 3)]
    indicators = [{"code": c, "parent": p, **({"weight": w} if w != 1 else {}),
                   **({"direction": -1} if c in cost else {})} for c, p, w in members]
    return Framework.from_dict({
        "index": {"code": "idx"},
        "groups": [{"code": "A", "parent": "idx", "weight": 2}, {"code": "B", "parent": "idx"},
                   {"code": "a1", "parent": "A"}, {"code": "a2", "parent": "A", "weight": 0.5},
                   {"code": "b1", "parent": "B"}],
        "indicators": indicators,
    })


def check_dataset(n_units: int = 30, seed: int = 9) -> "tuple[pd.DataFrame, Framework]":
    """Values and framework (:func:`three_level_framework`) of 3 levels (7 indicators, a single-member
    group), positive, with ties."""
    fw = three_level_framework()
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_units, 1))
    vals = np.exp(0.8 * latent + rng.normal(scale=0.7, size=(n_units, 7)))
    vals[:3] = vals[3]  # three units tied everywhere
    df = pd.DataFrame(np.round(vals, 3) + 0.01, columns=fw.indicator_codes,
                      index=pd.Index([f"u{i:02d}" for i in range(n_units)], name="unit"))
    return df, fw


def _make(cls: type, **override: Any):
    return cls(**{**cls.example_params, **override})


def _assert_sign_reversed(benefit: np.ndarray, cost: np.ndarray, what: str) -> None:
    for i, j in itertools.combinations(range(len(benefit)), 2):
        if np.isnan(benefit[i]) or np.isnan(benefit[j]):
            continue
        assert np.sign(cost[i] - cost[j]) == -np.sign(benefit[i] - benefit[j]), f"{what}: units {i}, {j}"


# ---------------------------------------------------------------------------------------------
# normalizers
# ---------------------------------------------------------------------------------------------

def check_normalizer_init_stores_parameters(cls: type) -> None:
    """``__init__`` stores its arguments only, ``fit`` returns self and learns ``*_`` attributes only."""
    import inspect

    X = check_table()
    est = _make(cls, directions=[1, -1, 1])
    sig = {p: v.default for p, v in inspect.signature(cls.__init__).parameters.items() if p != "self"}
    params = est.get_params()
    assert params == {**sig, **cls.example_params, "directions": [1, -1, 1]}, params
    assert not [a for a in vars(est) if a.endswith("_")], "attributes learned in __init__"
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    assert est.fit(X) is est
    assert est.n_features_in_ == 3 and list(est.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(est.directions_, [1, -1, 1])
    assert est.get_params() == params, "fit changed a parameter"


def check_normalizer_frames_and_arrays(cls: type) -> None:
    """DataFrame in -> DataFrame out (index, columns, float), NaN exactly where the input has NaN; an
    array gives the same numbers as an array."""
    X = check_table()
    out = _make(cls).fit_transform(X)
    assert isinstance(out, pd.DataFrame) and out.index.equals(X.index) and out.columns.equals(X.columns)
    assert (out.dtypes == float).all()
    np.testing.assert_array_equal(out.isna().to_numpy(), X.isna().to_numpy())
    assert np.isfinite(out.to_numpy()[X.notna().to_numpy()]).all()
    est = _make(cls)
    arr = est.fit_transform(X.to_numpy())
    assert type(arr) is np.ndarray and arr.shape == X.shape
    np.testing.assert_allclose(arr, out.to_numpy(), rtol=1e-12)
    assert not hasattr(est, "feature_names_in_")


def check_normalizer_fit_idempotent(cls: type) -> None:
    """Refitting changes nothing, fit + transform == fit_transform, columns are matched by name."""
    X = check_table()
    est = _make(cls).fit(X)
    first = est.transform(X)
    est.fit(X)
    pd.testing.assert_frame_equal(est.transform(X), first)
    pd.testing.assert_frame_equal(_make(cls).fit_transform(X), first)
    order = ["x3", "x1", "x2"]
    pd.testing.assert_frame_equal(est.transform(X[order]), first[order])


def check_normalizer_monotone(cls: type) -> None:
    """Higher is better: a benefit column keeps the order of its values (ties stay ties; strictly for
    methods that do not clip)."""
    X = check_table()
    out = _make(cls).fit_transform(X).to_numpy()
    for j in range(X.shape[1]):
        x = X.iloc[:, j].to_numpy()
        for a, b in itertools.permutations(np.flatnonzero(~np.isnan(x)), 2):
            if x[a] < x[b]:
                assert out[a, j] <= out[b, j] if cls.clips else out[a, j] < out[b, j], (j, a, b)
            elif x[a] == x[b]:
                assert out[a, j] == out[b, j], (j, a, b)


def check_normalizer_cost_reverses_order(cls: type) -> None:
    """A cost column reverses the benefit order of that column and leaves the other columns alone."""
    X = check_table()
    benefit = _make(cls).fit_transform(X).to_numpy()
    cost = _make(cls, directions={"x2": -1}).fit_transform(X).to_numpy()
    np.testing.assert_array_equal(cost[:, [0, 2]], benefit[:, [0, 2]])
    if not cls.clips:
        _assert_sign_reversed(benefit[:, 1], cost[:, 1], f"{cls.__name__} cost column")


def check_normalizer_cost_rule(cls: type) -> None:
    """The declared ``cost_rule``: a cost column equals the benefit result of ``-x`` ("negate", under
    ``negated_params``) or of ``min + max - x`` ("reflect"); "order" promises the order only."""
    X = check_table()
    x = X["x2"]
    if cls.cost_rule == "order":
        return
    assert cls.cost_rule in ("negate", "reflect"), f"{cls.__name__}: unknown cost_rule {cls.cost_rule!r}"
    cost = _make(cls, directions=[1, -1, 1]).fit_transform(X)["x2"].to_numpy()
    if cls.cost_rule == "negate":
        flipped = X.assign(x2=-x)
        params = cls.negated_params(dict(cls.example_params))
    else:
        flipped = X.assign(x2=x.min() + x.max() - x)
        params = dict(cls.example_params)
    expected = cls(**params).fit_transform(flipped)["x2"].to_numpy()
    np.testing.assert_allclose(cost, expected, rtol=1e-12, atol=1e-15)


def check_normalizer_unit_permutation(cls: type) -> None:
    """Reordering the units reorders the output and changes nothing else (a reference unit is
    named by its id, which moves with it)."""
    X = check_table()
    perm = np.random.default_rng(5).permutation(len(X))
    params = {"directions": [1, -1, 1]}
    if "ref" in cls.example_params:  # positions move with the permutation: follow the same unit
        params["ref"] = X.index[cls.example_params["ref"]]
    out = _make(cls, **params).fit_transform(X)
    pd.testing.assert_frame_equal(_make(cls, **params).fit_transform(X.iloc[perm]), out.iloc[perm], rtol=1e-12)


def check_normalizer_constant_and_missing_columns(cls: type) -> None:
    """A constant column gives one finite value (``constant_value`` when declared) without warnings; an
    all-missing column stays missing, or is refused with an error naming it."""
    const = pd.DataFrame({"c": [3.0, 3.0, np.nan, 3.0, 3.0], "v": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _make(cls).fit_transform(const)["c"].to_numpy()
        missing = const.assign(c=np.nan)
        try:
            empty = _make(cls).fit_transform(missing)["c"]
        except InputError as exc:
            assert "'c'" in str(exc), str(exc)
        else:
            assert empty.isna().all()
    seen = out[~np.isnan(const["c"].to_numpy())]
    assert np.isnan(out[2]) and np.isfinite(seen).all() and (seen == seen[0]).all(), out
    if cls.constant_value is not None:
        assert seen[0] == cls.constant_value, (seen[0], cls.constant_value)


def check_normalizer_output_range(cls: type) -> None:
    """Every output, benefit or cost, lies in the declared ``output_range`` (to rounding: a reflected
    cost column's ``min + max - min`` may come out one ulp above ``max``)."""
    if cls.output_range is None:
        return
    lo, hi = cls.output_range
    X = check_table()
    for directions in (None, [-1, -1, -1]):
        out = _make(cls, directions=directions).fit_transform(X).to_numpy()
        seen = out[~np.isnan(out)]
        slack = 4 * np.finfo(float).eps * np.abs(seen).max()
        assert seen.min() >= lo - slack and seen.max() <= hi + slack, (directions, seen.min(), seen.max())


def check_normalizer_input_errors(cls: type) -> None:
    """Infinite values, bad directions and a table other than the fitted one are refused with the
    column named."""
    X = check_table()
    bad = X.copy()
    bad.iloc[3, 2] = -np.inf
    _raises(InputError, "column 'x3' has an infinite value in row 'u03'", lambda: _make(cls).fit(bad))
    _raises(InputError, "column 'x3'", lambda: _make(cls).fit(X.iloc[:4]).transform(bad))
    _raises(ParameterError, "'x9'", lambda: _make(cls, directions={"x9": -1}).fit(X))
    _raises(ParameterError, "3 columns", lambda: _make(cls, directions=[1, -1]).fit(X))
    _raises(ParameterError, "direction of column 'x2' is 0", lambda: _make(cls, directions=[1, 0, 1]).fit(X))
    _raises(ParameterError, "'directions' parameter", lambda: _make(cls, directions="cost").fit(X))
    est = _make(cls).fit(X)
    _raises(InputError, "x9", lambda: est.transform(X.rename(columns={"x2": "x9"})))
    _raises(InputError, "2 features", lambda: est.transform(X.to_numpy()[:, :2]))


NORMALIZER_CHECKS: tuple[Check, ...] = (
    check_normalizer_init_stores_parameters, check_normalizer_frames_and_arrays, check_normalizer_fit_idempotent,
    check_normalizer_monotone, check_normalizer_cost_reverses_order, check_normalizer_cost_rule,
    check_normalizer_unit_permutation, check_normalizer_constant_and_missing_columns, check_normalizer_output_range,
    check_normalizer_input_errors,
)


def check_normalizer(cls: type) -> None:
    """Run every normalizer check on ``cls``."""
    for check in NORMALIZER_CHECKS:
        check(cls)


# ---------------------------------------------------------------------------------------------
# weighting schemes
# ---------------------------------------------------------------------------------------------

def _group_codes(fw) -> list[str]:
    return [fw.index.code] + [g.code for g in fw.groups]


def _scheme_weights(cls: type, X: pd.DataFrame, fw, level: "int | str" = "all") -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _make(cls).fit(X, fw, level=level).weights_.values


def check_scheme_contract(cls: type) -> None:
    """Weights finite, >= 0, summing to 1 in every group (1 for a single member), effective weights
    summing to 1; nothing learned in ``__init__``; fit returns self and is idempotent; a scheme that
    refuses values <= 0 (``requires_positive``) says so."""
    X, fw = check_dataset()
    scheme = _make(cls)
    assert not hasattr(scheme, "weights_"), "weights learned in __init__"
    assert clone(scheme).get_params() == scheme.get_params()
    if cls.requires_positive:
        _raises(InputError, "strictly positive", lambda: _make(cls).fit(X - X.min(), fw))
    assert scheme.fit(X, fw) is scheme
    w = scheme.weights_
    assert np.isfinite(w.values).all() and (w.values >= 0).all(), w.values
    for group in _group_codes(fw):
        assert abs(w.group(group).sum() - 1.0) <= 1e-12, group
    assert w.values["x4"] == 1.0, "single-member group"
    assert abs(w.effective().sum() - 1.0) <= 1e-12
    np.testing.assert_allclose(_make(cls).fit(X, fw).weights_.values, w.values, rtol=1e-12)


def check_scheme_unit_permutation(cls: type) -> None:
    """The order of the units does not matter."""
    X, fw = check_dataset()
    w = _scheme_weights(cls, X, fw)
    perm = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(_scheme_weights(cls, X.iloc[perm], fw), w, rtol=1e-9, atol=1e-12)


def check_scheme_data_dependence(cls: type) -> None:
    """A data-driven scheme's weights do not change when every value is multiplied by one positive
    factor, nor its indicator-level weights when each indicator is multiplied by its own (a change of
    units: every statistic is a ratio, a min-max rescaling or a correlation; not checked for a scheme
    declaring ``unit_free = False``), but they do change with the data; a scheme that is not data-driven gives the same weights for any data."""
    X, fw = check_dataset()
    w = _scheme_weights(cls, X, fw)
    other = check_dataset(seed=2)[0]
    if cls.data_driven:
        np.testing.assert_allclose(_scheme_weights(cls, X * 7.25, fw), w, rtol=1e-9, atol=1e-12)
        units = np.array([7.25, 0.5, 3.0, 1.0, 20.0, 0.125, 2.0])
        if cls.unit_free:
            np.testing.assert_allclose(_scheme_weights(cls, X * units, fw, level=1),
                                       _scheme_weights(cls, X, fw, level=1), rtol=1e-9, atol=1e-12)
        assert not np.allclose(_scheme_weights(cls, other, fw), w), "data-driven weights ignore the data"
    else:
        np.testing.assert_array_equal(_scheme_weights(cls, other, fw), w)


def check_scheme_constant_member(cls: type) -> None:
    """A constant member of a group whose other members vary gets ``constant_member_weight``."""
    if cls.constant_member_weight is None:
        return
    X, fw = check_dataset()
    w = _scheme_weights(cls, X.assign(x6=2.5), fw)
    assert abs(w["x6"] - cls.constant_member_weight) <= 1e-12, w["x6"]


def check_scheme_member_without_values(cls: type) -> None:
    """A data-driven scheme refuses a member with no value at all, naming it and its group."""
    if not cls.data_driven:
        return
    X, fw = check_dataset()
    _raises(InputError, "'x2' of group 'a1' has no values", lambda: _make(cls).fit(X.assign(x2=np.nan), fw))


SCHEME_CHECKS: tuple[Check, ...] = (check_scheme_contract, check_scheme_unit_permutation, check_scheme_data_dependence,
                                    check_scheme_constant_member, check_scheme_member_without_values)


def check_scheme(cls: type) -> None:
    """Run every weighting-scheme check on ``cls``."""
    for check in SCHEME_CHECKS:
        check(cls)


# ---------------------------------------------------------------------------------------------
# aggregators
# ---------------------------------------------------------------------------------------------

def power_mean(x: np.ndarray, w: np.ndarray, p: float) -> np.ndarray:
    """Row-wise weighted power mean of complete rows, plain numpy: ``(x**p @ w / sum w)**(1/p)``,
    ``exp(ln x @ w / sum w)`` for p = 0."""
    w = np.asarray(w, dtype=float) / np.sum(w)
    return np.exp(np.log(x) @ w) if p == 0 else (x ** p @ w) ** (1.0 / p)


def _members(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 3.0, size=(20, 4)), np.array([0.1, 0.2, 0.3, 0.4])


def check_aggregator_power_mean(cls: type) -> None:
    """The weighted power mean of its ``power``; missing members renormalise the others' weights, or
    make the row missing without ``skip_missing``; a row with nothing present is missing."""
    agg = _make(cls)
    x, w = _members()
    np.testing.assert_allclose(agg.aggregate(x, w), power_mean(x, w, agg.power), rtol=1e-12)
    x[0, 1] = np.nan
    keep = [0, 2, 3]
    want = power_mean(x[:1, keep], w[keep], agg.power)[0]
    assert abs(agg.aggregate(x, w)[0] - want) <= 1e-12 * abs(want)
    assert np.isnan(agg.aggregate(x, w, skip_missing=False)[0])
    assert np.isnan(agg.aggregate(np.full((2, 3), np.nan), w[:3])).all()


def check_aggregator_mean_properties(cls: type) -> None:
    """Properties of every mean: between the smallest and largest member, equal members give their
    value, homogeneous of degree 1, the scale of the weights does not matter, and the order of the
    members (with their weights) does not either; below the arithmetic mean for power < 1, above it
    for power > 1 (the power-mean inequality)."""
    agg = _make(cls)
    x, w = _members(3)
    out = agg.aggregate(x, w)
    tol = 1e-12 * np.abs(out)
    assert (out >= x.min(axis=1) - tol).all() and (out <= x.max(axis=1) + tol).all()
    np.testing.assert_allclose(agg.aggregate(np.full((3, 4), 1.7), w), 1.7, rtol=1e-14)
    np.testing.assert_allclose(agg.aggregate(2.5 * x, w), 2.5 * out, rtol=1e-12)
    np.testing.assert_allclose(agg.aggregate(x, 8.0 * w), out, rtol=1e-12)
    order = [2, 0, 3, 1]
    np.testing.assert_allclose(agg.aggregate(x[:, order], w[order]), out, rtol=1e-12)
    arithmetic = x @ (w / w.sum())
    if agg.power < 1:
        assert (out <= arithmetic * (1 + 1e-12)).all()
    elif agg.power > 1:
        assert (out >= arithmetic * (1 - 1e-12)).all()


def check_aggregator_monotone_and_permutation(cls: type) -> None:
    """Reordering units reorders the output; raising one member of one unit raises that unit's
    aggregate and no other."""
    agg = _make(cls)
    x, w = _members(7)
    x[3, 2] = np.nan
    out = agg.aggregate(x, w)
    perm = np.random.default_rng(7).permutation(len(x))
    np.testing.assert_allclose(agg.aggregate(x[perm], w), out[perm], rtol=1e-14)
    bumped = x.copy()
    bumped[5, 1] += 0.5
    after = agg.aggregate(bumped, w)
    assert after[5] > out[5]
    np.testing.assert_array_equal(np.delete(after, 5), np.delete(out, 5))


def check_aggregator_positivity(cls: type) -> None:
    """The positivity rule follows the power: p <= 0 refuses a zero member, p > 0 (p != 1) a negative
    one, p = 1 accepts anything; ``shift`` moves only the offending column, to minimum ``shift``."""
    agg = _make(cls)
    p = agg.power
    assert agg.needs_positive() == (p <= 0) and agg.needs_nonnegative() == (p > 0 and p != 1)
    bad = -1.0 if p > 0 else 0.0
    x = np.array([[bad, 1.0], [0.5, 2.0], [1.0, 3.0]])
    w = np.array([0.5, 0.5])
    if p == 1:
        np.testing.assert_allclose(agg.aggregate(x, w), x.mean(axis=1), rtol=1e-14)
        return
    _raises(InputError, "'m0' has minimum", lambda: agg.aggregate(x, w, group="g", members=["m0", "m1"]))
    if "shift" in agg.get_params():
        shifted = _make(cls, shift=0.1).aggregate(x, w)
        moved = np.column_stack([x[:, 0] - bad + 0.1, x[:, 1]])
        np.testing.assert_allclose(shifted, power_mean(moved, w, p), rtol=1e-12)


AGGREGATOR_CHECKS: tuple[Check, ...] = (check_aggregator_power_mean, check_aggregator_mean_properties,
                                        check_aggregator_monotone_and_permutation, check_aggregator_positivity)


def check_aggregator(cls: type) -> None:
    """Run every aggregator check on ``cls``."""
    for check in AGGREGATOR_CHECKS:
        check(cls)


# ---------------------------------------------------------------------------------------------
# pytest
# ---------------------------------------------------------------------------------------------

def checks_for(registry) -> tuple[Check, ...]:
    """The checks of a registry's kind of plug-in."""
    from .aggregation import AGGREGATORS
    from .normalization import NORMALIZERS
    from .weighting import SCHEMES

    table = {id(NORMALIZERS): NORMALIZER_CHECKS, id(SCHEMES): SCHEME_CHECKS, id(AGGREGATORS): AGGREGATOR_CHECKS}
    return table[id(registry)]


def parametrize_with_checks(registry):
    """``pytest.mark.parametrize("plugin, check", ...)`` over every registered plug-in of ``registry``
    and every check of its kind, with ids ``name-check``."""
    import pytest

    cases = [pytest.param(registry.get_class(name), check, id=f"{name}-{check.__name__.removeprefix('check_')}")
             for name in registry.available() for check in checks_for(registry)]
    return pytest.mark.parametrize("plugin, check", cases)


def _raises(kind: type, text: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except kind as exc:
        assert text in str(exc), f"{kind.__name__} without {text!r}: {exc}"
    else:
        raise AssertionError(f"no {kind.__name__} ({text!r} expected)")
