"""How the command line reports a failure: the one place errors are turned into output.

* A :class:`~fieldsurvey.errors.FieldsurveyError` is a problem with the user's input: one message
  naming file, row and column on stderr, exit code 2.
* Anything else is a bug in fieldsurvey: a short message with the command and the version on
  stderr, the full trace written to a log file whose path is printed, exit code 1.
* Under ``--format json`` both come out as one JSON object on stdout instead
  (``{"error": {"code", "message", "file", "row", "column"}}``), so scripts that parse the output
  can read the failure too. Usage errors (unknown option, missing argument) follow the same rule.
* Python warnings are shown as one plain ``warning: ...`` line each, never with source paths.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fieldsurvey import __version__
from fieldsurvey.errors import FieldsurveyError

USER_ERROR_EXIT = 2
INTERNAL_ERROR_EXIT = 1


def wants_json(argv: Sequence[str]) -> bool:
    """True when the command line asks for ``--format json`` (either spelling)."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--format=json" or (arg == "--format" and args[i + 1 : i + 2] == ["json"]):
            return True
    return False


def log_dir() -> Path:
    """Where crash logs go: ``$FIELDSURVEY_HOME/logs`` (default ``~/.local/share/fieldsurvey``)."""
    base = os.environ.get("FIELDSURVEY_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share" / "fieldsurvey"
    return root / "logs"


def write_crash_log(exc: BaseException, command: str, argv: Sequence[str]) -> Path:
    """Write the full trace of an unexpected error to a new log file and return its path."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join([
        f"fieldsurvey {__version__}, Python {platform.python_version()}, {platform.platform()}\n",
        f"command: fieldsurvey {' '.join(argv)}\n",
        f"when: {dt.datetime.now().isoformat(timespec='seconds')}\n\n",
        *traceback.format_exception(exc),
    ])  # fmt: skip
    for folder in (log_dir(), Path(tempfile.gettempdir()) / "fieldsurvey-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}-{command or 'fieldsurvey'}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise OSError("no folder for the crash log is writable")


def _emit_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps({"error": payload}, indent=2, ensure_ascii=False))


def report_user_error(exc: FieldsurveyError, argv: Sequence[str]) -> int:
    """Print a user error (JSON under ``--format json``) and return the exit code."""
    if wants_json(argv):
        _emit_json(exc.to_dict())
    else:
        click.echo(f"Error: {exc}", err=True)
    return USER_ERROR_EXIT


def report_usage_error(exc: click.ClickException, argv: Sequence[str]) -> bool:
    """Under ``--format json``, print a click usage error (or another click exception, with
    its own ``error_code``) as JSON; True when it was printed."""
    if not wants_json(argv):
        return False
    _emit_json({"code": getattr(exc, "error_code", "usage"), "message": exc.format_message(),
                "file": None, "row": None, "column": None})
    return True


def report_crash(exc: BaseException, command: str, argv: Sequence[str]) -> int:
    """Print the short message for a bug, write the trace to a log, return the exit code."""
    try:
        log: Path | None = write_crash_log(exc, command, argv)
    except OSError:
        log = None
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    where = f"the full trace is in {log}" if log else "the trace could not be written to a log"
    message = (f"fieldsurvey {command or ''} failed unexpectedly (fieldsurvey {__version__}): "
               f"{what}. This is a bug in fieldsurvey, not a problem with your input; {where}. "
               "Please attach that file to a bug report.").replace("  ", " ")
    if wants_json(argv):
        _emit_json({"code": "internal", "message": message, "file": None, "row": None,
                    "column": None, "log": str(log) if log else None})
    else:
        click.echo(f"Error: {message}", err=True)
    return INTERNAL_ERROR_EXIT


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` for the command line: one plain line, no source path."""
    text = str(message).strip()
    if text:
        print(f"warning: {text}", file=sys.stderr if file is None else file)
