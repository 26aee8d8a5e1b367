"""The command table the top-level group loads commands from lazily, and a light start-up."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

from click.testing import CliRunner

import fieldsurvey.cli as cli


def test_command_table_matches_the_command_modules():
    found = {}
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"fieldsurvey.cli.{info.name}")
            found.update({command.name: info.name for command in module.COMMANDS})
    assert {name: module for name, (module, _) in cli.COMMAND_MODULES.items()} == found


def test_help_lists_every_command():
    result = CliRunner().invoke(cli.main, ["--help"])
    assert result.exit_code == 0
    for name in cli.COMMAND_MODULES:
        assert f"  {name} " in result.output


def test_version_and_help_import_no_stage():
    """--version and --help load click and the command table only (no pandas, no stage)."""
    code = ("import sys; from fieldsurvey.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('pandas', 'numpy', 'scipy') "
            "or m.startswith('fieldsurvey.') and m.endswith('_cmd')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
