"""One type check for configuration dataclasses: every field against its annotation.

Configurations arrive from the command line, TOML/JSON run files and YAML sweep
files. YAML reads ``1e-3`` (no decimal point) as the *string* ``'1e-3'``, and a
quoted ``"64"`` stays a string; without a check such a value fails later, in a
comparison or deep inside torch, with a message that names neither the key nor
the value. :func:`check_fields` runs first in each ``__post_init__``, so every
way of building a configuration is covered, and names key, value and what was
expected.

Supported annotations: ``int``, ``float``, ``str``, ``bool``, a class (checked
with ``isinstance``), ``X | None`` and ``tuple[X, ...]``. ``int`` excludes
``bool`` (``True`` is an ``int`` to Python, never a count to a user); ``float``
accepts an ``int`` (``lr: 1`` is meant as a number).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any


class FieldTypeError(ValueError, TypeError):
    """A configuration value of the wrong type; the message names key, value and expectation.

    A ``ValueError`` (bad input: the command line reports it in one line) and a
    ``TypeError`` (what it is).
    """


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: resolved annotation}`` of a dataclass (string annotations evaluated once)."""
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_TYPES[cls]


def check_fields(instance: Any) -> None:
    """Raise :class:`FieldTypeError` for the first field whose value does not fit its annotation.

    A list given for a ``tuple[...]`` field is stored as a tuple, so a frozen
    configuration stays hashable and equal to one built from a tuple.
    """
    for name, annotation in field_types(type(instance)).items():
        value = getattr(instance, name)
        check_value(name, value, annotation)
        if isinstance(value, list) and typing.get_origin(annotation) is tuple:
            object.__setattr__(instance, name, tuple(value))


def check_value(name: str, value: Any, annotation: Any) -> None:
    """Raise :class:`FieldTypeError` unless ``value`` fits ``annotation`` (see the module doc)."""
    if not _fits(value, annotation):
        described = "" if value is None else f" ({_described(value, annotation)})"
        msg = f"{name} must be {expectation(annotation)}, got {value!r}{described}"
        raise FieldTypeError(msg)


def expectation(annotation: Any) -> str:
    """What a value of ``annotation`` is, in words for a message."""
    if annotation is type(None):
        return "None"
    if _is_union(annotation):
        parts = [expectation(a) for a in typing.get_args(annotation) if a is not type(None)]
        if type(None) in typing.get_args(annotation):
            parts.append("None (null)")
        return " or ".join(parts)
    if typing.get_origin(annotation) is tuple:
        (item, *_rest) = typing.get_args(annotation)
        return f"a list of {_PLURAL.get(item, expectation(item))}"
    words = {
        int: "an integer (int)",
        float: "a number (float)",
        str: "a string (str)",
        bool: "true or false (bool)",
    }
    if annotation in words:
        return words[annotation]
    return f"a {getattr(annotation, '__name__', annotation)}"


_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def _is_union(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union


def _fits(value: Any, annotation: Any) -> bool:
    if annotation is Any:
        return True
    if annotation is type(None):
        return value is None
    if _is_union(annotation):
        return any(_fits(value, a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) != 2 or args[1] is not Ellipsis:
            msg = f"no check for {annotation}: only tuple[X, ...] is supported"
            raise TypeError(msg)
        return isinstance(value, tuple | list) and all(_fits(v, args[0]) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    msg = f"no check for annotation {annotation!r}"
    raise TypeError(msg)


#: A number YAML 1.1 (PyYAML) reads as text: an exponent, but no decimal point (1e-3)
#: or no sign in the exponent (1.0e9).
_YAML_TEXT_NUMBER = re.compile(r"^([+-]?\d+)(\.\d*)?[eE]([+-]?)(\d+)$")


def _described(value: Any, annotation: Any) -> str:
    """What ``value`` is, with a hint where a string holds the number that was meant."""
    if isinstance(value, str):
        yaml_text = _YAML_TEXT_NUMBER.match(value.strip())
        if yaml_text and _fits(1.0, annotation) and not (yaml_text[2] and yaml_text[3]):
            integer, fraction, sign, exponent = yaml_text.groups()
            missing = "a sign in the exponent" if fraction else "a decimal point"
            fixed = f"{integer}{fraction or '.0'}e{sign or '+'}{exponent}"
            return f"a string; YAML reads {value.strip()} without {missing} as text: write {fixed}"
        if _parses_as_number(value) and (_fits(1, annotation) or _fits(1.0, annotation)):
            return "a string: write the number without quotes"
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, list | tuple):
        if typing.get_origin(annotation) is tuple:
            item = typing.get_args(annotation)[0]
            for bad in (v for v in value if not _fits(v, item)):
                what = "" if bad is None else f", {_described(bad, item)}"
                return f"a list with {bad!r}{what}"
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
