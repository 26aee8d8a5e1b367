"""The ``fieldsurvey`` command line: a thin layer over the Python API.

Each stage keeps its commands in a module of this package named ``*_cmd.py`` that defines
``COMMANDS``, a list of click commands or groups. :data:`COMMAND_MODULES` names the module of each
command and its one-line help, so that a command imports only its own stage, and ``--help`` and
``--version`` import none (start-up stays well under a second; importing every stage took two).
A new command is one line there; ``tests/test_cli_startup.py`` checks the table against the
modules. Commands print through :mod:`fieldsurvey.cli.output`.

Errors are handled once, here (see :mod:`fieldsurvey.cli.failure`): a
:class:`~fieldsurvey.errors.FieldsurveyError` becomes one message naming file, row and column with
exit code 2; anything else is reported as a bug with the command, the version and the log file
holding the full trace, exit code 1; under ``--format json`` either comes out as JSON. Commands
therefore raise errors and never catch them to print.
"""

from __future__ import annotations

import gc
import importlib
import os
import warnings
from typing import Any

# A command allocates its big arrays once, fills them once and exits. NumPy asks Linux for
# transparent huge pages for every array over 4 MB, and on a machine whose memory is fragmented
# the kernel then compacts memory at the first touch: measured on the project machine, ``score``
# of 1,000,000 x 66 answers spent 1.7-2.2 s in the kernel with huge pages and 0.8 s without
# (500,000 x 30: 0.36-0.59 s against 0.24-0.34 s). Set before NumPy is imported; a user's own
# setting wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import click

from fieldsurvey import __version__
from fieldsurvey.cli import failure
from fieldsurvey.errors import FieldsurveyError

_ARGV = "fieldsurvey.argv"

# Command name -> (module in this package, one-line help shown by ``fieldsurvey --help``).
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "benchmark": ("compare_cmd", "Each organisation against the field without it"),
    "cfa": ("cfa_cmd", "Confirmatory factor analysis (ML, as lavaan's cfa()) of DATA"),
    "check-findings": ("findings_cmd", "Check the published values in FINDINGS_FILE"),
    "compare": ("compare_cmd", "Compare scale scores between groups"),
    "demo": ("demo_cmd", "Generate a synthetic coalition study and run every stage on it"),
    "export-data": ("study_cmd", "Write respondent-level data safe to hand over"),
    "field": ("field_cmd", "Export a STUDY's instruments to a platform format"),
    "ingest": ("study_cmd", "Read a platform export into the study store"),
    "init": ("study_cmd", "Create a study folder with study.yaml and an empty study store"),
    "instrument": ("instrument_cmd", "List, inspect and validate instrument definitions"),
    "invariance": ("cfa_cmd", "Measurement invariance of a CFA across the groups in --group"),
    "living-wage": ("living_wage_cmd",
                    "Share of roles and staff paid below the living wage, by organisation"),
    "plan-study": ("plan_study_cmd",
                   "Power of a plan's hypotheses for a study design, with suppression counted"),
    "releases": ("releases_cmd", "Every output released from the study"),
    "reliability": ("reliability_cmd", "Reliability of every scale of INSTRUMENT in DATA"),
    "report": ("report_cmd", "Write the field-wide report of STUDY (and organisation reports)"),
    "reproduce": ("reproduce_cmd", "Recompute the published findings in FINDINGS_FILE"),
    "run-plan": ("reproduce_cmd", "Run the pre-registered analysis plan PLAN_FILE"),
    "score": ("score_cmd", "Score every scale of the instruments for each respondent in DATA"),
    "status": ("study_cmd", "Responses per organisation and wave, quarantine reasons and flags"),
    "verify": ("report_cmd", "Recompute REPORT_DIR's results bundle and compare every number"),
}


def _import_without_collections(name: str) -> Any:
    """Import a command's module (and with it pandas, NumPy, Arrow, its stage) with the cyclic
    garbage collector paused, then freeze what was loaded.

    Importing creates hundreds of thousands of long-lived objects and no garbage; the collector
    would run on every 700 of them, rescanning all that came before. Measured on ``score``
    500,000 x 30 (whole process): 1.56 s CPU with collections during the import, 1.24 s
    without. Frozen objects are skipped by later collections, which a module's functions and
    classes (alive until exit) never needed.
    """
    if not gc.isenabled():  # the caller chose: leave it
        return importlib.import_module(name)
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()


class FieldsurveyGroup(click.Group):
    """The top-level group: runs a command and turns whatever it raises into clear output."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its stage's module the first time it is asked for."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMAND_MODULES:
            module = _import_without_collections(f"{__name__}.{COMMAND_MODULES[cmd_name][0]}")
            for found in getattr(module, "COMMANDS", []):
                self.add_command(found)
            command = super().get_command(ctx, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMAND_MODULES`, without importing any command."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMAND_MODULES:
                stub = click.Command(name, help=COMMAND_MODULES[name][1])  # click's truncation
                text = stub.get_short_help_str(limit)
            else:
                text = self.commands[name].get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
