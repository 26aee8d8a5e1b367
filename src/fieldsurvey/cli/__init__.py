"""The ``fieldsurvey`` command line: a thin layer over the Python API.

Each stage keeps its commands in a module of this package named ``*_cmd.py`` that defines
``COMMANDS``, a list of click commands or groups. They are found here by name, so adding a stage's
commands never means editing this file. Commands print through :mod:`fieldsurvey.cli.output` and
turn expected errors into a one-line message and exit code 2 (never a traceback).
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from fieldsurvey import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
