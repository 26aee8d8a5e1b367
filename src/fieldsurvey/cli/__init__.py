"""The ``fieldsurvey`` command line: a thin layer over the Python API.

Each stage keeps its commands in a module of this package named ``*_cmd.py`` that defines
``COMMANDS``, a list of click commands or groups. They are found here by name, so adding a stage's
commands never means editing this file. Commands print through :mod:`fieldsurvey.cli.output`.

Errors are handled once, here (see :mod:`fieldsurvey.cli.failure`): a
:class:`~fieldsurvey.errors.FieldsurveyError` becomes one message naming file, row and column with
exit code 2; anything else is reported as a bug with the command, the version and the log file
holding the full trace, exit code 1; under ``--format json`` either comes out as JSON. Commands
therefore raise errors and never catch them to print.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from typing import Any

import click

from fieldsurvey import __version__
from fieldsurvey.cli import failure
from fieldsurvey.errors import FieldsurveyError

_ARGV = "fieldsurvey.argv"


class FieldsurveyGroup(click.Group):
    """The top-level group: runs a command and turns whatever it raises into clear output."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)  # kept for error output: the command and --format json
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        argv = ctx.meta.get(_ARGV, [])
        try:
            with warnings.catch_warnings():
                warnings.showwarning = failure.show_warning
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except FieldsurveyError as exc:
            ctx.exit(failure.report_user_error(exc, argv))
        except click.ClickException as exc:
            if failure.report_usage_error(exc, argv):
                ctx.exit(exc.exit_code)
            raise
        except Exception as exc:  # a bug: say so, keep the trace in a log, never a traceback
            ctx.exit(failure.report_crash(exc, ctx.invoked_subcommand or "", argv))


@click.group(cls=FieldsurveyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fieldsurvey")
def main() -> None:
    """Workforce survey research for the anti-trafficking and victim-services field."""


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module_info.name.endswith("_cmd"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", []):
            main.add_command(command)


_register_commands()
