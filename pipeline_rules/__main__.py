"""``python -m pipeline_rules`` runs the command line."""

from pipeline_rules.cli import run

run()
