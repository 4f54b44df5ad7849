"""``python -m pipeline_rules`` runs the command line."""

from .cli import run

run()
