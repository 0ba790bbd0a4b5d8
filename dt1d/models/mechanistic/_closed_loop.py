"""What-if replay with decisions in the loop: treatment handlers (and controllers) on the twin.

The open-loop replay (``MechanisticModel.simulate``) runs the record's doses through the
twin in one kernel call. With handlers (:mod:`dt1d.sim.handlers`) or a controller the doses
of a row depend on the glucose the twin reaches, so the replay goes row by row: at each
row the twin's subcutaneous glucose (noise-free: the twin's CGM) and the row's carbs
(the record's meals, announced when the record has them) are shown to the controller,
which decides basal and bolus instead of the recorded doses, and to the handlers, which
add boluses and rescue carbs. A meal spread over consecutive rows is announced whole at
its first row (:func:`meal_announcements`); rescue carbs are not announced. Without a controller the recorded doses stay.

Every posterior draw (after ``method="mcmc"``) is its own lane with its own loop, so the
percentile bands include the decisions the draws lead to. The draws and the MAP twin run
together, one kernel call per row (:func:`dt1d.models.mechanistic._kernels.advance_lanes`).

The controller's and handlers' settings come from the twin and the record
(:func:`twin_therapy_patient`), unless given explicitly to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from dt1d.physiology.params import P_VG, PatientParams

#: Rows per day on a 1-minute grid (for the record's daily insulin).
_MINUTES_PER_DAY = 1440.0


def twin_therapy_patient(model: Any, carbs: np.ndarray, bolus: np.ndarray,
                         insulin: np.ndarray, step_min: int) -> PatientParams:
    """The twin as a patient with therapy settings from the twin and the record.

    Basal rate: the twin's fitted basal (its steady state; the parameters of its first
    sensitivity window hold it). Total daily dose: the record's
    insulin per day. Carb ratio: the record's carbs per bolus unit (when both are
    recorded), else ``500 / TDD``; correction factor ``1800 / TDD`` (dt1d.sim._therapy's
    rules of thumb, since a record does not show a correction factor).
    """
    p = PatientParams.from_array(np.asarray(model.param_matrix_[0], dtype=np.float64),
                                 name="twin")
    days = len(insulin) * step_min / _MINUTES_PER_DAY
    tdd = float(np.sum(insulin)) / days if days > 0 else 0.0
    tdd = tdd if tdd > 0 else None
    total_bolus, total_carbs = float(np.sum(bolus)), float(np.sum(carbs))
    cr = total_carbs / total_bolus if total_bolus > 0 and total_carbs > 0 else None
    return attrs.evolve(p, total_daily_insulin_u=tdd, carb_ratio_g_per_u=cr,
                        correction_factor_mg_dl_per_u=None)


def _lanes(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameter matrices (m, W, N_PARAMS), initial states (m, 13) and meal delays [min]
    (m,) of the MAP twin (lane 0) and every posterior draw."""
    from dt1d.models.mechanistic import _fit as _mech_fit
    from dt1d.models.mechanistic import _priors as _mech_priors

    pws = [np.asarray(model.param_matrix_, dtype=np.float64)]
    x0s = [np.asarray(model.initial_state_, dtype=np.float64)]
    delays = [float(model.params_.get("meal_delay_min", 0.0))]
    posterior = getattr(model, "posterior_", None)
    if posterior is not None and len(posterior):
        layout = _mech_fit.make_layout(model.age_group, model.param_matrix_.shape[0])
        base = _mech_priors.base_vector(model.age_group)
        for z in posterior:
            pw, x0 = _mech_fit.model_from_z(z, layout, base, model.body_weight_kg_,
                                            model.basal_u_per_h_ / 60.0)
            pws.append(pw)
            x0s.append(x0)
            delays.append(_mech_fit.meal_delay_of(z, layout))
    return (np.ascontiguousarray(np.stack(pws)), np.ascontiguousarray(np.stack(x0s)),
            np.array(delays))


def _arrivals(given: np.ndarray, k: int, q: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Carbs reaching the gut of every lane in row ``k`` after its meal delay (split
    linearly between two rows, as ``_fit.delay_rows``); ``given`` (m, n) so far."""
    m = given.shape[0]
    out = np.zeros(m)
    lanes = np.arange(m)
    src = k - q
    ok = src >= 0
    out[ok] += (1.0 - frac[ok]) * given[lanes[ok], src[ok]]
    ok = src - 1 >= 0
    out[ok] += frac[ok] * given[lanes[ok], src[ok] - 1]
    return out


def meal_announcements(carbs: np.ndarray) -> np.ndarray:
    """The meals a person announces, per row [g]: a run of consecutive rows with carbs (a
    meal eaten over several rows, as simulated records hold it) is announced whole at its
    first row."""
    c = np.asarray(carbs, dtype=np.float64)
    eating = c > 0
    first = eating & ~np.concatenate(([False], eating[:-1]))
    run = np.cumsum(first) * eating  # run number of each eating row, 0 elsewhere
    out = np.zeros_like(c)
    totals = np.bincount(run, weights=c)
    out[first] = totals[run[first]]
    return out


def closed_loop_replay(model: Any, rec: pd.DataFrame, out: pd.DataFrame, carbs: np.ndarray,
                       bolus: np.ndarray, basal: np.ndarray, long_acting: np.ndarray,
                       win: np.ndarray, step_min: int,
                       substeps: int, controller: Any, handlers: Sequence[Any],
                       percentiles: Sequence[float]) -> pd.DataFrame:
    """Replay row by row with ``controller`` (None: the recorded doses) and ``handlers``.

    ``carbs``, ``bolus``, ``basal``: the what-if inputs per row [g, U] after scales, shifts
    and extra events; ``long_acting``: the long-acting insulin dissolving in each row [U]
    (zeros on a pump). On injections a controller's basal rate is not delivered (the
    depot replaces it, as in :func:`dt1d.sim.simulate`) and the handlers count no basal
    change in their insulin on board. Returns ``out`` with glucose, carbs (meals and rescue carbs),
    insulin, bolus and basal of the MAP twin, ``rescue_carbs`` when handlers are given and
    ``glucose_p*`` bands after MCMC.
    """
    from dt1d.models.mechanistic import _kernels as K
    from dt1d.sim.controllers import controller_lanes
    from dt1d.sim.handlers import HandlerChain

    pw, x, delay = _lanes(model)
    on_injections = bool(np.any(long_acting > 0))
    m, n = pw.shape[0], len(carbs)
    patient = twin_therapy_patient(model, carbs, bolus, bolus + basal + long_acting, step_min)
    patients = [attrs.evolve(patient, name=f"twin#{j}") for j in range(m)]
    start = pd.Timestamp(rec.index[0])
    ctl = None if controller is None else controller_lanes(controller, patients, step_min,
                                                            start)
    chain = HandlerChain(handlers, patients, step_min) if handlers else None
    q_f = np.divmod(np.maximum(delay, 0.0) / step_min, 1.0)
    q, frac = q_f[0].astype(np.int64), q_f[1]
    meal = K.new_meal_states(x)
    given = np.tile(np.asarray(carbs, dtype=np.float64), (m, 1))
    meals = meal_announcements(carbs)
    glucose = np.empty((m, n))
    doses = {c: np.empty((m, n)) for c in ("bolus", "basal", "rescue_carbs")}
    lanes = np.arange(m)
    to_rate = 60.0 / step_min
    for k in range(n):
        w = int(win[k])
        g = x[:, 12] / pw[lanes, w, P_VG]
        glucose[:, k] = g
        announced = np.full(m, meals[k])
        if ctl is None:
            rate = np.full(m, basal[k] * to_rate)
            b = np.full(m, bolus[k])
        else:
            rate, b = (np.asarray(v, dtype=np.float64).copy() for v in
                       ctl.step(g, announced, k))
            _check(rate, b, k, rec.index[k])
            if on_injections:
                rate = np.zeros(m)
        rescue = np.zeros(m)
        if chain is not None:
            more, rescue = chain.step(g, announced, b)
            b = b + more
            given[:, k] += rescue
            chain.record(None if on_injections else rate, b)
        doses["bolus"][:, k], doses["basal"][:, k] = b, rate / to_rate
        doses["rescue_carbs"][:, k] = rescue
        K.advance_lanes(pw, w, x, meal, np.ascontiguousarray(_arrivals(given, k, q, frac)),
                        np.ascontiguousarray(b + rate / to_rate + long_acting[k]), step_min,
                        substeps)
    out["glucose"] = glucose[0]
    out["carbs"] = given[0]
    out["bolus"], out["basal"] = doses["bolus"][0], doses["basal"][0]
    out["insulin"] = out["bolus"] + out["basal"]
    if chain is not None:
        out["rescue_carbs"] = doses["rescue_carbs"][0]
    if m > 1:
        for p in percentiles:
            out[f"glucose_p{p:g}"] = np.percentile(glucose[1:], p, axis=0)
    return out


def _check(basal_u_per_h: np.ndarray, bolus_u: np.ndarray, row: int, time: Any) -> None:
    for label, v in (("basal rate [U/h]", basal_u_per_h), ("bolus [U]", bolus_u)):
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            raise ValueError(f"row {row} ({time}): the controller asked for a {label} of "
                             f"{v[bad][0]!r}; doses must be finite and >= 0")
