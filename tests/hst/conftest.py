"""HST test constants; the session fixture ``hrc`` (dithered copies of the real ACS/HRC
exposure and their science drizzle) lives in ``tests/conftest.py`` so that other test
directories (``tests/reliability``) share the one science run.
"""

OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25), (1.25, -2.75))
