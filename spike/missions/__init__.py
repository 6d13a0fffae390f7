"""Mission adapters: the only code that knows each mission's datamodels and resample code."""

import logging
import sys
from pathlib import Path

from spike.missions._inputs import expand_input, short_error
from spike.missions.base import MissionAdapter, OutputGrid, Stamp, report_unusable

__all__ = ["MissionAdapter", "OutputGrid", "Stamp", "detect_mission", "open_exposures",
           "report_unusable"]

log = logging.getLogger(__name__)

SUPPORTED = ("jwst", "roman", "hst")


def _mission_of_file(path):
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".asdf":
        import asdf

        try:
            tree = asdf.util.load_yaml(path)
        except Exception as exc:  # asdf and yaml raise many types for a bad file
            msg = f"{path} cannot be read as an ASDF file: {short_error(exc)}"
            raise ValueError(msg) from exc
        if not isinstance(tree, dict):
            msg = f"{path} is not an ASDF file holding a datamodel"
            raise ValueError(msg)
        if "roman" in tree:
            return "roman"
        meta = tree.get("meta")
        telescope = meta.get("telescope") if isinstance(meta, dict) else None
        return str(telescope).lower() if telescope else "unknown"
    if suffix in (".fits", ".fit", ".fts"):
        from astropy.io import fits

        try:
            telescope = fits.getval(path, "TELESCOP", ext=0)
        except (KeyError, OSError, IndexError, ValueError) as exc:
            msg = f"{path} is not a FITS exposure with a TELESCOP keyword: {short_error(exc)}"
            raise ValueError(msg) from exc
        return str(telescope).strip().lower()
    msg = f"{path}: unrecognised file type {suffix!r} (expected .fits or .asdf)"
    raise ValueError(msg)


def _mission_of_item(item):
    if isinstance(item, (str, Path)):
        return _mission_of_file(item)
    module = type(item).__module__
    if module.startswith("stdatamodels.jwst") or module.startswith("jwst"):
        return "jwst"
    if module.startswith("roman_datamodels"):
        return "roman"
    msg = f"Cannot tell which mission a {type(item).__name__} input belongs to"
    raise TypeError(msg)


def detect_mission(input_data):
    """Return the mission (``"jwst"``, ``"roman"`` or ``"hst"``) of the exposures in ``input_data``.

    Raises
    ------
    ValueError
        When the input mixes missions or belongs to an unsupported one.
    """
    # a model library of a pipeline can only exist when that pipeline is imported: do not
    # import jwst or romancal for file inputs (HST runs never need them)
    if "jwst.datamodels" in sys.modules:
        from jwst.datamodels import ModelLibrary as JWSTLibrary

        if isinstance(input_data, JWSTLibrary):
            return "jwst"
    if "romancal.datamodels" in sys.modules:
        from romancal.datamodels import ModelLibrary as RomanLibrary

        if isinstance(input_data, RomanLibrary):
            return "roman"
    items, _ = expand_input(input_data)
    missions = {_mission_of_item(item) for item in items}
    if len(missions) > 1:
        msg = f"The input mixes exposures of several missions ({', '.join(sorted(missions))})"
        raise ValueError(msg)
    mission = missions.pop()
    if mission not in SUPPORTED:
        msg = (f"Exposures of {mission.upper()} are not supported yet; this version of spike "
               f"drizzles PSFs for {', '.join(m.upper() for m in SUPPORTED)} imaging")
        raise ValueError(msg)
    return mission


def open_exposures(input_data, *, product_name=None):
    """Open the science exposures with the adapter of their mission.

    Parameters
    ----------
    input_data : str, Path, dict, list, model or model library
        Association, exposure file(s) or model(s).
    product_name : str, optional
        Output product name (default: the association's, or derived from the first file).

    Returns
    -------
    MissionAdapter
    """
    mission = detect_mission(input_data)
    if mission == "jwst":
        from spike.missions.jwst import JWSTAdapter

        return JWSTAdapter(input_data, product_name=product_name)
    if mission == "roman":
        from spike.missions.roman import RomanAdapter

        return RomanAdapter(input_data, product_name=product_name)
    if mission == "hst":
        from spike.missions.hst import HSTAdapter

        return HSTAdapter(input_data, product_name=product_name)
    msg = f"No adapter for mission {mission!r}"  # pragma: no cover - guarded above
    raise ValueError(msg)
