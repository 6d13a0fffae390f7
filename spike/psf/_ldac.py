"""Editing Source Extractor's ``FITS_LDAC`` catalogues before PSFEx reads them.

`exclude_sources` leaves out the detections near given positions (stars held out for
cross-validation, `spike.psf._holdout`). The table is rewritten byte for byte, only
``NAXIS2`` and the rows changing: PSFEx's own FITS reader crashed (segmentation fault) on
the same table re-serialised by astropy.
"""

import numpy as np

__all__ = ["exclude_sources"]


def exclude_sources(path, xy, radius):
    """Drop from an ``FITS_LDAC`` catalogue the sources near given positions, in place.

    The table is rewritten byte for byte (only ``NAXIS2`` and the rows change): PSFEx's
    own FITS reader crashes on the same table re-serialised by astropy.

    Parameters
    ----------
    path : pathlib.Path
        Source Extractor's catalogue (``LDAC_OBJECTS`` table with ``X_IMAGE``,
        ``Y_IMAGE``, 1-based).
    xy : numpy.ndarray
        ``(n, 2)`` 0-based detector ``(x, y)`` of the stars to leave out.
    radius : float
        Sources within this many pixels of one of them are removed.

    Returns
    -------
    int
        Number of sources removed.
    """
    from astropy.io import fits
    from scipy.spatial import cKDTree

    if len(xy) == 0 or not radius > 0:
        return 0
    with fits.open(path) as hdul:
        names = [hdu.name for hdu in hdul]
        table = hdul["LDAC_OBJECTS"].data
        if table is None or len(table) == 0:
            return 0
        pos = np.column_stack([np.asarray(table["X_IMAGE"], dtype=float) - 1.0,
                               np.asarray(table["Y_IMAGE"], dtype=float) - 1.0])
    near = np.asarray(cKDTree(np.asarray(xy, dtype=float)).query_ball_point(
        pos, radius, return_length=True)) > 0
    if not near.any():
        return 0
    raw = path.read_bytes()
    parts, offset = [], 0
    for name in names:
        header, data, offset = _split_hdu(raw, offset)
        if name == "LDAC_OBJECTS":
            header, data = _keep_rows(header, data, ~near)
        parts += [header, data]
    path.write_bytes(b"".join(parts) + raw[offset:])
    return int(near.sum())


def _card(header, key):
    """Integer value of the card ``key`` in a raw FITS header (0 when absent)."""
    for i in range(0, len(header), 80):
        card = header[i:i + 80].decode("ascii")
        if card[:8].strip() == key:
            return int(card[10:].split("/")[0])
    return 0


def _split_hdu(raw, offset):
    """Return the padded header and data bytes of the HDU at ``offset``, and the next one."""
    end = raw.index(b"END" + b" " * 77, offset)
    header_end = offset + -(-(end + 80 - offset) // 2880) * 2880
    header = raw[offset:header_end]
    naxis = _card(header, "NAXIS")
    size = 0
    if naxis:
        size = abs(_card(header, "BITPIX")) // 8
        for axis in range(1, naxis + 1):
            size *= _card(header, f"NAXIS{axis}")
        size += _card(header, "PCOUNT")
    data_end = header_end + -(-size // 2880) * 2880
    return header, raw[header_end:data_end], data_end


def _keep_rows(header, data, keep):
    """Header and data of a binary table keeping only the rows ``keep`` (boolean)."""
    width = _card(header, "NAXIS1")
    rows = np.frombuffer(data[:width * len(keep)], dtype=np.uint8).reshape(len(keep), width)
    body = rows[keep].tobytes()
    body += b"\0" * (-len(body) % 2880)
    cards = []
    for i in range(0, len(header), 80):
        card = header[i:i + 80]
        if card[:8].strip() == b"NAXIS2":
            card = f"{'NAXIS2':<8}= {int(keep.sum()):>20d} / NUMBER OF ROWS".ljust(80).encode()
        cards.append(card)
    return b"".join(cards), body
