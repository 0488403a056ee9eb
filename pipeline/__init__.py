"""Foundation shared by every stage: the pipeline configuration, file contracts between
stages, quantities with units and atomic file writes.

This package imports no stage (simulation, distill, model, lra, train) and no torch, so any
stage, the Snakefile and the tests can use it.
"""
