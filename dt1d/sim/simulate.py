"""Simulate virtual patients: per-minute inputs, one patient's record, or a whole cohort."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.physiology.batch import OUT_GP, OUT_GS
from dt1d.physiology.params import P_VG, STATE_NAMES, PatientParams
from dt1d.sim._engine import Batch
from dt1d.sim._engine import initial_state as _initial_state
from dt1d.sim.controllers import BasalBolusController, controller_lanes
from dt1d.sim.handlers import HandlerChain, check_handlers
from dt1d.sim.injections import Depots, LongActingInsulin, regimens
from dt1d.sim.patients import virtual_patient
from dt1d.sim.pump import InsulinPump
from dt1d.sim.scenario import MINUTES_PER_DAY, Scenario, random_scenario
from dt1d.sim.sensor import CGMSensor

__all__ = ["DEFAULT", "simulate", "simulate_cohort", "simulate_inputs"]

logger = logging.getLogger(__name__)

#: Marker for "the default controller / sensor / pump" (``None`` means "none").
DEFAULT: Any = "default"
DEFAULT_START = "2026-01-01 00:00"
RECORD_COLUMNS = ("glucose", "carbs", "insulin", "bolus", "basal", "glucose_true_sc",
                  "glucose_true_plasma")


def _patient(patient: PatientParams | str) -> PatientParams:
    if isinstance(patient, PatientParams):
        return patient
    if isinstance(patient, str):
        return virtual_patient(patient)
    raise TypeError(f"a patient is a PatientParams or a virtual patient name, got "
                    f"{type(patient).__name__}")


def _per_minute(name: str, values: Any, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one value per minute (1-D), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} minutes but the other input has {n}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{k}] = {arr[k]!r}: inputs must be finite and >= 0 "
                         "(negative carbs or insulin are impossible)")
    return arr


def simulate_inputs(patient: PatientParams | str, carbs_g_per_min: Sequence[float],
                    insulin_u_per_min: Sequence[float], *, method: str = "rk4",
                    eat_rate_g_per_min: float | None = 5.0, rk4_step_min: float = 1.0,
                    rtol: float = 1e-6, atol: float = 1e-8,
                    initial_state: np.ndarray | None = None,
                    initial_glucose_mg_dl: float | None = None) -> pd.DataFrame:
    """Integrate the model under per-minute inputs; one row per minute with every state.

    ``carbs_g_per_min[k]``: carbohydrate announced in minute ``k`` [g], eaten at
    ``eat_rate_g_per_min`` (None: all within the minute); ``insulin_u_per_min[k]``: s.c.
    insulin rate [U/min], held over the minute. Row ``k`` holds the state at the start of
    minute ``k`` and that minute's inputs; the last row (minute ``len(inputs)``) is the
    final state. ``method``: ``"rk4"`` (fixed step ``rk4_step_min``) or ``"adaptive"``
    (Dormand-Prince 5(4) with ``rtol``/``atol``). Starts at the basal state unless
    ``initial_state`` or ``initial_glucose_mg_dl`` is given.
    """
    pt = _patient(patient)
    carbs = _per_minute("carbs_g_per_min", carbs_g_per_min)
    insulin = _per_minute("insulin_u_per_min", insulin_u_per_min, carbs.shape[0])
    x0 = _initial_state(pt, initial_state, initial_glucose_mg_dl)
    batch = Batch.create([pt], [x0], method=method, eat_rate_g_per_min=eat_rate_g_per_min,
                         rk4_step_min=rk4_step_min, rtol=rtol, atol=atol)
    out, eaten = batch.advance(carbs[:, None], insulin[:, None], 1, True)
    n = carbs.shape[0]
    frame = pd.DataFrame(out[:, :, 0], columns=list(STATE_NAMES))
    frame.insert(0, "carbs_announced_g", np.append(carbs, 0.0))
    frame.insert(1, "carbs_eaten_g", np.append(eaten[:, 0], 0.0))
    frame.insert(2, "insulin_u_per_min", np.append(insulin, 0.0))
    vg = pt.vg_dl_per_kg
    frame["glucose_sc_mg_dl"] = frame["g_s_mg_per_kg"] / vg
    frame["glucose_plasma_mg_dl"] = frame["g_p_mg_per_kg"] / vg
    frame.index = pd.RangeIndex(n + 1, name="minute")
    return frame


def _seed_entropy(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, (int, np.integer)) and seed >= 0:
        return int(seed)
    raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")


def simulate(patient: PatientParams | str, scenario: Scenario | str | None = None, *,
             days: float = 1, controller: Any = DEFAULT, sensor: CGMSensor | None = DEFAULT,
             pump: InsulinPump | None = DEFAULT, seed: int | None = None,
             start: str | pd.Timestamp = DEFAULT_START, step_min: int = 5,
             method: str = "rk4", eat_rate_g_per_min: float | None = 5.0,
             rk4_step_min: float = 1.0, initial_state: np.ndarray | None = None,
             initial_glucose_mg_dl: float | None = None,
             long_acting: LongActingInsulin | str | None = None,
             handlers: Sequence[Any] | None = None) -> pd.DataFrame:
    """Simulate one virtual patient; a patient record in dt1d's data format.

    Columns: ``glucose`` (CGM reading at each step, mg/dL), ``carbs`` (g eaten in the
    step), ``insulin`` = ``bolus`` + ``basal`` (U in the step), and the noise-free
    ``glucose_true_sc`` (subcutaneous, what the CGM measures) and ``glucose_true_plasma``
    [mg/dL]. Index: ``time`` every ``step_min`` minutes from ``start``.

    ``scenario``: a :class:`Scenario`, ``"random"`` (a random meal plan from ``seed``) or
    None (no meals). ``controller``: the default :class:`BasalBolusController`, None (the
    patient's basal rate plus the scenario's insulin only) or your own (see
    ``dt1d.sim.controllers``). ``sensor``: default ``CGMSensor()`` (GuardianRT), None for
    noise-free readings. ``pump``: default ``InsulinPump()`` (Insulet), None for exact doses.
    ``long_acting``: None (a pump's basal), or injections (MDI): ``"glargine"`` /
    ``"degludec"`` (the patient's daily basal need at 22:00) or a
    :class:`~dt1d.sim.injections.LongActingInsulin`; then no basal is delivered
    (``basal`` is 0), the controller's boluses are pen injections, and the record gains a
    ``long_acting_insulin`` column (U injected in the step, not part of ``insulin``).
    ``handlers``: treatment decisions added to the controller's
    (:mod:`dt1d.sim.handlers`: :class:`~dt1d.sim.handlers.BolusCalculator`,
    :class:`~dt1d.sim.handlers.CorrectionBolus`, :class:`~dt1d.sim.handlers.HypoTreatment`);
    with handlers the record gains a ``rescue_carbs`` column (g of rescue carbohydrate
    given in the step, also counted in ``carbs``), and ``controller=None`` means the
    patient's basal rate plus the handlers' boluses.
    The same ``seed`` gives the same record.
    """
    frame = simulate_cohort(
        [patient], scenario, days=days, controller=controller, sensor=sensor, pump=pump,
        seed=seed, start=start, step_min=step_min, method=method,
        eat_rate_g_per_min=eat_rate_g_per_min, rk4_step_min=rk4_step_min,
        initial_states=None if initial_state is None else [initial_state],
        initial_glucose_mg_dl=initial_glucose_mg_dl, long_acting=long_acting,
        handlers=handlers)
    return frame.drop(columns="patient_id")


def simulate_cohort(patients: Sequence[PatientParams | str],
                    scenario: Scenario | str | Sequence[Scenario] | None = None, *,
                    days: float = 1, controller: Any = DEFAULT,
                    sensor: CGMSensor | None = DEFAULT, pump: InsulinPump | None = DEFAULT,
                    seed: int | None = None, start: str | pd.Timestamp = DEFAULT_START,
                    step_min: int = 5, method: str = "rk4",
                    eat_rate_g_per_min: float | None = 5.0, rk4_step_min: float = 1.0,
                    initial_states: Sequence[np.ndarray] | None = None,
                    initial_glucose_mg_dl: float | Sequence[float] | None = None,
                    long_acting: Any = None,
                    handlers: Sequence[Any] | None = None) -> pd.DataFrame:
    """Simulate many patients at once (one batch kernel); long format with ``patient_id``.

    Arguments as :func:`simulate`; ``scenario`` may be one per patient. Patient ``i``
    draws its sensor noise (and random scenario) from ``[seed, i]``, so a cohort of one
    equals :func:`simulate` with the same seed. ``long_acting`` may also be one
    :class:`~dt1d.sim.injections.LongActingInsulin` per patient.
    """
    pts = [_patient(p) for p in patients]
    if not pts:
        raise ValueError("simulate_cohort needs at least one patient")
    ids = [p.name for p in pts]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"patient {dup!r} appears twice; give variants distinct names "
                         "(attrs.evolve(p, name=...))")
    n = len(pts)
    step_min = int(step_min)
    if step_min < 1 or MINUTES_PER_DAY % step_min:
        raise ValueError(f"step_min={step_min} must divide a day (1, 5, 10, 15, ... minutes)")
    n_min = int(round(float(days) * MINUTES_PER_DAY))
    if n_min < step_min or n_min % step_min:
        raise ValueError(f"days={days} must cover a whole number of {step_min}-minute steps")
    n_steps = n_min // step_min
    entropy = _seed_entropy(seed)
    scenarios = _scenarios(scenario, n, days, entropy)
    controller = BasalBolusController() if controller is DEFAULT else controller
    handler_list = check_handlers(handlers)
    if controller is None and handler_list:
        controller = _BasalRate()
    sensor = CGMSensor() if sensor is DEFAULT else sensor
    pump = InsulinPump() if pump is DEFAULT else pump
    glucose0 = (list(initial_glucose_mg_dl) if isinstance(initial_glucose_mg_dl, Sequence)
                else [initial_glucose_mg_dl] * n)
    states0 = list(initial_states) if initial_states is not None else [None] * n
    if len(states0) != n or len(glucose0) != n:
        raise ValueError("give one initial state / glucose per patient")
    x0 = [_initial_state(p, s, g) for p, s, g in zip(pts, states0, glucose0, strict=True)]
    start_ts = pd.Timestamp(start)
    regs = regimens(long_acting, pts)
    depots = None if regs is None else Depots(regs, start_ts)
    batch = Batch.create(pts, x0, method=method, eat_rate_g_per_min=eat_rate_g_per_min,
                         rk4_step_min=rk4_step_min, start=start_ts)

    inputs = _DayInputs(scenarios, n_min, pump)
    noise = np.zeros((n_steps, n))
    if sensor is not None:
        if sensor.simglucose_compat:
            rngs = [np.random.RandomState((entropy + j) % 2**32) for j in range(n)]
        else:
            rngs = [np.random.default_rng([entropy, j, 0]) for j in range(n)]
        noise = sensor.noise(n_steps, step_min, rngs)

    # (n_steps, n) views of patient-major arrays: the long frame needs no transposed copy
    columns = RECORD_COLUMNS if depots is None else (*RECORD_COLUMNS, "long_acting_insulin")
    if handler_list:
        columns = (*columns, "rescue_carbs")
    rec = {c: np.empty((n, n_steps)).T for c in columns}
    vg = batch.p[P_VG]
    if controller is None:
        _open_loop(batch, pts, pump, inputs, rec, step_min, depots)
    else:
        chain = HandlerChain(handler_list, pts, step_min) if handler_list else None
        _closed_loop(batch, pts, controller, sensor, pump, noise, inputs, rec, step_min,
                     start_ts, depots, chain)
    _fill_glucose(rec, sensor, noise, vg)
    return _long_frame(rec, ids, start_ts, step_min, columns)


class _DayInputs:
    """Scenario events of a cohort kept sparse; dense per-minute arrays one day at a time."""

    def __init__(self, scenarios: list[Scenario], n_min: int, pump: InsulinPump | None):
        for sc in scenarios:
            sc.check_within(n_min)
        self.n, self.n_min = len(scenarios), n_min
        self.meal_t = np.array([m.time_min for sc in scenarios for m in sc.meals], dtype=int)
        self.meal_j = np.array([j for j, sc in enumerate(scenarios) for _ in sc.meals],
                               dtype=int)
        self.meal_g = np.array([m.carbs_g for sc in scenarios for m in sc.meals], dtype=float)
        self.ins_t = np.array([e.time_min for sc in scenarios for e in sc.insulin], dtype=int)
        self.ins_j = np.array([j for j, sc in enumerate(scenarios) for _ in sc.insulin],
                              dtype=int)
        self.ins_u = np.array([e.bolus_u for sc in scenarios for e in sc.insulin], dtype=float)
        if pump is not None and self.ins_u.size:
            self.ins_u = pump.deliver(np.zeros_like(self.ins_u), self.ins_u)[1]

    def days(self, step_min: int):
        """Yield (first step, announced carbs (m, n) [g], extra bolus (m, n) [U/min])."""
        for m0 in range(0, self.n_min, MINUTES_PER_DAY):
            m1 = min(self.n_min, m0 + MINUTES_PER_DAY)
            carbs = np.zeros((m1 - m0, self.n))
            extra = np.zeros((m1 - m0, self.n))
            sel = (self.meal_t >= m0) & (self.meal_t < m1)
            np.add.at(carbs, (self.meal_t[sel] - m0, self.meal_j[sel]), self.meal_g[sel])
            sel = (self.ins_t >= m0) & (self.ins_t < m1)
            np.add.at(extra, (self.ins_t[sel] - m0, self.ins_j[sel]), self.ins_u[sel])
            yield m0 // step_min, carbs, extra


def _scenarios(scenario, n: int, days: float, entropy: int) -> list[Scenario]:
    if scenario is None:
        return [Scenario()] * n
    if isinstance(scenario, Scenario):
        return [scenario] * n
    if isinstance(scenario, str):
        if scenario != "random":
            raise ValueError(f"scenario={scenario!r}: pass a Scenario, 'random' or None")
        n_days = int(np.ceil(days))
        out = [random_scenario(n_days, np.random.default_rng([entropy, j, 1]))
               for j in range(n)]
        n_min = int(round(float(days) * MINUTES_PER_DAY))
        return [Scenario(meals=tuple(m for m in s.meals if m.time_min < n_min)) for s in out]
    scenarios = list(scenario)
    if len(scenarios) != n or not all(isinstance(s, Scenario) for s in scenarios):
        raise ValueError(f"give one Scenario for all patients or one per patient ({n})")
    return scenarios


def _long_acting_day(depots, m0: int, m1: int, rec, s0: int, step_min: int, n: int):
    """Dissolved long-acting insulin [U/min] for minutes m0..m1-1 (zeros on a pump);
    records the injected units per step."""
    if depots is None:
        return np.zeros((m1 - m0, n))
    injected, dissolved = depots.advance(m0, m1)
    s1 = s0 + (m1 - m0) // step_min
    rec["long_acting_insulin"][s0:s1] = injected.reshape(s1 - s0, step_min, n).sum(axis=1)
    return dissolved


def _open_loop(batch, pts, pump, inputs, rec, step_min, depots=None) -> None:
    """No controller: each patient's basal rate (or long-acting injections) and the
    scenario's boluses; one kernel run per day, no Python per step."""
    basal_u_per_h = np.array([p.basal_insulin_u_per_h for p in pts])
    if depots is not None:
        basal_u_per_h = np.zeros_like(basal_u_per_h)
    elif pump is not None:
        basal_u_per_h = pump.deliver(basal_u_per_h, np.zeros_like(basal_u_per_h))[0]
    for s0, carbs, extra in inputs.days(step_min):
        s1 = s0 + carbs.shape[0] // step_min
        m0 = s0 * step_min
        la = _long_acting_day(depots, m0, m0 + carbs.shape[0], rec, s0, step_min, batch.n)
        out, eaten = batch.advance(carbs, basal_u_per_h / 60.0 + extra + la, step_min, False)
        rec["glucose_true_sc"][s0:s1] = out[:-1, OUT_GS] / batch.p[P_VG]
        rec["glucose_true_plasma"][s0:s1] = out[:-1, OUT_GP] / batch.p[P_VG]
        rec["carbs"][s0:s1] = eaten
        rec["bolus"][s0:s1] = extra.reshape(s1 - s0, step_min, batch.n).sum(axis=1)
        rec["basal"][s0:s1] = basal_u_per_h / 60.0 * step_min


class _BasalRate:
    """The patients' basal rates and no bolus: the controller of ``controller=None`` with
    handlers."""

    def start_batch(self, patients: Sequence[PatientParams], step_min: int) -> _BasalRate:
        self.basal = np.array([p.basal_insulin_u_per_h for p in patients])
        return self

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        return self.basal, np.zeros_like(self.basal)


def _closed_loop(batch, pts, controller, sensor, pump, noise, inputs, rec, step_min,
                 start, depots=None, chain: HandlerChain | None = None) -> None:
    """A controller decides every step from the CGM reading and the announced carbs.

    On injections (``depots``), the controller's basal rate is not delivered: the
    long-acting depot replaces it. ``chain``: treatment handlers acting after the
    controller (their rescue carbs are eaten from the step's first minute)."""
    vg = batch.p[P_VG]
    lanes = controller_lanes(controller, pts, step_min, start)
    insulin = np.empty((step_min, batch.n))
    for s0, carbs_day, extra_day in inputs.days(step_min):
        carbs_step = carbs_day.reshape(-1, step_min, batch.n)
        extra_step = extra_day.reshape(-1, step_min, batch.n)
        m0 = s0 * step_min
        la_step = _long_acting_day(depots, m0, m0 + carbs_day.shape[0], rec, s0, step_min,
                                   batch.n).reshape(-1, step_min, batch.n)
        for i in range(carbs_step.shape[0]):
            s = s0 + i
            gsc = batch.x[12] / vg
            rec["glucose_true_sc"][s] = gsc
            rec["glucose_true_plasma"][s] = batch.x[3] / vg
            cgm = gsc if sensor is None else sensor.measure(gsc, noise[s])
            announced = carbs_step[i].sum(axis=0)
            basal, bolus = lanes.step(cgm, announced, s)
            carbs_in = carbs_step[i]
            if chain is not None:
                more, rescue = chain.step(cgm, announced, bolus)
                bolus = bolus + more
                rec["rescue_carbs"][s] = rescue
                if rescue.any():
                    carbs_in = carbs_in.copy()
                    carbs_in[0] += rescue
            if depots is not None:
                basal = np.zeros_like(basal)
            if pump is not None:
                basal, bolus = pump.deliver(basal, bolus)
            else:
                _check_doses(basal, bolus)
            if chain is not None:
                chain.record(None if depots is not None else basal,
                             bolus + extra_step[i].sum(axis=0))
            insulin[:] = basal / 60.0
            insulin[0] += bolus
            insulin += extra_step[i]
            insulin += la_step[i]
            _, eaten = batch.advance(carbs_in, insulin, step_min, False)
            rec["carbs"][s] = eaten[0]
            rec["bolus"][s] = bolus + extra_step[i].sum(axis=0)
            rec["basal"][s] = basal / 60.0 * step_min


def _check_doses(basal: np.ndarray, bolus: np.ndarray) -> None:
    for label, v in (("basal rate [U/h]", basal), ("bolus [U]", bolus)):
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            raise ValueError(f"the controller asked for a {label} of {v[bad][0]!r}; doses "
                             "must be finite and >= 0")


def _fill_glucose(rec, sensor, noise, vg) -> None:
    rec["insulin"] = rec["bolus"] + rec["basal"]
    gsc = rec["glucose_true_sc"]
    rec["glucose"] = gsc.copy() if sensor is None else sensor.measure(gsc, noise)


def _long_frame(rec, ids: list[str], start: pd.Timestamp, step_min: int,
                columns: Sequence[str] = RECORD_COLUMNS) -> pd.DataFrame:
    """Patient-major long frame from (n_steps, n) arrays, without per-row Python objects."""
    n_steps, n = rec["glucose"].shape
    times = pd.date_range(start, periods=n_steps, freq=f"{step_min}min", name="time")
    index = times[np.tile(np.arange(n_steps), n)]  # keeps a time zone
    data = {"patient_id": pd.Categorical.from_codes(np.repeat(np.arange(n), n_steps),
                                                    categories=ids)}
    for c in columns:
        data[c] = np.ascontiguousarray(rec[c].T).reshape(-1)  # a view when patient-major
    return pd.DataFrame(data, index=index)
