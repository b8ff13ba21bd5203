"""The one type check of configuration dataclasses: each annotation kind, right and wrong."""

from __future__ import annotations

import dataclasses

import pytest

from jetscale._fields import FieldTypeError, check_fields, check_value, field_types


@dataclasses.dataclass(frozen=True)
class Inner:
    name: str = "x"


@dataclasses.dataclass(frozen=True)
class Example:
    """Every annotation kind the configurations use."""

    count: int = 1
    rate: float = 0.5
    label: str = "a"
    flag: bool = False
    limit: int | None = None
    paths: tuple[str, ...] = ()
    inner: Inner = dataclasses.field(default_factory=Inner)

    def __post_init__(self) -> None:
        check_fields(self)


def test_string_annotations_are_resolved() -> None:
    # `from __future__ import annotations` makes them strings; the check needs the types.
    assert field_types(Example) == {
        "count": int,
        "rate": float,
        "label": str,
        "flag": bool,
        "limit": int | None,
        "paths": tuple[str, ...],
        "inner": Inner,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"count": 3},
        {"rate": 2},  # an int is a number
        {"rate": 2.5},
        {"label": ""},
        {"flag": True},
        {"limit": 7},
        {"limit": None},
        {"paths": ("a", "b")},
        {"inner": Inner("y")},
    ],
)
def test_values_of_the_right_type_pass(change: dict[str, object]) -> None:
    example = Example(**change)  # type: ignore[arg-type]
    name, value = next(iter(change.items()))
    assert getattr(example, name) == value


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": "64"}, "count must be an integer (int), got '64' (a string: write the number"),
        ({"count": True}, "count must be an integer (int), got True (a boolean)"),
        ({"count": 2.0}, "count must be an integer (int), got 2.0 (a float)"),
        ({"count": None}, "count must be an integer (int), got None"),
        ({"rate": False}, "rate must be a number (float), got False (a boolean)"),
        ({"rate": "fast"}, "rate must be a number (float), got 'fast' (a string)"),
        ({"label": 3}, "label must be a string (str), got 3 (an integer)"),
        ({"flag": 1}, "flag must be true or false (bool), got 1 (an integer)"),
        ({"flag": "false"}, "flag must be true or false (bool), got 'false' (a string)"),
        ({"limit": 1.5}, "limit must be an integer (int) or None (null), got 1.5 (a float)"),
        ({"limit": False}, "limit must be an integer (int) or None (null), got False"),
        ({"paths": "a.root"}, "paths must be a list of strings, got 'a.root' (a string)"),
        ({"paths": ["a", 3]}, "paths must be a list of strings, got ['a', 3] (a list with 3, an"),
        (
            {"paths": ("a", None)},
            "paths must be a list of strings, got ('a', None) (a list with None)",
        ),
        ({"inner": {"name": "y"}}, "inner must be a Inner, got {'name': 'y'} (a mapping)"),
    ],
)
def test_wrong_types_name_key_value_and_expectation(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(FieldTypeError) as info:
        Example(**change)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    # A ValueError: the command line reports it in one line with exit code 2.
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "advice"),
    [
        ("1e-3", "YAML reads 1e-3 without a decimal point as text: write 1.0e-3"),
        ("5E4", "YAML reads 5E4 without a decimal point as text: write 5.0e+4"),
        ("1.0e9", "YAML reads 1.0e9 without a sign in the exponent as text: write 1.0e+9"),
    ],
)
def test_numbers_yaml_reads_as_text_get_the_spelling_it_reads_as_a_number(
    text: str, advice: str
) -> None:
    import yaml

    with pytest.raises(FieldTypeError) as info:
        check_value("lr", text, float)
    assert str(info.value) == f"lr must be a number (float), got {text!r} (a string; {advice})"
    # The advice is right: YAML reads the suggested spelling as a float, and the original as text.
    suggested = advice.rsplit("write ", 1)[1]
    assert isinstance(yaml.safe_load(f"x: {text}")["x"], str)
    assert yaml.safe_load(f"x: {suggested}")["x"] == float(text)


def test_a_list_for_a_tuple_is_stored_as_a_tuple() -> None:
    example = Example(paths=["a", "b"])  # type: ignore[arg-type]
    assert example.paths == ("a", "b") and isinstance(example.paths, tuple)
    assert example == Example(paths=("a", "b")) and hash(example) == hash(Example(paths=("a", "b")))


def test_an_unsupported_annotation_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no check for"):
        check_value("x", (1, 2), tuple[int, int])
    with pytest.raises(TypeError, match="no check for annotation"):
        check_value("x", [1], list[int])
