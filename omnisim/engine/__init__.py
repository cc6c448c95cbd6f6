"""omnisim's engine: time buckets, random streams, the ledger and the event trail."""

from omnisim.engine.kernel_cache import refresh as _refresh_kernel_cache

# Before any compiled kernel is loaded from numba's cache (see kernel_cache.py).
_refresh_kernel_cache()
