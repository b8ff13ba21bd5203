"""The formula language of the feature registry: parsing, checking and types.

A formula is one numpy-like Python expression, in the spirit of weaver-core's
``new_variables``, giving a feature's raw (unstandardized) value for one
constituent of one jet. It may contain:

* ``part_<field>``: a constituent field, by its JetClass name (``part_px``,
  ``part_energy``, ``part_d0val``, ``part_isPhoton``; see
  :data:`jetscale.schema.CONSTITUENT_FIELDS`). Float fields are float32, the
  particle-ID flags int32.
* ``jet_<field>``: a jet field (``jet_pt``, ``jet_energy``, GeV; see
  :data:`jetscale.schema.JET_FIELDS`), float32.
* finite numbers (``0.5``, ``2``), ``+ - * /``, unary ``-``, and ``x ** n`` for a
  literal integer ``1 <= n <= 8`` (n - 1 multiplications, like ``x * x``).
* the functions of :data:`FUNCTIONS`: ``log``, ``exp``, ``tanh``, ``sqrt``, ``abs``
  and ``hypot(a, b)``, which is ``sqrt(a * a + b * b)`` evaluated in float64.

Arithmetic follows numba's scalar rules, so a value is the same whichever part of
the kernel computes it: float32 with float32 stays float32; a number literal,
an int32 flag or any float64 operand makes the result float64; a function of a
float32 value is float32 (``log(part_energy)`` is a float32 log); integer
results are int64 and ``/`` of integers is float64. Two choices of the kernel
show in the last bit: a division by a jet-level quantity is a multiplication by
its reciprocal (one float64 division per jet), and ``log``/``exp``/``tanh`` of
constituent fields alone use NumPy's SIMD implementation, anything else libm's
(see :mod:`jetscale.features.kernel`). The kernel stores every feature as float32
after standardization. The fields a feature reads (its ``inputs``) are derived
from the formula, never declared separately.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
from collections.abc import Callable, Iterator

import numpy as np

from jetscale.schema import (
    CONSTITUENT_FIELDS,
    CONSTITUENT_PREFIX,
    JET_FIELDS,
    JET_PREFIX,
    constituent_dtype,
)

MAX_POWER = 8


@dataclasses.dataclass(frozen=True)
class Function:
    """A function of the language: its arity, NumPy ufunc and numba source template."""

    arity: int
    ufunc: str | None  # name in NumPy; None: composite, emitted by its own rule (hypot)
    numba: str  # format string over the arguments' source
    transcendental: bool  # a libm call (~45 ns): worth precomputing per batch with NumPy SIMD


#: Every function a formula may call.
FUNCTIONS: dict[str, Function] = {
    "log": Function(1, "log", "math.log({0})", transcendental=True),
    "exp": Function(1, "exp", "math.exp({0})", transcendental=True),
    "tanh": Function(1, "tanh", "math.tanh({0})", transcendental=True),
    "sqrt": Function(1, "sqrt", "math.sqrt({0})", transcendental=False),
    "abs": Function(1, "absolute", "abs({0})", transcendental=False),
    "hypot": Function(
        2, None, "math.sqrt(float({0}) * {0} + float({1}) * {1})", transcendental=False
    ),
}

#: Binary operators besides ``**``: (Python and numba symbol, NumPy ufunc).
OPERATORS: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("+", "add"),
    ast.Sub: ("-", "subtract"),
    ast.Mult: ("*", "multiply"),
    ast.Div: ("/", "true_divide"),
}
_F32, _F64, _I32, _I64 = (np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


def field_dtype(name: str) -> np.dtype:
    """dtype of a field name of the language (``part_isMuon`` int32, any other float32)."""
    return np.dtype(constituent_dtype(name.removeprefix(CONSTITUENT_PREFIX)))


def parse(name: str, formula: str) -> ast.expr:
    """The checked syntax tree of ``formula`` (cached: never modify it).

    Raises ``ValueError`` naming the feature, the formula and the problem.
    """
    if not isinstance(formula, str):
        msg = f"feature {name!r}: the formula must be a string, got {formula!r}"
        raise ValueError(msg)
    return _parse(name, formula)


@functools.cache
def _parse(name: str, formula: str) -> ast.expr:
    where = f"feature {name!r}: formula {formula!r}"
    try:
        tree = ast.parse(formula.strip(), mode="eval").body
    except SyntaxError as err:
        msg = f"{where} is not a valid expression ({err.msg})"
        raise ValueError(msg) from None
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        problem = None if id(node) in callees else _problem(node)
        if problem:
            msg = f"{where} {problem}"
            raise ValueError(msg)
    return tree


def fields_read(tree: ast.expr) -> tuple[str, ...]:
    """Field names a tree reads, in order of first appearance (``part_px``, ``jet_pt``)."""
    return tuple(dict.fromkeys(_names(tree)))


def _names(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    for child in ast.iter_child_nodes(node):
        if not (isinstance(node, ast.Call) and child is node.func):
            yield from _names(child)


def dtype_of(node: ast.expr, leaf: Callable[[str], np.dtype] = field_dtype) -> np.dtype:
    """dtype of a (checked) tree under numba's scalar rules; ``leaf`` gives each name's dtype."""
    if isinstance(node, ast.Constant):
        return _I64 if isinstance(node.value, int) else _F64
    if isinstance(node, ast.Name):
        return leaf(node.id)
    if isinstance(node, ast.UnaryOp):
        return _widen(dtype_of(node.operand, leaf))
    if isinstance(node, ast.BinOp):
        left = dtype_of(node.left, leaf)
        if isinstance(node.op, ast.Pow):
            return _widen(left)
        result = _widen(np.promote_types(left, dtype_of(node.right, leaf)))
        return _F64 if isinstance(node.op, ast.Div) and result.kind == "i" else result
    assert isinstance(node, ast.Call)
    assert isinstance(node.func, ast.Name)
    if node.func.id == "hypot":
        return _F64
    argument = dtype_of(node.args[0], leaf)
    if node.func.id == "abs":
        return _widen(argument)
    return _F32 if argument == _F32 else _F64


def _widen(dtype: np.dtype) -> np.dtype:
    return _I64 if dtype.kind in "iub" else dtype


def _problem(node: ast.AST) -> str | None:
    """What is wrong with one node of a formula, or None."""
    if isinstance(node, ast.Name):
        return _name_problem(node.id)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"has the constant {value!r}; only numbers are allowed"
        if not math.isfinite(value) or abs(value) >= 2**63:
            return f"has the constant {value!r}; numbers must be finite (and integers fit int64)"
        return None
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (
                isinstance(exponent, ast.Constant)
                and type(exponent.value) is int
                and 1 <= exponent.value <= MAX_POWER
            ):
                return f"has the power {ast.unparse(node)!r}; exponents must be literal integers 1..{MAX_POWER}"
            return None
        if type(node.op) not in OPERATORS:
            return f"uses the operator {type(node.op).__name__} in {ast.unparse(node)!r}; allowed: + - * / **"
        return None
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            return f"uses the operator {type(node.op).__name__} in {ast.unparse(node)!r}; allowed: unary - and +"
        return None
    if isinstance(node, ast.Call):
        return _call_problem(node)
    if isinstance(node, ast.operator | ast.unaryop | ast.expr_context):
        return None
    return f"uses unsupported syntax ({type(node).__name__}) in {ast.unparse(node)!r}"


def _name_problem(name: str) -> str | None:
    if name.startswith(CONSTITUENT_PREFIX):
        if name.removeprefix(CONSTITUENT_PREFIX) in CONSTITUENT_FIELDS:
            return None
        known = ", ".join(CONSTITUENT_PREFIX + f for f in CONSTITUENT_FIELDS)
        return f"reads the unknown constituent field {name!r}; known: {known}"
    if name.startswith(JET_PREFIX):
        if name.removeprefix(JET_PREFIX) in JET_FIELDS:
            return None
        known = ", ".join(JET_PREFIX + f for f in JET_FIELDS)
        return f"reads the unknown jet field {name!r}; known: {known}"
    if name in FUNCTIONS:
        return f"uses the function {name!r} without calling it"
    return f"reads the unknown name {name!r}; names are part_<field> (constituents) or jet_<field> (jets)"


def _call_problem(node: ast.Call) -> str | None:
    call = ast.unparse(node)
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        return f"calls an unsupported function in {call!r}; supported: {', '.join(FUNCTIONS)}"
    function = FUNCTIONS[node.func.id]
    if (
        node.keywords
        or len(node.args) != function.arity
        or any(isinstance(arg, ast.Starred) for arg in node.args)
    ):
        return f"calls {node.func.id} wrongly in {call!r}: it takes {function.arity} positional argument(s)"
    return None
