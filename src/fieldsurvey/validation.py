"""Shared scaffolding of the YAML loaders (instruments, analysis plans, findings files).

Each loader validates a whole file and raises one error listing every problem, each line naming
the file and the field (``plan.yaml: hypotheses[1].tests[0].direction: must be ...``), so the
author can fix them all in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fieldsurvey.errors import FieldsurveyError


class ProblemsError(FieldsurveyError, ValueError):
    """A file is invalid. ``problems`` holds one message per problem.

    Examples
    --------
    >>> err = ProblemsError(["a.yaml: title: is required", "a.yaml: items: must be a list"])
    >>> len(err.problems)
    2
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class Problems:
    """Collects ``file: where: message`` lines while a file is validated.

    Examples
    --------
    >>> p = Problems("plan.yaml")
    >>> p.add("title", "is required")
    >>> p.lines
    ['plan.yaml: title: is required']
    """

    def __init__(self, filename: str):
        self.filename = filename
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.filename}: {where}: {message}")


def read_yaml(path: Path, error: type[ProblemsError]) -> Any:
    """The parsed YAML of ``path``, or ``error`` naming the file when it cannot be read or parsed.

    Examples
    --------
    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "bad.yaml"
    >>> _ = bad.write_text("a: [1", encoding="utf-8")
    >>> try:
    ...     read_yaml(bad, ProblemsError)
    ... except ProblemsError as exc:
    ...     print(exc.problems[0][:25])
    bad.yaml: not valid YAML:
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error([f"{path.name}: cannot read file: {exc}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error([f"{path.name}: not valid YAML: {exc}"]) from exc


def unknown_keys(spec: Mapping, known: Sequence[str], where: str, p: Problems) -> None:
    """Report each key of ``spec`` that is not in ``known`` (``where`` is "" at the top level).

    Examples
    --------
    >>> p = Problems("f.yaml")
    >>> unknown_keys({"id": 1, "nmae": 2}, ("id", "name"), "items[0]", p)
    >>> p.lines
    ['f.yaml: items[0].nmae: unknown key (expected one of id, name)']
    """
    for key in spec:
        if key not in known:
            at = f"{where}.{key}" if where else str(key)
            p.add(at, f"unknown key (expected one of {', '.join(known)})")


def column_names(value: Any, where: str, p: Problems) -> tuple[str, ...]:
    """A column name or a list of them, as a tuple; ``()`` when absent or (reported) invalid.

    Examples
    --------
    >>> p = Problems("f.yaml")
    >>> column_names("org", "by", p), column_names([1], "by", p)
    (('org',), ())
    >>> p.lines
    ['f.yaml: by: must be a column name or a list of column names (got [1])']
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        p.add(where, f"must be a column name or a list of column names (got {value!r})")
        return ()
    return tuple(value)
