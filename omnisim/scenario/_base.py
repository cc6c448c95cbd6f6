"""The ground of the scenario schema: the base model, the shared field types and the bounds.

`_Model` is the base of every scenario model, with its four rules for all fields at once
(unknown fields refused, numbers finite, booleans not numbers, text short). The annotated types
(`Fraction`, `Money`, `PeriodDays`, ...) and the bounds past which a value can only be a
mistake (`MAX_MONEY`, `MIN_PERIOD_DAYS`, ...) are shared by every section, and `Loc` is the
location a cross-reference problem carries. Every section module imports this one; it imports
none of them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Bounds a real market never reaches. Values past them can only be mistakes, and some would
# overflow the engine (a price of 1e300 times the units sold is inf) or loop without end (a
# review every 1e-300 days), so validation refuses them (docs/scenario.md, "What validation
# refuses").
MAX_HORIZON_DAYS = 36_500
"""Longest horizon (days; 100 years): the need clock is tabulated per hour of the horizon."""
MIN_PERIOD_DAYS = 0.01
"""Shortest period of anything that repeats (days; about a quarter of an hour): reviews,
sessions, exit checks, cap periods, time-series periods, need intervals."""
MIN_BUCKET_HOURS = 0.01
"""Narrowest time bucket (hours; 36 seconds): the engine loops once per bucket."""
MAX_CONSUMERS = 2**31 - 1
"""Most consumers a run may have: the event calendar keeps consumer ids in 32 bits. Checked
with the memory before a run (`omnisim.simulation.ensure_memory`), where a larger
number is refused anyway on any machine there is."""
MAX_MONEY = 1e16
"""Largest amount of money in any field (currency units, per unit, order, day or year): ten
quadrillion, more than any price, cost or budget in any currency; totals over a run stay far
from float overflow."""
MAX_UNITS = 10**12
"""Largest stock level, order-up-to level or forecast of one node (units): a trillion."""
MAX_LEAD_DAYS = 3_650.0
"""Longest lead time (days; 10 years). A forecast-based stock level is the forecast times
(lead time / review period + 1): at these bounds at most about 4e17 units, far inside the
64-bit integers stock is kept in."""
MAX_MARKUP = 100.0
"""Largest markup (fraction; 100 = the price is 101 times the purchase price)."""
MAX_PRICE_INDEX = 100.0
"""Largest channel price as a multiple of the list price."""
MAX_MULTIPLIER = 1_000.0
"""Largest multiplier of need rates, lead times and consideration odds in promotions and
shocks."""
MAX_CV = 10.0
"""Largest coefficient of variation of a random time (need intervals, lead times, service)."""
MAX_RATE_PER_DAY = 1_000.0
"""Largest word-of-mouth rate (events per consumer per day)."""
MAX_HOLDING_RATE = 100.0
"""Largest holding cost rate (fraction of the purchase price per year)."""


def _at_least(minimum: float) -> AfterValidator:
    """A lower bound checked after `gt=0`: zero and negative values keep pydantic's plain
    "greater than 0", tiny positive ones (which would loop without end) are refused here. The
    field's `json_schema_extra` gives the bound to the JSON Schema too."""

    def check(value: float) -> float:
        if value < minimum:
            raise PydanticCustomError(
                "greater_than_equal",
                "Input should be greater than or equal to {ge}",
                {"ge": minimum},
            )
        return value

    return AfterValidator(check)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY)]
PositiveMoney = Annotated[float, Field(gt=0.0, le=MAX_MONEY)]
Units = Annotated[int, Field(ge=0, le=MAX_UNITS)]
Markup = Annotated[float, Field(ge=0.0, le=MAX_MARKUP)]
Multiplier = Annotated[float, Field(gt=0.0, le=MAX_MULTIPLIER)]
PeriodDays = Annotated[
    float, Field(gt=0.0, json_schema_extra={"minimum": MIN_PERIOD_DAYS}), _at_least(MIN_PERIOD_DAYS)
]
Variation = Annotated[float, Field(ge=0.0, le=MAX_CV)]
RatePerDay = Annotated[float, Field(ge=0.0, le=MAX_RATE_PER_DAY)]

MAX_NAME = 200
"""Longest text value (characters) but the description: names of the scenario, channels,
nodes, regions, segments and strategies, references to them, the currency. Names end up in KPI
names, folder names and report tables."""
MAX_DESCRIPTION = 20_000
"""Longest scenario `description` (characters): it is copied into scenario.json and
report.html, so a pasted book must not become a 50 MB report."""


def _not_a_boolean(value: Any) -> Any:
    """Refuse a boolean where a number is meant: pydantic's lax mode reads `true` as 1, so
    `consumers: true` would silently mean one consumer."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "expected a number, got a boolean")
    return value


_SCHEMA_DATA_KEYS = frozenset({"serialization", "metadata", "config", "cls", "ref", "function"})
"""Keys of a core schema that hold no validation schema to descend into."""


def _refuse_booleans(schema: Any) -> Any:
    """A copy of a pydantic core schema in which every int and float schema, wherever it sits
    (a field, a list item, a dict value, a union member), first refuses booleans."""
    if isinstance(schema, list | tuple):
        return type(schema)(_refuse_booleans(s) for s in schema)
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "function-before" and (
        schema.get("function", {}).get("function") is _not_a_boolean
    ):
        return schema  # already guarded (a model nested in another is visited twice)
    out = {k: v if k in _SCHEMA_DATA_KEYS else _refuse_booleans(v) for k, v in schema.items()}
    if out.get("type") in ("int", "float"):
        return core_schema.no_info_before_validator_function(_not_a_boolean, out)  # type: ignore[arg-type]
    return out


class _Model(BaseModel):
    """Base of every scenario model, with four rules for all their fields at once:

    * unknown fields are errors (a typo must not silently fall back to a default);
    * numbers must be finite: inf and NaN (YAML `.inf`, `.nan`, `--set x=inf`) are refused in
      every float, also inside lists and mappings, so that no run can write a non-finite KPI;
    * booleans are not numbers: `true` where an int or float is meant is refused, also inside
      lists, mappings and unions (a boolean field or union member still takes them);
    * text is short: at most MAX_NAME characters in every string, mapping keys included (the
      scenario's `description` allows MAX_DESCRIPTION).
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=False, allow_inf_nan=False, str_max_length=MAX_NAME
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # One place for the boolean rule: rewriting the generated schema covers every numeric
        # field of every model, nested types included, without an annotation per field.
        return _refuse_booleans(handler(source))


Loc = tuple[str | int, ...]
"""Location of a cross-reference problem, in pydantic's `loc` form (list items by index)."""
