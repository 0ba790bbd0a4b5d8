"""Scenarios: what a virtual patient eats and which extra insulin it takes, and when."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

__all__ = ["InsulinEvent", "Meal", "Scenario", "random_scenario"]

MINUTES_PER_DAY = 1440


def _non_negative_int(instance, attribute, value) -> None:
    if value < 0:
        raise ValueError(f"{type(instance).__name__}.{attribute.name} = {value} must be >= 0 "
                         "(minutes after the simulation start)")


def _non_negative_finite(instance, attribute, value) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{type(instance).__name__}.{attribute.name} = {value!r} must be a "
                         "finite number >= 0")


@attrs.frozen
class Meal:
    """A meal announced at ``time_min`` minutes after the start, of ``carbs_g`` grams."""

    time_min: int = attrs.field(converter=int, validator=_non_negative_int)
    carbs_g: float = attrs.field(converter=float, validator=_non_negative_finite)


@attrs.frozen
class InsulinEvent:
    """An extra bolus of ``bolus_u`` units at ``time_min``, on top of the controller's insulin."""

    time_min: int = attrs.field(converter=int, validator=_non_negative_int)
    bolus_u: float = attrs.field(converter=float, validator=_non_negative_finite)


def _sorted_meals(meals: Iterable[Meal]) -> tuple[Meal, ...]:
    return tuple(sorted(meals, key=lambda m: m.time_min))


def _sorted_insulin(events: Iterable[InsulinEvent]) -> tuple[InsulinEvent, ...]:
    return tuple(sorted(events, key=lambda e: e.time_min))


@attrs.frozen
class Scenario:
    """Meals and extra insulin over a simulation; times in minutes after its start."""

    meals: tuple[Meal, ...] = attrs.field(default=(), converter=_sorted_meals)
    insulin: tuple[InsulinEvent, ...] = attrs.field(default=(), converter=_sorted_insulin)

    @classmethod
    def daily(cls, meals: Sequence[tuple[float, float]], days: int = 1) -> Scenario:
        """The same meals every day: ``[(hour, carbs_g), ...]``, e.g. ``[(7, 45), (12, 70)]``."""
        out = []
        for day in range(int(days)):
            for hour, carbs in meals:
                out.append(Meal(round(60 * (24 * day + float(hour))), carbs))
        return cls(meals=tuple(out))

    @property
    def end_min(self) -> int:
        """One past the last minute with an event (0 for an empty scenario)."""
        times = [m.time_min for m in self.meals] + [e.time_min for e in self.insulin]
        return max(times) + 1 if times else 0

    def check_within(self, n_minutes: int) -> None:
        """Raise ValueError naming the first event at or after minute ``n_minutes``."""
        if self.end_min > n_minutes:
            late = [m for m in self.meals if m.time_min >= n_minutes]
            late_ins = [e for e in self.insulin if e.time_min >= n_minutes]
            first = (late or late_ins)[0]
            raise ValueError(
                f"the scenario has an event past the simulation end: {first} at minute "
                f"{first.time_min}, but the simulation covers minutes 0-{n_minutes - 1} "
                f"({n_minutes / MINUTES_PER_DAY:g} days); simulate more days or drop the event"
            )

    def per_minute(self, n_minutes: int) -> tuple[np.ndarray, np.ndarray]:
        """Announced carbs [g] and extra bolus [U] per minute over ``n_minutes`` minutes.

        Raises ValueError when an event lies at or after the end of the simulation.
        """
        self.check_within(n_minutes)
        carbs = np.zeros(n_minutes)
        bolus = np.zeros(n_minutes)
        for m in self.meals:
            carbs[m.time_min] += m.carbs_g
        for e in self.insulin:
            bolus[e.time_min] += e.bolus_u
        return carbs, bolus


# Random meal plan: breakfast, snack, lunch, snack, dinner, snack (simglucose RandomScenario):
# probability, mean time [h], sd [min], bounds [h], mean carbs [g], sd [g]
_MEAL_PLAN = (
    (0.95, 7.0, 60.0, (5.0, 9.0), 45.0, 10.0),
    (0.30, 9.5, 30.0, (9.0, 10.0), 10.0, 5.0),
    (0.95, 12.0, 60.0, (10.0, 14.0), 70.0, 10.0),
    (0.30, 15.0, 30.0, (14.0, 16.0), 10.0, 5.0),
    (0.95, 18.0, 60.0, (16.0, 20.0), 80.0, 10.0),
    (0.30, 21.5, 30.0, (20.0, 23.0), 10.0, 5.0),
)


def _random_day(rng: np.random.Generator) -> list[tuple[int, float]]:
    """One day of the random meal plan: (minute of the day, carbs [g]) pairs, in order.

    The draws of :func:`random_scenario` for one day, without building its objects (the
    RL environments plan a day of meals per lane at every new day)."""
    day = []
    random, normal = rng.random, rng.normal
    for prob, mean_h, sd_min, (lo_h, hi_h), mean_g, sd_g in _MEAL_PLAN:
        if random() >= prob:
            continue
        while True:  # truncated normal by rejection (the bounds are within 2 sd)
            minute = normal(60.0 * mean_h, sd_min)
            if 60.0 * lo_h <= minute <= 60.0 * hi_h:
                break
        carbs = max(0.0, float(round(normal(mean_g, sd_g))))  # round half to even, as numpy
        if carbs > 0:
            day.append((int(round(minute)), carbs))
    return day


def random_scenario(days: int = 1, seed: int | np.random.Generator | None = None) -> Scenario:
    """A realistic random meal plan: breakfast, lunch, dinner (95 % each) and snacks (30 %).

    Times follow truncated normals (means 07:00, 09:30, 12:00, 15:00, 18:00, 21:30), sizes
    rounded normals (45, 10, 70, 10, 80, 10 g), as in simglucose's ``RandomScenario``.
    The same seed gives the same scenario.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    meals = [Meal(MINUTES_PER_DAY * day + minute, carbs)
             for day in range(int(days)) for minute, carbs in _random_day(rng)]
    return Scenario(meals=tuple(meals))
