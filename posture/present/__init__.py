"""Last step of the flow: presentation (JSON contract, overlay drawing, reports).

Nothing here measures anything: it reads an :class:`~posture.analysis.Assessment`.
"""
