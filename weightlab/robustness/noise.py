"""The weight perturbations of the Monte Carlo engine (``[weights] perturb``): one small class each.

Each declares its parameters once, with their constraints (:mod:`weightlab._params`), and the code
by which the kernels tell it apart (:data:`KernelPlan.perturb <weightlab.robustness.plan.KernelPlan>`):

- ``none`` (code 0): the scheme's weights as they are;
- ``uniform`` (1): ``w_i * U(1 - spread, 1 + spread)``, then renormalised within each group;
- ``dirichlet`` (2): ``w_i ~ Gamma(concentration * w_i)``, renormalised within each group, i.e. the
  group's weights ~ Dirichlet(concentration * w_group) (Marsaglia & Tsang 2000 gamma variates).
"""

from __future__ import annotations

from .._params import Interval
from ..registry import Registry

PERTURBATIONS: Registry = Registry("perturbation")


@PERTURBATIONS.register("none")
class NoNoise:
    """No perturbation."""

    code = 0


@PERTURBATIONS.register("uniform")
class UniformNoise:
    """``w * U(1 - spread, 1 + spread)``."""

    code = 1
    _parameter_constraints = {"spread": [Interval(0, 1, closed="left")]}

    def __init__(self, spread: float = 0.25) -> None:
        self.spread = spread


@PERTURBATIONS.register("dirichlet")
class DirichletNoise:
    """``Dirichlet(concentration * w_group)``."""

    code = 2
    _parameter_constraints = {"concentration": [Interval(0, None, closed="neither")]}

    def __init__(self, concentration: float = 50.0) -> None:
        self.concentration = concentration
