"""The formula language: what a formula reads, its types, and refusal of bad formulas."""

from __future__ import annotations

import numpy as np
import pytest

from jetscale.features import FeatureSpec
from jetscale.features.formula import dtype_of, fields_read, parse


def test_fields_are_read_in_order_and_functions_are_not_fields() -> None:
    tree = parse("f", "0.5 * log(part_px**2 + part_py**2) - log(jet_pt) + hypot(part_px, 1)")
    assert fields_read(tree) == ("part_px", "part_py", "jet_pt")
    assert fields_read(parse("f", "1")) == ()


@pytest.mark.parametrize(
    ("formula", "dtype"),
    [
        ("part_px * part_py", np.float32),  # float32 with float32 stays float32
        ("log(part_energy)", np.float32),  # a function of float32 is float32
        ("0.5 * part_px", np.float64),  # a number makes it float64
        ("part_px / jet_pt", np.float32),
        ("hypot(part_px, part_py)", np.float64),  # hypot is float64 by definition
        ("part_isMuon + part_isPhoton", np.int64),  # integers widen to int64
        ("part_isMuon / 2", np.float64),
        ("log(part_isMuon + 1)", np.float64),
        ("part_isMuon * part_px", np.float64),  # int32 with float32 is float64
        ("-part_px**3", np.float32),
    ],
)
def test_types_follow_numba_scalar_rules(formula: str, dtype: type) -> None:
    assert dtype_of(parse("f", formula)) == np.dtype(dtype)


@pytest.mark.parametrize(
    ("formula", "problem"),
    [
        ("part_foo + 1", "unknown constituent field 'part_foo'"),
        ("part_px / jet_mass", "unknown jet field 'jet_mass'"),
        ("px * 2", "unknown name 'px'"),
        ("sin(part_dphi)", "unsupported function in 'sin(part_dphi)'; supported: log, exp"),
        ("np.log(part_energy)", "unsupported function"),
        ("log(part_energy", "is not a valid expression"),
        ("log(part_energy, 2)", "log wrongly"),
        ("part_px ** 0.5", "exponents must be literal integers"),
        ("part_px if part_py else 1", "unsupported syntax"),
        ("part_px > 0", "unsupported syntax"),
        ("part_px % 2", "operator Mod"),
        ("'part_px'", "only numbers"),
        ("log", "function 'log' without calling it"),
        ("1e999 * part_px", "numbers must be finite"),
    ],
)
def test_bad_formula_raises_naming_the_feature_and_the_problem(formula: str, problem: str) -> None:
    with pytest.raises(ValueError, match="feature 'part_new'") as info:
        FeatureSpec("part_new", formula)
    assert problem in str(info.value)


def test_a_formula_must_be_a_string() -> None:
    with pytest.raises(ValueError, match="feature 'part_new': the formula must be a string"):
        FeatureSpec("part_new", None)  # type: ignore[arg-type]
