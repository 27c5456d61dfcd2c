"""Ways to run :func:`posture.batch.run_batch` beyond the processes of one machine.

The local engine lives in :mod:`posture.batch`; :mod:`posture.engines.ray_engine` runs the
same analysis on Ray Data (``pip install 'posture[cluster]'``).
"""
