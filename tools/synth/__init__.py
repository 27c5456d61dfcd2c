"""Labelled synthetic side-view photos of standing adults with known pelvic tilt.

The definition of the landmarks and of pelvic tilt follows ``../shared/ground-truth.md``.
Run ``python -m tools.synth --help`` for the commands.
"""

GENERATOR_VERSION = "0.4.0"
