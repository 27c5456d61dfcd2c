"""App-only helpers for the Streamlit app (session state, widgets, the live video processor).

No geometry lives here: every number comes from the ``posture`` library; this package only
runs it, aggregates frames of a stream and presents the results.
"""

from .nav import use_explicit_navigation

# every page imports this package: a deep link into a fresh server gets the page list too
use_explicit_navigation()
