"""Development tools for posture (not needed by users of the app)."""
