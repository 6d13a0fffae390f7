"""Shared helper of the benchmark scripts: one timed ``strun`` in a fresh process."""

import os
import subprocess
import sys
import time


def run_once(args, outdir):
    """Run ``strun drizzle_psf <args> --output_dir=<outdir>`` and time it.

    The process is started from the benchmark's parent, which must stay small: ``fork``
    copies the parent until ``exec``, and that copy would count in the child's peak memory.

    Returns
    -------
    wall : float
        Seconds, including interpreter start-up and imports.
    peak : float
        Peak resident memory of the process (MB, from ``wait4``).
    """
    cmd = ["strun", "drizzle_psf", *[str(a) for a in args], f"--output_dir={outdir}"]
    env = dict(os.environ, CRDS_SERVER_URL="https://crds.invalid")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.stderr.write(stderr.decode()[-3000:])
        msg = f"strun failed ({code})"
        raise RuntimeError(msg)
    return wall, usage.ru_maxrss / 1024.0
