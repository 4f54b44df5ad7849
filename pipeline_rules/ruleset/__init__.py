"""Rulesets: source text, the YAML loader with positions, the schema, the model, compiling, and
the catalog that turns files into compiled rulesets (or the problems that stop them)."""
