"""App-only helpers for the Streamlit app (session state, widgets, the live video processor).

No geometry lives here: every number comes from the ``posture`` library; this package only
runs it, aggregates frames of a stream and presents the results.
"""
