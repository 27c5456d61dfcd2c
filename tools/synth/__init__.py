"""Labelled synthetic photos of standing adults with known pelvic tilt: side views, and
front and back views with known pelvic obliquity, shoulder level and head tilt (0.5.0).

The definition of the landmarks and of pelvic tilt follows ``../shared/ground-truth.md``.
Run ``python -m tools.synth --help`` for the commands.
"""

GENERATOR_VERSION = "0.5.0"
