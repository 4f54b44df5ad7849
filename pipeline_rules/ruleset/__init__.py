"""Rulesets: source text, the YAML loader with positions, the schema, the model, the checks that
decide whether a ruleset can be used (:mod:`.checks`), compiling, and the catalog that turns
files into compiled rulesets (or the problems that stop them)."""
