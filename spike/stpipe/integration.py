"""Entry-point hook telling stpipe which steps spike provides.

The names are plain strings so that ``strun`` can list aliases without importing spike's
steps (and their heavy dependencies).
"""

__all__ = ["get_steps"]

STEPS = (
    ("spike.steps.GeneratePSFStep", "generate_psf", False),
    ("spike.steps.DrizzlePSFStep", "drizzle_psf", False),
)


def get_steps():
    """Return spike's steps for the ``stpipe.steps`` entry point.

    Returns
    -------
    list of tuple
        ``(class path, alias, is_pipeline)`` for every step.
    """
    return list(STEPS)
