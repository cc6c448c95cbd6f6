"""The consumer stages: which kind of event each consumer has pending.

This is the interface other mechanisms use to see where a consumer is in the journey (the
media plan pulls a waiting need forward, for instance) without reaching into the journey's
modules. The journey (`omnisim.consumers`) owns the transitions; a consumer is in exactly one
stage at any time.
"""

from __future__ import annotations

WAIT_NEED, SEARCHING, TRAVELLING, FULFILMENT, CHURNED = 0, 1, 2, 3, 4
STAGE_NAMES = (
    "waiting_for_need",
    "searching",
    "travelling_to_store",
    "fulfilment_and_use",
    "churned",
)
