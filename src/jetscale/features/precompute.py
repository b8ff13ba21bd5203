"""The NumPy half of a generated kernel: per-batch precomputed columns and the kernel's arguments.

:mod:`jetscale.features.kernel` hoists transcendental calls that read only
constituent fields out of the numba loop; here they become NumPy code, run per
batch before the kernel, because NumPy's SIMD ufuncs (float32 ``log`` and ``tanh``
in a few ns per value) beat a libm call per constituent (~45 ns). The generated
``batch_arguments`` computes them into reused scratch columns and returns every
kernel argument after :data:`~jetscale.features.kernel.FIXED_ARGUMENTS`, in the
kernel's own order, so the builder needs no list of arguments.

The NumPy code follows the formula language's types (explicit ``dtype=`` on every
ufunc), so a precomputed value equals the numba one up to the implementation
of the transcendental function itself.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from typing import cast

import numpy as np

from jetscale.features.formula import CONSTITUENT_PREFIX, FUNCTIONS, JET_PREFIX, OPERATORS, dtype_of

_BATCH_TEMPLATE = """
def batch_arguments(columns, jet_columns, start, stop, first, last, buffer):
    n = last - first
{lines}
    return ({returned})
"""


@dataclasses.dataclass(frozen=True)
class Precomputed:
    """A per-constituent column computed per batch with NumPy, before the kernel runs.

    ``tree`` is a transcendental call whose names are constituent fields
    (``part_px``) or earlier precomputed columns (``pre0``).
    """

    name: str  # the kernel argument, "pre<k>"
    tree: ast.expr
    dtype: np.dtype
    formula: str  # the original subexpression, for reading the generated source


class _Emitter:
    """Emits NumPy statements for precomputed columns, writing in place wherever it can.

    ``log(part_px**2 + part_py**2)`` into ``pre0`` becomes ``multiply(px, px,
    out=pre0)``, ``multiply(py, py, out=temporary0)``, ``add(pre0, temporary0,
    out=pre0)``, ``log(pre0, out=pre0)``: no allocation, one scratch column.
    """

    def __init__(self, dtype: Callable[[str], np.dtype]) -> None:
        self.dtype = dtype
        self.lines: list[str] = []
        self.arrays: dict[str, np.dtype] = {}  # array variables emitted so far
        self.temporaries = 0

    def step(self, step: Precomputed) -> None:
        self.temporaries = 0  # intermediate results live for one step only
        self.lines.append(f"# {step.name} = {step.formula}")
        self._allocate(step.name, step.dtype)
        result = self.value(step.tree, step.name)
        assert result == step.name, (result, step.name)

    def value(self, node: ast.expr, out: str | None = None) -> str:
        """Source of ``node``'s value: an array variable (in ``out`` if dtypes agree) or a scalar."""
        dtype = dtype_of(node, self.dtype)
        if out is not None and self.arrays[out] != dtype:
            out = None
        if isinstance(node, ast.Constant):
            return f"np.{dtype}({node.value!r})"
        if isinstance(node, ast.Name):
            if node.id.startswith(CONSTITUENT_PREFIX):
                self.arrays.setdefault(f"batch_{node.id}", dtype)
                return f"batch_{node.id}"
            return node.id
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand, out)
            if isinstance(node.op, ast.UAdd):
                return operand
            return self._apply("negative", [operand], dtype, self._reuse(out, operand, dtype))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            power = cast(int, ast.literal_eval(node.right))
            base = self.value(node.left, out if power <= 2 else None)
            result = base
            for _ in range(power - 1):
                target = self._reuse(out, base if power <= 2 else None, dtype)
                result = self._apply("multiply", [result, base], dtype, target)
                out = self._reuse(out, result, dtype)
            return result
        if isinstance(node, ast.BinOp):
            left = self.value(node.left, out)
            right = self.value(node.right)  # never in ``out``, which may hold ``left``
            target = self._reuse(out, left, dtype) or self._reuse(None, right, dtype)
            return self._apply(OPERATORS[type(node.op)][1], [left, right], dtype, target)
        assert isinstance(node, ast.Call)
        assert isinstance(node.func, ast.Name)
        function = FUNCTIONS[node.func.id]
        if function.ufunc is None:  # hypot(a, b) = sqrt(a * a + b * b) in float64
            a, b = (self.value(argument) for argument in node.args)
            square = self._apply("multiply", [a, a], dtype, out)
            b_square = self._apply("multiply", [b, b], dtype)
            target = self._reuse(out, square, dtype) or self._reuse(None, b_square, dtype)
            total = self._apply("add", [square, b_square], dtype, target)
            return self._apply("sqrt", [total], dtype, self._reuse(out, total, dtype))
        argument = self.value(node.args[0], out)
        return self._apply(function.ufunc, [argument], dtype, self._reuse(out, argument, dtype))

    def _reuse(self, out: str | None, operand: str | None, dtype: np.dtype) -> str | None:
        """``out``, else ``operand`` if it is a temporary of ``dtype`` (used once: safe to overwrite)."""
        if out is not None or operand is None:
            return out
        is_temporary = operand.startswith("temporary") and self.arrays.get(operand) == dtype
        return operand if is_temporary else None

    def _apply(
        self, ufunc: str, operands: list[str], dtype: np.dtype, out: str | None = None
    ) -> str:
        call = f"np.{ufunc}({', '.join(operands)}"
        if not any(operand in self.arrays for operand in operands):
            return f"{call}, dtype=np.{dtype})"  # numbers only: a NumPy scalar
        if out is None:
            out = f"temporary{self.temporaries}"
            self.temporaries += 1
            self._allocate(out, dtype)
        self.lines.append(f"{call}, out={out}, dtype=np.{dtype})")
        return out

    def _allocate(self, name: str, dtype: np.dtype) -> None:
        self.arrays[name] = dtype
        self.lines.append(f'{name} = buffer("{name}", n, np.{dtype})')


def batch_source(
    precomputed: tuple[Precomputed, ...], kernel_fields: list[str], dtype: Callable[[str], np.dtype]
) -> str:
    """``batch_arguments``: the precomputed columns of constituents ``first:last``, then the fields."""
    emitter = _Emitter(dtype)
    for step in precomputed:
        emitter.step(step)
    slices = [
        f"{name} = columns[{name.removeprefix('batch_' + CONSTITUENT_PREFIX)!r}][first:last]"
        for name in emitter.arrays
        if name.startswith("batch_")
    ]
    returned = [step.name for step in precomputed]
    for field in kernel_fields:
        if field.startswith(CONSTITUENT_PREFIX):
            returned.append(f"columns[{field.removeprefix(CONSTITUENT_PREFIX)!r}]")
        else:
            returned.append(f"jet_columns[{field.removeprefix(JET_PREFIX)!r}][start:stop]")
    return _BATCH_TEMPLATE.format(
        lines="\n".join(f"    {line}" for line in slices + emitter.lines),
        returned="".join(f"{r}, " for r in returned),
    )
