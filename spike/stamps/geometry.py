"""Cutout geometry shared by every mission's stamp engine.

Stamp drizzling replaces a full-frame resample by the resample of small cutouts: each
exposure is cropped around the source (its WCS shifted to match) and drizzled onto a
*padded* sub-grid of the science mosaic's grid (same pixel phase), which is trimmed
afterwards. Two margins make the result equal to the full-frame resample cut to the same
region:

* the output sub-grid is padded by `OUTPUT_PAD` pixels on every side and trimmed after
  drizzling (drizzle's outermost output rows depend on the input's extent otherwise);
* the input cutout covers the footprint of the *padded* output sub-grid plus `INPUT_MARGIN`
  input pixels, so every input pixel that can reach the trimmed region is drizzled.

The functions here take and return plain numbers, arrays and WCS objects.
"""

import weakref
from dataclasses import dataclass

import numpy as np
from astropy.modeling.models import Shift

__all__ = [
    "INPUT_MARGIN",
    "OUTPUT_PAD",
    "Box",
    "output_box",
    "input_box",
    "shift_wcs",
    "contains",
]

#: Output pixels added on every side of a drizzled cutout, and trimmed afterwards.
OUTPUT_PAD = 4
#: Input pixels added on every side of the footprint of the padded output cutout.
INPUT_MARGIN = 4


@dataclass(frozen=True)
class Box:
    """A rectangular block of pixels: ``[ystart:ystart+ny, xstart:xstart+nx]``.

    Parameters
    ----------
    xstart, ystart : int
        0-based index of the block's first column and row in its parent array.
    nx, ny : int
        Width and height in pixels.
    """

    xstart: int
    ystart: int
    nx: int
    ny: int

    @property
    def shape(self):
        """``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def slices(self):
        """Slices selecting the box from its parent array."""
        return (
            slice(self.ystart, self.ystart + self.ny),
            slice(self.xstart, self.xstart + self.nx),
        )

    def pad(self, n):
        """Return the box grown by ``n`` pixels on every side."""
        return Box(self.xstart - n, self.ystart - n, self.nx + 2 * n, self.ny + 2 * n)

    def clip(self, shape):
        """Return the part of the box inside an array of ``shape``, or None if empty."""
        ny, nx = shape
        x0, y0 = max(self.xstart, 0), max(self.ystart, 0)
        x1 = min(self.xstart + self.nx, nx)
        y1 = min(self.ystart + self.ny, ny)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)


def output_box(x, y, size):
    """Return the cutout of side ``size`` of the output grid centred on pixel ``(x, y)``.

    Parameters
    ----------
    x, y : float
        0-based position of the source on the output (mosaic) grid.
    size : int
        Odd cutout width in output pixels.

    Returns
    -------
    Box
        The box whose central pixel is the one containing ``(x, y)``.
    """
    half = int(size) // 2
    return Box(int(np.floor(x + 0.5)) - half, int(np.floor(y + 0.5)) - half, int(size), int(size))


def _box_edge_points(box, step=1.0):
    """Points along the outer edges of ``box`` (pixel-edge coordinates), 0-based."""
    x0, x1 = box.xstart - 0.5, box.xstart + box.nx - 0.5
    y0, y1 = box.ystart - 0.5, box.ystart + box.ny - 0.5
    xs = np.linspace(x0, x1, max(int((x1 - x0) / step) + 1, 2))
    ys = np.linspace(y0, y1, max(int((y1 - y0) / step) + 1, 2))
    px = np.concatenate([xs, xs, np.full_like(ys, x0), np.full_like(ys, x1)])
    py = np.concatenate([np.full_like(xs, y0), np.full_like(xs, y1), ys, ys])
    return px, py


def input_box(out_box, out_wcs, in_wcs, in_shape, *, margin=INPUT_MARGIN):
    """Return the input cutout needed to drizzle onto ``out_box`` exactly.

    Parameters
    ----------
    out_box : Box
        The (already padded) output cutout, in output-grid pixels.
    out_wcs, in_wcs : WCS
        APE-14 WCS objects (gwcs or astropy) of the output grid and of the input exposure.
    in_shape : tuple of int
        ``(ny, nx)`` of the input data array.
    margin : int, optional
        Input pixels added around the footprint.

    Returns
    -------
    Box or None
        The input cutout, clipped to the input array; None when the footprint misses it
        or cannot be mapped.
    """
    px, py = _box_edge_points(out_box)
    with np.errstate(invalid="ignore"):
        world = out_wcs.pixel_to_world_values(px, py)
        ix, iy = _world_to_pixel(in_wcs, *world)
    ix, iy = np.asarray(ix, dtype=float), np.asarray(iy, dtype=float)
    good = np.isfinite(ix) & np.isfinite(iy)
    if not good.any():
        return None
    x0 = int(np.floor(ix[good].min() + 0.5)) - margin
    x1 = int(np.floor(ix[good].max() + 0.5)) + margin
    y0 = int(np.floor(iy[good].min() + 0.5)) - margin
    y1 = int(np.floor(iy[good].max() + 0.5)) + margin
    return Box(x0, y0, x1 - x0 + 1, y1 - y0 + 1).clip(in_shape)


#: Backward transforms of the gwcs objects seen by `input_box`, kept by spike (weakly, so a
#: WCS and its entry go away together) rather than written into objects the caller owns.
_BACKWARD = weakref.WeakKeyDictionary()


def _world_to_pixel(wcs, *world):
    """``wcs.world_to_pixel_values``, with a gwcs' inverse transform built once per WCS.

    gwcs assembles its backward transform on every call (about 8 ms for a JWST
    exposure); the exposures' WCS objects live for the whole run, so their inverse is
    kept in a weak-keyed cache of this module. The bounding box is not applied:
    callers clip to the array.
    """
    if not hasattr(wcs, "pipeline"):
        return wcs.world_to_pixel_values(*world)
    try:
        backward = _BACKWARD.get(wcs)
    except TypeError:  # not hashable or not weakly referenceable: no cache
        backward = None
    if backward is None:
        try:
            backward = wcs.backward_transform
        except NotImplementedError:
            return wcs.world_to_pixel_values(*world)
        try:
            _BACKWARD[wcs] = backward
        except TypeError:
            pass
    return backward(*world)


def contains(wcs, shape, x, y):
    """Return True when 0-based pixel ``(x, y)`` lies on the data array and bounding box.

    Parameters
    ----------
    wcs : WCS
        The exposure's WCS; its ``bounding_box`` (if any) is honoured.
    shape : tuple of int
        ``(ny, nx)`` of the data array.
    x, y : float
        Position to test.
    """
    if not (np.isfinite(x) and np.isfinite(y)):
        return False
    ny, nx = shape
    if not (-0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5):
        return False
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return True
    (bx0, bx1), (by0, by1) = bbox.bounding_box(order="F")
    return bool(bx0 <= x <= bx1 and by0 <= y <= by1)


def shift_wcs(wcs, box, *, transient=False):
    """Return the WCS of the cutout ``box`` of an image whose WCS is ``wcs``.

    Parameters
    ----------
    wcs : `gwcs.wcs.WCS` or `astropy.wcs.WCS`
        WCS of the parent image (0-based pixels).
    box : Box
        The cutout.
    transient : bool, optional
        For a gwcs used only during this run (PSF stamps and cutouts handed to the
        resample code): its total forward and backward transforms are built once instead
        of at every call (gwcs rebuilds them each time, about 8 ms for the inverse of a
        distorted JWST WCS). Such a WCS is a private subclass that ASDF cannot save.

    Returns
    -------
    WCS
        For gwcs: a copy with ``Shift(xstart) & Shift(ystart)`` prepended, its bounding box
        the parent's (shifted, clipped to the cutout) and ``array_shape`` the cutout's.
        For astropy WCS: ``wcs.slice`` (which also shifts SIP/NPOL/D2IM tables).
    """
    if hasattr(wcs, "forward_transform"):
        return _shift_gwcs(wcs, box, transient=transient)
    return wcs.slice(box.slices)


def _cached_wcs_class():
    from gwcs.wcs import WCS

    class _TransientWCS(WCS):
        """A gwcs whose total transforms are built once (its pipeline never changes)."""

        @property
        def forward_transform(self):
            if "_spike_forward" not in self.__dict__:
                self.__dict__["_spike_forward"] = WCS.forward_transform.fget(self)
            return self.__dict__["_spike_forward"]

        @property
        def backward_transform(self):
            if "_spike_backward" not in self.__dict__:
                self.__dict__["_spike_backward"] = WCS.backward_transform.fget(self)
            return self.__dict__["_spike_backward"]

    return _TransientWCS


_TRANSIENT = []


def _shift_gwcs(wcs, box, *, transient=False):
    # Build a new pipeline that shares the parent's transforms (no deep copy: a copy of
    # a distortion gwcs costs tens of ms) with a shifted first step.
    from gwcs.wcs import WCS

    if transient and not _TRANSIENT:
        _TRANSIENT.append(_cached_wcs_class())
    steps = list(wcs.pipeline)
    first = (Shift(box.xstart) & Shift(box.ystart)) | steps[0].transform
    pipeline = [(steps[0].frame, first)]
    pipeline += [(step.frame, step.transform) for step in steps[1:]]
    new = (_TRANSIENT[0] if transient else WCS)(pipeline)
    xlo, xhi = -0.5, box.nx - 0.5
    ylo, yhi = -0.5, box.ny - 0.5
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is not None:
        (bx0, bx1), (by0, by1) = bbox.bounding_box(order="F")
        xlo, xhi = max(xlo, bx0 - box.xstart), min(xhi, bx1 - box.xstart)
        ylo, yhi = max(ylo, by0 - box.ystart), min(yhi, by1 - box.ystart)
    new.bounding_box = ((xlo, xhi), (ylo, yhi))
    new.array_shape = box.shape
    new.__dict__.pop("_spike_forward", None)  # set after the bounding box
    new.__dict__.pop("_spike_backward", None)
    return new
