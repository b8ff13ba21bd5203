"""Tasks: which ``label_*`` branches define the classes a tagger learns.

A tagger's classes need not be JetClass's ten. A search for a new resonance wants
``Xbb_m60`` against ``QCD``; a boosted-Higgs analysis may want ``Hbb`` against
``QCD`` only, or all Higgs decays in one class. A :class:`Task` says which label
branches make each class, so that reading, training, fine-tuning, export and the
processors agree on what class index ``k`` means.

The written form, used on the command line (``--task``) and in configurations, is
a comma-separated list of classes. A class is a label name (``Hbb`` reads
``label_Hbb``) or a named group of them (``Higgs=Hbb+Hcc+Hgg``: a jet of any of the
three is class ``Higgs``). ``jetclass`` is the ten JetClass classes in their usual
order, the default everywhere. The one-vs-background discriminants of
:mod:`jetscale.metrics` take the class named ``QCD`` as the background, so name the
background class (or group) ``QCD``.

How readers apply a task (see :func:`jetscale.io.jetclass.jets_from_branches`):

* a jet's ``label`` is the index of the task class whose branches hold its label;
* a jet of a class outside the task (an ``Hcc`` jet in an ``Hbb,QCD`` task) gets
  label -1; training drops those jets and counts them;
* a task branch that a file lacks is read as "no jet of this class in this file":
  per-class files (a QCD file has no ``label_Xbb_m60``) work as they are. A branch
  that *no* training file has, or a class left without jets, is an error.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jetscale import schema

#: The keyword for JetClass's ten classes.
JETCLASS_KEYWORD = "jetclass"
LABEL_PREFIX = "label_"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class TaskClass:
    """One output class of a task and the label branches whose jets make it."""

    name: str
    branches: tuple[str, ...]  # full branch names, ``label_<name>``


@dataclasses.dataclass(frozen=True)
class Task:
    """The ordered classes of a tagger; class index ``k`` is ``classes[k]``."""

    classes: tuple[TaskClass, ...]

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            msg = f"a task needs at least two classes, got {[c.name for c in self.classes]}"
            raise ValueError(msg)
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            msg = f"task class names repeat: {', '.join(names)}"
            raise ValueError(msg)
        seen: dict[str, str] = {}
        for cls in self.classes:
            for branch in cls.branches:
                if branch in seen:
                    msg = f"{branch} is in task classes {seen[branch]!r} and {cls.name!r}: a jet must belong to one class"
                    raise ValueError(msg)
                seen[branch] = cls.name

    @property
    def names(self) -> tuple[str, ...]:
        """The class names in output order."""
        return tuple(c.name for c in self.classes)

    @property
    def branches(self) -> tuple[str, ...]:
        """Every label branch of the task, in class order."""
        return tuple(b for c in self.classes for b in c.branches)

    @property
    def is_jetclass(self) -> bool:
        """Whether this is the default: JetClass's ten classes in their order."""
        return self == JETCLASS

    def class_of_branch(self) -> dict[str, int]:
        """``{label branch: class index}``."""
        return {b: k for k, c in enumerate(self.classes) for b in c.branches}

    @property
    def spec(self) -> str:
        """The written form, which :func:`parse_task` reads back to an equal task."""
        if self.is_jetclass:
            return JETCLASS_KEYWORD
        parts = []
        for cls in self.classes:
            short = [b.removeprefix(LABEL_PREFIX) for b in cls.branches]
            parts.append(cls.name if short == [cls.name] else f"{cls.name}={'+'.join(short)}")
        return ",".join(parts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (checkpoints, sidecars, summaries)."""
        return {
            "spec": self.spec,
            "classes": [{"name": c.name, "branches": list(c.branches)} for c in self.classes],
        }

    def __str__(self) -> str:
        return self.spec


JETCLASS = Task(tuple(TaskClass(n, (LABEL_PREFIX + n,)) for n in schema.CLASS_NAMES))


def parse_task(text: str | Task | None) -> Task:
    """A task from its written form (``"Xbb_m60,QCD"``, ``"Higgs=Hbb+Hcc,QCD"``, ``"jetclass"``).

    ``None`` and ``"jetclass"`` give :data:`JETCLASS`. Errors say what is wrong
    with which part.
    """
    if text is None:
        return JETCLASS
    if isinstance(text, Task):
        return text
    stripped = text.strip()
    if stripped.lower() == JETCLASS_KEYWORD:
        return JETCLASS
    classes = []
    for part in (p.strip() for p in stripped.split(",")):
        if not part:
            msg = f"task {text!r}: empty class (write classes as NAME or NAME=LABEL+LABEL, comma-separated)"
            raise ValueError(msg)
        name, sep, members = part.partition("=")
        name = name.strip()
        labels = (
            [m.strip().removeprefix(LABEL_PREFIX) for m in members.split("+")]
            if sep
            else [name.removeprefix(LABEL_PREFIX)]
        )
        name = name.removeprefix(LABEL_PREFIX)
        for label in (name, *labels):
            if not _NAME.match(label):
                msg = f"task {text!r}: {label!r} is not a class or label name (letters, digits, _)"
                raise ValueError(msg)
        classes.append(TaskClass(name, tuple(LABEL_PREFIX + lab for lab in labels)))
    return Task(tuple(classes))


def task_from_json(data: Mapping[str, Any] | str | None, source: object = "task") -> Task:
    """The task a checkpoint, sidecar or summary stored (``None``: JetClass's ten)."""
    if data is None:
        return JETCLASS
    if isinstance(data, str):
        return parse_task(data)
    try:
        return Task(
            tuple(
                TaskClass(str(c["name"]), tuple(str(b) for b in c["branches"]))
                for c in data["classes"]
            )
        )
    except (KeyError, TypeError) as err:
        msg = f"{source}: malformed task description ({err})"
        raise ValueError(msg) from err


def task_of_class_names(names: Sequence[str]) -> Task:
    """The task whose classes are the label branches ``label_<name>`` of ``names``."""
    names = tuple(names)
    if names == schema.CLASS_NAMES:
        return JETCLASS
    return Task(tuple(TaskClass(n, (LABEL_PREFIX + n,)) for n in names))


def with_other_labels(task: Task, branches: Sequence[str]) -> Task:
    """``task`` followed by one class per other label branch of ``branches``.

    The processors name each jet's true class with it: a jet of a task class gets
    that class's name; a jet of another class the file labels (an ``Xbb_m60`` jet
    tagged by a ten-class model) keeps its own name instead of looking unlabelled.
    A branch whose name a task class already uses is left out.
    """
    known = set(task.branches) | {LABEL_PREFIX + n for n in task.names}
    extra = [
        TaskClass(b.removeprefix(LABEL_PREFIX), (b,))
        for b in dict.fromkeys(branches)
        if b.startswith(LABEL_PREFIX) and b not in known
    ]
    return Task(task.classes + tuple(extra)) if extra else task
