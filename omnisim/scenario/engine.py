"""Scenario section "engine and experiments": how a run is carried out.

The engine settings (`Engine`: time bucket width, event-trail chunks, time-series period,
memory share). The experiment settings (`seed`, `replications`, `strategies`) are top-level
fields of `omnisim.scenario.schema.Scenario`. The section has no cross-reference checks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from omnisim.scenario._base import MIN_BUCKET_HOURS, PeriodDays, _at_least, _Model


class Engine(_Model):
    bucket_hours: Annotated[
        float,
        Field(gt=0.0, json_schema_extra={"minimum": MIN_BUCKET_HOURS}),
        _at_least(MIN_BUCKET_HOURS),
    ] = Field(
        1.0,
        description=(
            "Width of the time bucket in which consumer stage events are advanced together "
            "(hours). Events within a bucket run in exact time order; only interactions with "
            "the supply side depend on the width (replenishment deliveries act at bucket "
            "ends). Smaller is closer to exact and slower; at least 0.01 (36 seconds), and the "
            "memory check counts the buckets."
        ),
    )
    trail_chunk_rows: Annotated[int, Field(ge=1000, le=10_000_000)] = Field(
        500_000,
        description=(
            "Rows buffered before a chunk of the event trail is written (at most 10 million, "
            "about 500 MB)."
        ),
    )
    timeseries_days: PeriodDays = Field(
        7.0,
        description=(
            "Width of a period of the time series written to timeseries.csv, and the spacing "
            "of the active-customer count (days, at least 0.01; the memory check counts the "
            "periods)."
        ),
    )
    memory_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.8, description="Largest share of the machine's available memory a run may plan to use."
    )
