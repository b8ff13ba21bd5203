"""The generated kernel: what it precomputes, computes per jet and inlines, and its arguments."""

from __future__ import annotations

import inspect
import re

from jetscale.features import FEATURES, FeatureSpec, builder, feature_set, kernel
from jetscale.schema import CONSTITUENT_FIELDS


def per_constituent_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if "flat[base + " in line]


def test_no_hand_written_expression_table() -> None:
    """No feature is named in the kernel or builder code: both are generated from formulas."""
    code = inspect.getsource(kernel) + inspect.getsource(builder)
    fields = {f"part_{field}" for field in CONSTITUENT_FIELDS}
    for name in set(FEATURES) - fields:
        assert not re.search(rf"\b{name}\b", code), name
    for word in ("EXPRESSIONS", "KERNEL_ARGUMENTS", "log_pt2", "d0val", "dzval", "tanh"):
        assert word not in inspect.getsource(builder), word
    assert not hasattr(kernel, "EXPRESSIONS")


def test_transcendentals_are_precomputed_and_jet_terms_computed_per_jet() -> None:
    generated = kernel.generate(feature_set("full21"))
    assert [step.formula for step in generated.precomputed] == [
        "log(part_px ** 2 + part_py ** 2)",
        "log(part_energy)",
        "tanh(part_d0val)",
        "tanh(part_dzval)",
    ]
    assert "jet0 = math.log(jet_pt[j])" in generated.source
    assert "jet2 = (1.0 / jet_pt[j])" in generated.source
    body = "\n".join(per_constituent_lines(generated.source))
    assert "math.log" not in body and "math.tanh" not in body and "/" not in body
    assert body.count("pre0[i - first]") == 2  # log(pT^2) is shared by two features


def test_arguments_are_only_what_the_set_reads() -> None:
    generated = kernel.generate(feature_set("kin"))
    # px, py and energy are read only inside the precomputed logs.
    assert generated.arguments == (
        *kernel.FIXED_ARGUMENTS,
        "pre0",
        "pre1",
        "part_deta",
        "part_dphi",
        "jet_pt",
        "jet_energy",
    )


def test_identical_and_nested_subexpressions_are_computed_once() -> None:
    specs = (
        FeatureSpec("a", "tanh(part_d0val) * 2"),
        FeatureSpec("b", "log(tanh(part_d0val) + 2)"),
        FeatureSpec("c", "log(jet_energy) + log(part_energy) - log(jet_energy)"),
    )
    generated = kernel.generate(specs)
    assert [(s.name, s.formula) for s in generated.precomputed] == [
        ("pre0", "tanh(part_d0val)"),
        ("pre1", "log(tanh(part_d0val) + 2)"),
        ("pre2", "log(part_energy)"),
    ]
    assert "np.add(pre0, np.int64(2), out=pre1, dtype=np.float64)" in generated.batch_source
    assert generated.source.count("math.log(jet_energy[j])") == 1


def test_kernel_source_shows_both_halves() -> None:
    source = kernel.kernel_source(feature_set("kinpid"))
    assert "def batch_arguments(" in source and "def fill_features(" in source
    assert "np.log(pre0, out=pre0, dtype=np.float32)" in source


def test_compiled_kernels_are_cached_by_spec_tuple() -> None:
    specs = feature_set("kin")
    assert kernel.compile_kernel(specs) is kernel.compile_kernel(tuple(specs))
    assert kernel.fill_kernel(specs) is kernel.compile_kernel(specs).fill
