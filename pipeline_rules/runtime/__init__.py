"""The live runtime: deals kept in a store, each judged again when its findings can change, and
their alerts followed from raised to delivered, resolved and retracted (docs/runtime.md).

It sits above the evaluator (it judges with the one judge) and below the HTTP service and the
command line, which drive it.
"""
