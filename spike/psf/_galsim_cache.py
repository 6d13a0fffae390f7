"""Size-bounded least-recently-used cache of GalSim grid nodes (`spike.psf.galsim_method`).

`spike.psf.galsim_method` keeps one process-wide instance, ``_NODES``; the computed
polychromatic angular PSFs at the grid nodes of an SCA are stored there.
"""

import collections


class _NodeCache:
    """Least-recently-used cache of node arrays bounded by their total size in bytes."""

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._data = collections.OrderedDict()
        self._bytes = 0

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value):
        if key in self._data:
            return
        self._data[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.max_bytes and len(self._data) > 1:
            _, old = self._data.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self):
        self._data.clear()
        self._bytes = 0

    def __len__(self):
        return len(self._data)
