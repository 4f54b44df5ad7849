"""Enforcing stage moves: the shared ``transitions`` state machine and drawings of the pipeline."""
