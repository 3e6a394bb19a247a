"""The checks between decode and decision, as stages of one pipeline.

A stage has a name, a phase (before the engine, on the decode's facts and the model input; or after
it, on the pooled features), the input-check modes it runs in, which inputs it applies to, the card
summary it applies (or None) and, per input, an Outcome: its findings, its scores and a note for the
record. The stages live in one registry (registry.STAGES, in the order they run); the Pipeline is
configured once per model from the card, the options and the engine, and the Classifier runs it.
Adding a check: a module with its stage, one line in the registry, its test. (This package
module imports nothing: its modules are imported by name.)
"""
