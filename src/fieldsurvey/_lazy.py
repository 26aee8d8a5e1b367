"""Packages that load their exports on first use, so a command imports only its own stage."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """Make ``package`` import each name of ``exports`` (name -> module) on first use.

    Returns the module-level ``__getattr__`` for the package to assign. The package's class is
    changed so that an exported function keeps its name when a submodule of the same name is
    imported (``fieldsurvey.analyse.report_findings`` the module and ``report_findings`` the
    function): the import system binds every submodule as an attribute of its package, which
    would otherwise hide the function, as eager ``from .x import x`` imports never did.

    Examples
    --------
    >>> import fieldsurvey.psychometrics as p
    >>> callable(p.polychoric)
    True
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    class _Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in exports and isinstance(value, types.ModuleType):
                return
            super().__setattr__(name, value)

    sys.modules[package].__class__ = _Package
    return __getattr__
