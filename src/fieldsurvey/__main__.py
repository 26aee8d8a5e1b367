"""``python -m fieldsurvey`` runs the command line."""

from fieldsurvey.cli import main

main()
