"""Cheaper ``inline="always"`` compilation in numba: the callee's fresh IR is not deep-copied twice.

When numba inlines an ``inline="always"`` function (the ``InlineInlinables`` pass), it builds the
callee's IR afresh (``InlineWorker.inline_function`` runs the untyped passes on it), then
``InlineWorker.inline_ir`` deep-copies that IR block by block, twice: once to mutate it and once to
return an unmutated copy, which ``InlineInlinables`` (the only caller of ``inline_function``)
discards. Each block's copy also copies the function's whole scope, so the cost grows with blocks
times variables (numba issue #8989, "Spurious deep copies in inlining"; #9204). On weightlab's slot
kernel, which inlines the block pipeline, the copies were a large share of its cold compilation
(docs/performance.md).

:func:`install` makes ``inline_function`` hand its fresh IR to ``inline_ir`` without those copies:
nothing else holds that IR, so mutating it in place is what the copy would have done. It is
installed only on the numba versions read for it (``CHECKED_NUMBA``), and only when the source of
``inline_function``, ``inline_ir`` and their module is still the one described here; otherwise
numba is left as it is (compilation is then only slower). Compiled code is unchanged.
"""

from __future__ import annotations

import copy
import inspect
import re
import types

CHECKED_NUMBA = ("0.68",)  # numba versions whose inline_function / inline_ir were read for this
# the copy_ir closure of InlineWorker.inline_ir (numba 0.68)
_COPY_IR = """        def copy_ir(the_ir):
            kernel_copy = the_ir.copy()
            kernel_copy.blocks = {}
            for block_label, block in the_ir.blocks.items():
                new_block = copy.deepcopy(the_ir.blocks[block_label])
                kernel_copy.blocks[block_label] = new_block
            return kernel_copy
"""
_NO_COPY = types.SimpleNamespace(deepcopy=lambda obj, memo=None: obj)
_installed = False


def _inline_function_body_ok(ic) -> bool:
    """True when numba's ``inline_function`` runs the untyped passes and hands the result straight to
    ``inline_ir``, whose only deep copies are those of ``copy_ir``."""
    try:
        src_fn = inspect.getsource(ic.InlineWorker.inline_function)
        src_ir = inspect.getsource(ic.InlineWorker.inline_ir)
        src_mod = inspect.getsource(ic)
    except (OSError, TypeError):
        return False
    fresh = ("callee_ir = self.run_untyped_passes(function)" in src_fn
             and "return self.inline_ir(caller_ir, block, i, callee_ir, freevars," in src_fn)
    return fresh and _COPY_IR in src_ir and re.findall(r"\bcopy\.(\w+)", src_mod) == ["deepcopy"]


def install() -> bool:
    """Install the copy-free ``inline_function`` (once per process); return whether it is installed."""
    global _installed
    if _installed:
        return True
    try:
        import numba
        from numba.core import inline_closurecall as ic
    except ImportError:
        return False
    if not numba.__version__.startswith(CHECKED_NUMBA) or not _inline_function_body_ok(ic):
        return False
    original = ic.InlineWorker.inline_function

    def inline_function(self, caller_ir, block, i, function, arg_typs=None):
        callee_ir = self.run_untyped_passes(function)
        freevars = function.__code__.co_freevars
        ic.copy = _NO_COPY  # numba compiles under its global compiler lock: no other thread is in here
        try:
            return self.inline_ir(caller_ir, block, i, callee_ir, freevars, arg_typs=arg_typs)
        finally:
            ic.copy = copy

    inline_function.__doc__ = original.__doc__
    inline_function.__wrapped__ = original
    ic.InlineWorker.inline_function = inline_function
    _installed = True
    return True
