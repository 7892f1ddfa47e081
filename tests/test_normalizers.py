"""Normalizers: common contract over the registry, conformance with plain formulas, error messages.

Expected values come from independent numpy/scipy formulas written here or from small examples
worked by hand, never from the normalizers' own output.
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy import stats
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from weightlab.errors import InputError, ParameterError
from weightlab.normalization import NORMALIZERS
from weightlab.testing import check_table

ALL = NORMALIZERS.available()


def make(name, **override):
    """The normalizer with the parameters it declares for the common checks (``example_params``)."""
    cls = NORMALIZERS.get_class(name)
    return cls(**{**cls.example_params, **override})


@pytest.fixture
def X() -> pd.DataFrame:
    """The common checks' table: 12 units x 3 indicators in [0.5, 12], with ties and two missing cells."""
    return check_table()


# The common contract (parameters, frames and arrays, idempotence, direction and cost rules, unit
# permutation, constant and missing columns, output ranges, input errors) is in weightlab.testing,
# run on every registered normalizer by tests/test_common_checks.py.


def test_constant_minmax_uses_middle_of_custom_range():
    out = make("minmax", range=(10, 20)).fit_transform(np.array([[7.0], [7.0]]))
    np.testing.assert_array_equal(out, [[15.0], [15.0]])


@pytest.mark.parametrize("name", ALL)
def test_works_in_a_pipeline(name, X):
    y = np.arange(len(X), dtype=float)
    pipe = make_pipeline(make(name), SimpleImputer(strategy="mean"), LinearRegression())
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    np.testing.assert_allclose(pipe[0].transform(X).to_numpy(), make(name).fit_transform(X).to_numpy())
    pipe2 = clone(pipe).fit(X, y)
    np.testing.assert_allclose(pipe2.predict(X), pipe.predict(X))
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(restored.predict(X), pipe.predict(X))


def test_input_funnel_messages(X):
    with pytest.raises(InputError, match="2-D"):
        make("minmax").fit(np.arange(3.0))
    with pytest.raises(InputError, match="to_frame"):
        make("minmax").fit(X["x1"])
    text = X.astype(object)
    text.iloc[1, 1] = "high"
    with pytest.raises(InputError, match=r"column 'x2' is not numeric \('high' in row 'u01'\)"):
        make("minmax").fit(text)
    with pytest.raises(InputError, match="0 row|0 sample"):
        make("minmax").fit(X.iloc[:0])
    numeric_strings = X.astype(object).assign(x1=X["x1"].astype(str))
    np.testing.assert_allclose(make("minmax").fit_transform(numeric_strings).to_numpy(),
                               make("minmax").fit_transform(X).to_numpy())


# ---------------------------------------------------------------------------------------------
# conformance: plain formulas and hand-worked examples
# ---------------------------------------------------------------------------------------------

def _col(X, j=1):
    return X.iloc[:, j].to_numpy()


def test_minmax_formula(X):
    a, b = -1.0, 3.0
    out = make("minmax", range=(a, b), directions=[1, -1, 1]).fit_transform(X)
    for j, s in enumerate([1, -1, 1]):
        x = _col(X, j)
        lo, hi = np.nanmin(x), np.nanmax(x)
        expected = a + ((x - lo) if s > 0 else (hi - x)) / (hi - lo) * (b - a)
        np.testing.assert_allclose(out.iloc[:, j], expected, rtol=1e-12)


def test_minmax_hand_example():
    out = make("minmax", range=(0, 100)).fit_transform(np.array([[2.0], [4.0], [10.0]]))
    np.testing.assert_allclose(out.ravel(), [0.0, 25.0, 100.0])
    out = make("minmax", directions=[-1]).fit_transform(np.array([[2.0], [4.0], [10.0]]))
    np.testing.assert_allclose(out.ravel(), [1.0, 0.75, 0.0])


def test_log_minmax_formula_and_hand_example(X):
    x = _col(X)
    lx = np.log(1.0 + x)
    lo, hi = np.nanmin(lx), np.nanmax(lx)
    out = make("log_minmax", directions=[1, -1, 1]).fit_transform(X)
    np.testing.assert_allclose(out["x2"], (hi - lx) / (hi - lo), rtol=1e-12)
    e = math.e
    out = make("log_minmax").fit_transform(np.array([[0.0], [e - 1], [e**2 - 1]]))
    np.testing.assert_allclose(out.ravel(), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("ddof", [0, 1])
def test_zscore_formula(X, ddof):
    out = make("zscore", ddof=ddof, directions=[1, -1, 1]).fit_transform(X)
    for j, s in enumerate([1, -1, 1]):
        expected = s * stats.zscore(_col(X, j), ddof=ddof, nan_policy="omit")
        np.testing.assert_allclose(out.iloc[:, j], expected, rtol=1e-12, atol=1e-12)


def test_zscore_hand_example_states_ddof():
    x = np.array([[2.0], [4.0], [6.0]])
    np.testing.assert_allclose(make("zscore").fit_transform(x).ravel(), [-1.0, 0.0, 1.0])  # sd = 2 with ddof=1
    sd0 = math.sqrt(8 / 3)
    np.testing.assert_allclose(make("zscore", ddof=0).fit_transform(x).ravel(), [-2 / sd0, 0.0, 2 / sd0])


def _ranks_omit_nan(x, method):
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    out[ok] = stats.rankdata(x[ok], method=method)
    return out


@pytest.mark.parametrize("s", [1, -1])
def test_rank_percentile_borda_formulas(X, s):
    for j in range(3):
        x = _col(X, j)
        z = s * x
        n = np.sum(~np.isnan(x))
        dirs = [s] * 3
        r = _ranks_omit_nan(z, "average")
        np.testing.assert_allclose(make("rank", directions=dirs).fit_transform(X).iloc[:, j], r)
        np.testing.assert_allclose(make("percentile", directions=dirs).fit_transform(X).iloc[:, j], (r - 1) / (n - 1))
        beaten = np.array([np.nan if np.isnan(v) else np.sum(z[~np.isnan(z)] < v) for v in z])
        np.testing.assert_allclose(make("borda", directions=dirs).fit_transform(X).iloc[:, j], beaten)
        np.testing.assert_allclose(beaten, _ranks_omit_nan(z, "min") - 1)


def test_rank_hand_examples():
    x = np.array([[10.0], [20.0], [20.0], [5.0], [np.nan]])
    np.testing.assert_allclose(make("rank").fit_transform(x).ravel(), [2, 3.5, 3.5, 1, np.nan])
    np.testing.assert_allclose(make("percentile").fit_transform(x).ravel(), [1 / 3, 5 / 6, 5 / 6, 0, np.nan])
    np.testing.assert_allclose(make("borda").fit_transform(x).ravel(), [1, 2, 2, 0, np.nan])
    np.testing.assert_allclose(make("borda", directions=[-1]).fit_transform(x).ravel(), [2, 0, 0, 3, np.nan])
    np.testing.assert_allclose(make("rank", directions=[-1]).fit_transform(x).ravel(), [3, 1.5, 1.5, 4, np.nan])


def test_ranks_of_values_not_seen_in_fit():
    fitted = np.array([[1.0], [2.0], [3.0]])
    new = np.array([[2.5], [100.0], [-5.0], [2.0]])
    np.testing.assert_allclose(make("rank").fit(fitted).transform(new).ravel(), [2.5, 3.5, 0.5, 2.0])
    np.testing.assert_allclose(make("percentile").fit(fitted).transform(new).ravel(), [0.75, 1.0, 0.0, 0.5])
    np.testing.assert_allclose(make("borda").fit(fitted).transform(new).ravel(), [2, 3, 0, 1])


def test_goalposts_formula_and_per_column_bounds(X):
    lower, upper = [1.0, 2.0, 0.0], [8.0, 6.0, 20.0]
    out = make("goalposts", lower=lower, upper=upper, scale=100, directions=[1, -1, 1]).fit_transform(X)
    for j, s in enumerate([1, -1, 1]):
        x = _col(X, j)
        y = (x - lower[j]) / (upper[j] - lower[j]) if s > 0 else (upper[j] - x) / (upper[j] - lower[j])
        np.testing.assert_allclose(out.iloc[:, j], 100 * np.clip(y, 0, 1), rtol=1e-12)
    as_dict = make("goalposts", lower=dict(zip(["x3", "x2", "x1"], lower[::-1])),
                   upper=dict(zip(X.columns, upper)), scale=100, directions=[1, -1, 1]).fit_transform(X)
    pd.testing.assert_frame_equal(as_dict, out)


def test_goalposts_hand_example():
    x = np.array([[-5.0], [2.5], [10.0], [15.0]])
    np.testing.assert_allclose(make("goalposts", lower=0, upper=10, scale=100).fit_transform(x).ravel(),
                               [0, 25, 100, 100])
    np.testing.assert_allclose(make("goalposts", lower=0, upper=10, scale=100, directions=[-1]).fit_transform(x).ravel(),
                               [100, 75, 0, 0])


def test_dist_to_max_formula_and_hand_example(X):
    out = make("dist_to_max", directions=[1, -1, 1]).fit_transform(X)
    x = _col(X)
    np.testing.assert_allclose(out["x1"], _col(X, 0) / np.nanmax(_col(X, 0)), rtol=1e-12)
    np.testing.assert_allclose(out["x2"], 1 - (x - np.nanmin(x)) / np.nanmax(x), rtol=1e-12)
    x = np.array([[1.0], [2.0], [4.0]])
    np.testing.assert_allclose(make("dist_to_max").fit_transform(x).ravel(), [0.25, 0.5, 1.0])
    np.testing.assert_allclose(make("dist_to_max", directions=[-1]).fit_transform(x).ravel(), [1.0, 0.75, 0.25])
    np.testing.assert_allclose(make("dist_to_max").fit_transform(np.zeros((3, 1))).ravel(), [1.0, 1.0, 1.0])


def test_dist_to_ref_formula_and_hand_example(X):
    out = make("dist_to_ref", ref="u07", directions=[1, -1, 1]).fit_transform(X)
    x1, x2 = _col(X, 0), _col(X, 1)
    np.testing.assert_allclose(out["x1"], x1 / x1[7], rtol=1e-12)
    m = np.nanmin(x2) + np.nanmax(x2)
    np.testing.assert_allclose(out["x2"], (m - x2) / (m - x2[7]), rtol=1e-12)
    df = pd.DataFrame({"v": [1.0, 2.0, 4.0]}, index=["a", "b", "c"])
    np.testing.assert_allclose(make("dist_to_ref", ref="b").fit_transform(df)["v"], [0.5, 1.0, 2.0])
    np.testing.assert_allclose(make("dist_to_ref", ref=2).fit_transform(df)["v"], [0.25, 0.5, 1.0])
    np.testing.assert_allclose(make("dist_to_ref", ref="b", directions=[-1]).fit_transform(df)["v"],
                               [4 / 3, 1.0, 1 / 3])


def test_dist_to_ref_integer_label_wins_over_position():
    df = pd.DataFrame({"v": [1.0, 2.0, 4.0]}, index=[2, 0, 1])
    np.testing.assert_allclose(make("dist_to_ref", ref=0).fit_transform(df)["v"], [0.5, 1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# parameter and data errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [(1.0, 0.0), (0.0, float("nan")), (0.0,), (0, 1, 2), ("a", "b")])
@pytest.mark.parametrize("name", ["minmax", "log_minmax"])
def test_bad_range(name, bad, X):
    with pytest.raises(ParameterError, match=r"The 'range' parameter of \w+ must be two finite numbers"):
        make(name, range=bad).fit(X)


def test_range_must_be_a_pair_type(X):
    with pytest.raises(ParameterError, match=r"The 'range' parameter of MinMax must be a pair"):
        make("minmax", range=5).fit(X)


@pytest.mark.parametrize("ddof", [-1, 1.5, "1", None])
def test_bad_ddof(ddof, X):
    with pytest.raises(ParameterError, match=r"The 'ddof' parameter of ZScore must be an integer in \[0, inf\)"):
        make("zscore", ddof=ddof).fit(X)


def test_zscore_too_few_values_for_ddof():
    with pytest.raises(InputError, match=r"column 1 has 2 observed value\(s\); ddof=2"):
        make("zscore", ddof=2).fit(np.array([[1.0, 1.0], [1.0, 2.0], [1.0, np.nan]]))


def test_log_minmax_needs_values_above_minus_one(X):
    X.iloc[5, 1] = -1.0
    with pytest.raises(InputError, match=r"> -1.*column 'x2' has -1 in row 'u05'"):
        make("log_minmax").fit(X)


@pytest.mark.parametrize("name", [n for n in ALL if NORMALIZERS.get_class(n).cost_rule == "reflect"])  # the ratios
def test_ratio_methods_need_non_negative_data(name, X):
    X.iloc[6, 2] = -0.5
    with pytest.raises(InputError, match=r"non-negative.*column 'x3' has -0.5 in row 'u06'"):
        make(name).fit(X)


@pytest.mark.parametrize("ref, match", [("zz", "ref='zz' is neither a unit id"), (99, r"row position in 0\.\.11"),
                                        (-1, "ref=-1")])
def test_dist_to_ref_unknown_ref(ref, match, X):
    with pytest.raises(InputError, match=match):
        make("dist_to_ref", ref=ref).fit(X)


def test_dist_to_ref_bad_reference_values(X):
    with pytest.raises(ParameterError, match="'ref' parameter of DistToRef"):
        NORMALIZERS.get("dist_to_ref").fit(X)  # ref is required
    with pytest.raises(InputError, match=r"reference unit \(row 'u04'\) has value nan in column 'x1'"):
        make("dist_to_ref", ref="u04").fit(X)
    X.iloc[3, 1] = 0.0
    with pytest.raises(InputError, match=r"value 0 in column 'x2'.*pick another ref"):
        make("dist_to_ref", ref="u03").fit(X)
    with pytest.raises(InputError, match="ref='u00' is neither"):
        make("dist_to_ref", ref="u00").fit(X.to_numpy())


def test_goalposts_bad_bounds(X):
    with pytest.raises(ParameterError, match=r"The 'lower' parameter of Goalposts must be"):
        NORMALIZERS.get("goalposts", upper=1.0).fit(X)
    with pytest.raises(ParameterError, match=r"for column 'x2' upper \(2\) must be greater than lower \(5\)"):
        make("goalposts", lower=[0, 5, 0], upper=[1, 2, 1]).fit(X)
    with pytest.raises(ParameterError, match="'upper' has no value for 'x3'"):
        make("goalposts", upper={"x1": 1, "x2": 1}).fit(X)
    with pytest.raises(ParameterError, match="'lower' has 2 entries but X has 3 columns"):
        make("goalposts", lower=[0, 0]).fit(X)
    with pytest.raises(ParameterError, match="'lower' for column 'x1' must be a finite number"):
        make("goalposts", lower=[np.nan, 0, 0]).fit(X)
    with pytest.raises(ParameterError, match="'scale' parameter of Goalposts"):
        make("goalposts", scale=0).fit(X)


# ---------------------------------------------------------------------------------------------
# a few of scikit-learn's own estimator checks
# ---------------------------------------------------------------------------------------------

SKLEARN_CHECKS = ["check_fit_idempotent", "check_get_params_invariance", "check_set_params",
                  "check_dont_overwrite_parameters", "check_n_features_in_after_fitting",
                  "check_transformer_general", "check_estimators_dtypes",
                  # the estimator contract of weightlab._estimator (scikit-learn is not imported by the plug-ins)
                  "check_estimator_cloneable", "check_estimator_repr", "check_estimators_pickle",
                  "check_estimators_unfitted", "check_no_attributes_set_in_init", "check_get_feature_names_out_error",
                  "check_transformer_get_feature_names_out", "check_transformer_get_feature_names_out_pandas",
                  "check_set_output_transform"]


@pytest.mark.skipif(tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < (1, 6),
                    reason="estimator tags (positive_only) need scikit-learn >= 1.6")
@pytest.mark.parametrize("check", SKLEARN_CHECKS)
@pytest.mark.parametrize("name", ALL)
def test_sklearn_estimator_checks(name, check):
    from sklearn.utils import estimator_checks

    est = make(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(estimator_checks, check)(name, est)


# ---------------------------------------------------------------------------------------------
# COINr's parametrised methods: n_zscore(c(m, s)), n_dist2targ, n_scaled
# ---------------------------------------------------------------------------------------------

def test_zscore_with_target_mean_and_sd(X):
    out = make("zscore", mean=10.0, sd=2.0, directions=[1, -1, 1]).fit_transform(X)
    for j, c in enumerate(X.columns):
        v = X[c].to_numpy()
        z = (v - np.nanmean(v)) / np.nanstd(v, ddof=1) * (-1 if j == 1 else 1)
        np.testing.assert_allclose(out[c].to_numpy(), 10.0 + 2.0 * z, rtol=1e-12)
        assert np.nanmean(out[c]) == pytest.approx(10.0) and np.nanstd(out[c], ddof=1) == pytest.approx(2.0)
    with pytest.raises(ParameterError, match="'sd' parameter"):
        make("zscore", sd=0.0).fit(X)


def test_dist_to_target_hand_example():
    x = np.array([[2.0, 1.0], [4.0, 3.0], [12.0, 5.0]])
    # benefit column, target 10: (x - 2) / (10 - 2); cost column, target 2: (5 - x) / (5 - 2)
    out = make("dist_to_target", targets=[10.0, 2.0], directions=[1, -1]).fit_transform(x)
    np.testing.assert_allclose(out, [[0.0, 4 / 3], [0.25, 2 / 3], [1.25, 0.0]])
    capped = make("dist_to_target", targets={"a": 10.0, "b": 2.0}, cap=True, directions={"b": -1})
    got = capped.fit_transform(pd.DataFrame(x, columns=["a", "b"]))
    np.testing.assert_allclose(got.to_numpy(), [[0.0, 1.0], [0.25, 2 / 3], [1.0, 0.0]])
    with pytest.raises(ParameterError, match="needs 'targets'"):
        NORMALIZERS.get("dist_to_target").fit(x)
    with pytest.raises(ParameterError, match="worst value at the target"):
        make("dist_to_target", targets=2.0).fit(x[:, :1])


def test_scaled_hand_example():
    out = make("scaled", center=50.0, scale=10.0, directions=[1, -1]).fit_transform(np.array([[40.0, 40.0], [55.0, -60.0]]))
    np.testing.assert_allclose(out, [[-100.0, -900.0], [50.0, 100.0]])
