"""Tasks: the written form, its round trip, and the errors a physicist can make in it."""

from __future__ import annotations

import pytest

from jetscale import schema
from jetscale.task import JETCLASS, parse_task, task_from_json, task_of_class_names


def test_jetclass_is_the_ten_classes_in_order() -> None:
    assert parse_task(None) is JETCLASS
    assert parse_task("jetclass") == parse_task(" JetClass ") == JETCLASS
    assert JETCLASS.names == schema.CLASS_NAMES
    assert JETCLASS.branches == schema.LABEL_BRANCHES
    assert JETCLASS.spec == "jetclass"


def test_classes_and_groups() -> None:
    task = parse_task(" Higgs = Hbb + label_Hcc , QCD")
    assert task.names == ("Higgs", "QCD")
    assert task.classes[0].branches == ("label_Hbb", "label_Hcc")
    assert task.classes[1].branches == ("label_QCD",)
    assert task.class_of_branch() == {"label_Hbb": 0, "label_Hcc": 0, "label_QCD": 1}
    assert task.spec == "Higgs=Hbb+Hcc,QCD"
    assert not task.is_jetclass


@pytest.mark.parametrize("text", ["Xbb_m60,QCD", "Higgs=Hbb+Hcc,QCD", "Hbb,Hcc,QCD", "jetclass"])
def test_round_trips(text: str) -> None:
    task = parse_task(text)
    assert parse_task(task.spec) == task
    assert task_from_json(task.to_json()) == task
    assert task_from_json(task.spec) == task


def test_class_names_give_single_branch_classes() -> None:
    assert task_of_class_names(schema.CLASS_NAMES) is JETCLASS
    task = task_of_class_names(["Xbb_m60", "QCD"])
    assert task.branches == ("label_Xbb_m60", "label_QCD")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hbb", "at least two classes"),
        ("Hbb,,QCD", "empty class"),
        ("Hbb,Hbb", "repeat"),
        ("A=Hbb+Hcc,B=Hcc+QCD", "label_Hcc is in task classes 'A' and 'B'"),
        ("H-bb,QCD", "'H-bb' is not a class or label name"),
        ("A=,QCD", "'' is not a class or label name"),
    ],
)
def test_bad_tasks_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_task(text)


def test_malformed_json_names_the_source() -> None:
    with pytest.raises(ValueError, match="model.json: malformed task"):
        task_from_json({"classes": [{"name": "A"}]}, "model.json")
