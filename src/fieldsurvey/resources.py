"""Locate the data folders that ship with fieldsurvey (instruments, analysis plans, reports).

In a wheel they live inside the package as ``fieldsurvey/_data/<name>``; in a source checkout
(editable install, running tests) they are the top-level folders of the repository. Both layouts
are looked up here so no other module needs to know which one it runs from.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_KNOWN = ("instruments", "analysis", "reports")


def data_dir(name: str) -> Path:
    """Return the folder holding the bundled ``instruments``, ``analysis`` or ``reports``.

    Parameters
    ----------
    name : {"instruments", "analysis", "reports"}

    Examples
    --------
    >>> (data_dir("instruments") / "proqol5.yaml").exists()
    True
    """
    if name not in _KNOWN:
        raise ValueError(f"unknown data folder {name!r}; expected one of {_KNOWN}")
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"fieldsurvey's {name!r} folder is missing: looked in {installed} and {checkout}"
    )
