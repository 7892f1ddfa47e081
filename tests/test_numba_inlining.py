"""weightlab._numba_inlining: numba inlines without its redundant IR copies, and the results are unchanged."""

import copy
import types

import numba as nb
import numpy as np
import pytest
from numba.core import inline_closurecall as ic

from weightlab import _numba_inlining as NI


@nb.njit(inline="always")
def _leaf(x, k):
    s = 0.0
    for i in range(x.shape[0]):  # the same local names as the callers: renaming must keep them apart
        if i % k == 0:
            continue
        s += x[i] * i
    if s > 10.0:
        return s - 10.0
    return s


@nb.njit(inline="always")
def _middle(x, k):
    i = k
    s = _leaf(x, k) + _leaf(x, k + 1)  # two sites of one callee
    for j in range(i):
        s += x[j]
    return s


def _caller(x):
    s = 0.0
    for k in range(1, 4):
        s += _middle(x, k) * k
    i = 7
    return s + i


def _expected(x):
    """``_caller`` written out with numpy."""
    def leaf(k):
        i = np.arange(len(x))
        s = float(np.sum((x * i)[i % k != 0]))
        return s - 10.0 if s > 10.0 else s
    return sum((leaf(k) + leaf(k + 1) + x[:k].sum()) * k for k in range(1, 4)) + 7


def test_installed_on_the_checked_numba():
    """The source checks recognise the numba versions they were written for. On another version the
    module must leave numba alone unless its code is still the one described (read the new
    InlineWorker.inline_function / inline_ir, then add the version to CHECKED_NUMBA)."""
    if not nb.__version__.startswith(NI.CHECKED_NUMBA):
        pytest.skip(f"numba {nb.__version__} is not one of the versions checked ({NI.CHECKED_NUMBA})")
    assert NI.install()
    assert ic.InlineWorker.inline_function.__wrapped__ is not None


def test_inlined_code_gives_the_python_result_and_copies_nothing(monkeypatch):
    if not NI.install():
        pytest.skip(f"the copy-free inlining is not installed on numba {nb.__version__}")
    calls = []
    monkeypatch.setattr(NI._NO_COPY, "deepcopy", lambda obj, memo=None: calls.append(type(obj)) or obj)
    x = np.linspace(-3.0, 5.0, 37)
    compiled = nb.njit(_caller)  # a fresh dispatcher: compiled here, not loaded from a cache
    assert np.isclose(compiled(x), _expected(x), rtol=1e-14, atol=0)
    assert calls and all(t.__name__ == "Block" for t in calls)  # inline_ir's block copies were skipped
    assert ic.copy is copy  # numba's module is left as it was


def test_unknown_numba_source_is_left_alone():
    fake = types.SimpleNamespace(InlineWorker=type("InlineWorker", (), {
        "inline_function": lambda self: None, "inline_ir": lambda self: None}))
    assert not NI._inline_function_body_ok(fake)
