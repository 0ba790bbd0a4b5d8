"""The OpenAPS (oref0) controller: the loop's bookkeeping around :mod:`dt1d.sim._oref0`.

Each lane (patient) keeps what an OpenAPS rig knows: the last ten CGM readings, its pump
history as net insulin per 5-minute slot (temp basal minus the scheduled basal, plus
boluses), the running temp basal, the carbs entered and an estimate of carbs on board.
Every 5 minutes it forecasts insulin on board and activity with oref0's exponential curves,
asks oref0's determine-basal for a decision and applies it (a new temp basal, or the
running one kept; optionally a super micro-bolus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from dt1d._numba import jit
from dt1d.physiology.params import PatientParams
from dt1d.sim import _oref0 as o

__all__ = ["OpenAPSController"]

#: Pump-history slots kept (6 h of 5-minute slots; insulin acts for at most dia_h hours).
N_SLOTS = 72
#: Readings kept for oref0's glucose deltas (45 minutes).
N_READINGS = 10
#: Carbs entered within this many minutes count in oref0's meal data ``carbs``.
CARB_WINDOW_MIN = 360
_CURVE_PEAK_MIN = {"rapid-acting": 75.0, "ultra-rapid": 55.0}

_FIELD_INDEX = {
    "current_basal": o.PR_CURRENT_BASAL, "sens": o.PR_SENS, "carb_ratio": o.PR_CARB_RATIO,
    "min_bg": o.PR_MIN_BG, "max_bg": o.PR_MAX_BG, "max_iob": o.PR_MAX_IOB,
    "max_basal": o.PR_MAX_BASAL, "max_daily_basal": o.PR_MAX_DAILY_BASAL,
    "max_daily_safety_multiplier": o.PR_MAX_DAILY_MULT,
    "current_basal_safety_multiplier": o.PR_CURRENT_MULT,
    "maxSMBBasalMinutes": o.PR_SMB_MINUTES, "maxUAMSMBBasalMinutes": o.PR_UAM_SMB_MINUTES,
    "SMBInterval": o.PR_SMB_INTERVAL, "bolus_increment": o.PR_BOLUS_INCREMENT,
    "enableUAM": o.PR_ENABLE_UAM, "enableSMB_with_COB": o.PR_SMB_WITH_COB,
    "enableSMB_always": o.PR_SMB_ALWAYS, "enableSMB_after_carbs": o.PR_SMB_AFTER_CARBS,
    "enableSMB_high_bg": o.PR_SMB_HIGH_BG, "enableSMB_high_bg_target": o.PR_SMB_HIGH_BG_TARGET,
    "remainingCarbsCap": o.PR_REMAINING_CARBS_CAP,
    "maxDelta_bg_threshold": o.PR_MAXDELTA_THRESHOLD,
}
#: oref0 profile fields an ``OpenAPSController(profile={...})`` may set.
PROFILE_FIELDS: tuple[str, ...] = tuple(_FIELD_INDEX)


@jit()
def _decide_lanes(g_hist, g_count, cur_rate, cur_duration, iob, act, zt_act, bolus_age, pr,
                  md, gs, out):
    """glucose-get-last and determine-basal for every lane; ``out`` (n, N_OUT)."""
    n = g_hist.shape[0]
    for j in range(n):
        o.glucose_status(g_hist[j], g_count[j], gs[j])
        o.determine_basal(gs[j], cur_rate[j], cur_duration[j], iob[j], act[j], zt_act[j],
                          bolus_age[j], pr[j], md[j], out[j])


def _curve_tables(dia_h: float, peak_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N_SLOTS, 48) IOB and activity of 1 U given 5k minutes ago, at tick t (5t min ahead);
    and the activity of a zero temp from now, per U per 5 minutes (48,)."""
    lag = 5 * (np.arange(N_SLOTS)[:, None] + np.arange(o.N_TICKS)[None, :])
    iob = np.zeros(lag.shape)
    act = np.zeros(lag.shape)
    for k in range(N_SLOTS):
        for t in range(o.N_TICKS):
            iob[k, t], act[k, t] = o.insulin_curve(float(lag[k, t]), dia_h, peak_min)
    zt = np.cumsum([o.insulin_curve(5.0 * t, dia_h, peak_min)[1] for t in range(o.N_TICKS)])
    return iob, act, zt


def _js_round(x: np.ndarray, digits: int) -> np.ndarray:
    scale = 10.0 ** digits
    return np.floor(x * scale + 0.5) / scale


class _OpenAPSLanes:
    """The loop state of ``n`` lanes and one decision step; built by ``start_batch``."""

    def __init__(self, profile: np.ndarray, dia_h: float, peak_min: float, meal_bolus: bool,
                 min_5m_carbimpact: float, step_min: int) -> None:
        if step_min != 5:
            raise ValueError(f"OpenAPSController runs every 5 minutes (oref0's CGM grid); "
                             f"simulate with step_min=5, not {step_min}")
        self.pr = np.ascontiguousarray(profile)
        n = self.n = profile.shape[0]
        self.basal = self.pr[:, o.PR_CURRENT_BASAL].copy()
        self.meal_bolus, self.min_ci = meal_bolus, float(min_5m_carbimpact)
        self.t_iob, self.t_act, self.t_zt = _curve_tables(dia_h, peak_min)
        self.g_hist = np.zeros((n, N_READINGS))
        self.g_count = np.zeros(n, dtype=np.int64)
        self.net = np.zeros((n, N_SLOTS))  # net insulin [U] given 5k minutes ago (k = 0: now)
        self.carbs = np.zeros((n, CARB_WINDOW_MIN // 5))
        self.cur_rate = np.zeros(n)
        self.cur_duration = np.zeros(n)
        self.cob = np.zeros(n)
        self.bolus_age = np.full(n, 600.0)
        self.carb_age = np.full(n, 600.0)
        self.md = np.zeros((n, o.N_MD))
        self.gs = np.zeros((n, o.N_GS))
        self.out = np.zeros((n, o.N_OUT))

    # -- the pieces, also used by the oref0 agreement test ------------------------------
    def forecast(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """oref0's 4-hour IOB forecast of every lane: iob [U], activity, zero-temp activity
        [U/min] (n, 48), rounded like lib/iob/total.js."""
        iob = self.net @ self.t_iob
        act = self.net @ self.t_act
        zt = act - (self.basal / 12.0)[:, None] * self.t_zt[None, :]
        return _js_round(iob, 3), _js_round(act, 4), _js_round(zt, 4)

    def decide(self, iob: np.ndarray, act: np.ndarray, zt: np.ndarray) -> np.ndarray:
        """determine-basal for every lane from the current state; (n, N_OUT)."""
        self.md[:, o.MD_CARBS] = self.carbs.sum(axis=1)
        self.md[:, o.MD_COB] = np.minimum(np.round(self.cob), self.md[:, o.MD_CARBS])
        self.md[:, o.MD_LAST_CARB_AGE] = self.carb_age
        _decide_lanes(self.g_hist, self.g_count, self.cur_rate, self.cur_duration,
                      np.ascontiguousarray(iob), np.ascontiguousarray(act),
                      np.ascontiguousarray(zt), self.bolus_age, self.pr, self.md, self.gs,
                      self.out)
        return self.out

    # -- one loop run -------------------------------------------------------------------
    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Read the CGM and the carbs entered now, decide, and return (basal [U/h], bolus [U])."""
        self.g_hist[:, 1:] = self.g_hist[:, :-1]
        self.g_hist[:, 0] = glucose_mg_dl
        self.g_count = np.minimum(self.g_count + 1, N_READINGS)
        iob, act, zt = self.forecast()
        # carbs absorbed over the last 5 minutes (oref0's cob.js): the observed carb impact
        # (glucose change minus the insulin effect), at least min_5m_carbimpact
        if self.g_count[0] >= 2:
            delta = self.g_hist[:, 0] - self.g_hist[:, 1]
            bgi = -act[:, 0] * self.pr[:, o.PR_SENS] * 5.0
            ci = np.maximum(delta - bgi, self.min_ci)
            self.cob = np.maximum(0.0, self.cob - ci * self.pr[:, o.PR_CARB_RATIO]
                                  / self.pr[:, o.PR_SENS])
        announced = np.asarray(carbs_announced_g, dtype=np.float64)
        meal = announced > 0
        bolus = np.zeros(self.n)
        if meal.any():
            self.carbs[:, 0] += announced
            self.cob = self.cob + announced
            self.carb_age[meal] = 0.0
            if self.meal_bolus:
                bolus = np.where(meal, announced / self.pr[:, o.PR_CARB_RATIO], 0.0)
                bolus = np.floor(bolus * 20.0 + 0.5) / 20.0
                self.net[:, 0] += bolus
                self.bolus_age[bolus > 0] = 0.0
                iob, act, zt = self.forecast()
        out = self.decide(iob, act, zt)
        new = ~np.isnan(out[:, o.OUT_RATE])
        self.cur_rate[new] = out[new, o.OUT_RATE]
        self.cur_duration[new] = out[new, o.OUT_DURATION]
        smb = out[:, o.OUT_UNITS]
        bolus = bolus + smb
        self.bolus_age[smb > 0] = 0.0
        running = self.cur_duration > 0
        basal = np.where(running, self.cur_rate, self.basal)
        self.net[:, 0] += (basal - self.basal) * 5.0 / 60.0 + smb
        # five minutes pass
        self.net[:, 1:] = self.net[:, :-1].copy()
        self.net[:, 0] = 0.0
        self.carbs[:, 1:] = self.carbs[:, :-1].copy()
        self.carbs[:, 0] = 0.0
        self.cur_duration = np.maximum(self.cur_duration - 5.0, 0.0)
        self.cur_rate[self.cur_duration == 0] = 0.0
        self.bolus_age += 5.0
        self.carb_age += 5.0
        return basal, bolus


@attrs.frozen(kw_only=True)
class OpenAPSController:
    """OpenAPS: oref0 0.7.1's determine-basal every 5 minutes, with its safety limits.

    oref0 forecasts glucose from insulin on board (exponential insulin curves), carbs on
    board and the deviation of the CGM trend from the insulin effect, and sets temp basals
    (30-minute temps, zero temps on predicted lows) within ``max_iob`` and the maximum safe
    basal (the least of ``max_basal``, 3 x the daily maximum basal and 4 x the current
    basal); with ``enable_smb`` it also gives super micro-boluses. Its decisions equal the
    real oref0's on the recorded cases of ``tests/sim/fixtures/oref0``.

    Settings left ``None`` come from each patient (as :class:`BasalBolusController` does):
    ``basal_u_per_h`` the patient's basal rate (rounded to 0.05 U/h), ``isf_mg_dl_per_u``
    its correction factor, ``carb_ratio_g_per_u`` its carb ratio, and ``max_iob_u`` oref0's
    documented rule of thumb, the bolus of the largest usual meal (``60 g / CR``) plus 3 x
    the basal rate; ``max_basal_u_per_h`` defaults to 4 x the basal rate. ``profile``
    overrides any oref0 profile field by its oref0 name (see ``PROFILE_FIELDS``).

    ``meal_bolus``: the person boluses ``carbs / CR`` with each announced meal (as OpenAPS
    users do with their pump's bolus wizard); oref0 itself then only adjusts. Carbs on board
    decay as in oref0's cob.js: each 5 minutes by the observed carb impact (glucose change
    minus the insulin effect), at least ``min_5m_carbimpact_mg_dl`` [mg/dL per 5 min],
    converted with CR / ISF. No autosens (ratio 1), no temp targets; the UAM slopes are 0.
    Needs 5-minute steps (oref0's CGM grid).
    """

    target_mg_dl: float = 110.0
    min_bg_mg_dl: float | None = None
    max_bg_mg_dl: float | None = None
    basal_u_per_h: float | None = None
    isf_mg_dl_per_u: float | None = None
    carb_ratio_g_per_u: float | None = None
    max_iob_u: float | None = None
    max_basal_u_per_h: float | None = None
    enable_smb: bool = False
    enable_uam: bool = False
    dia_h: float = 5.0
    curve: str = "rapid-acting"
    insulin_peak_min: float | None = None
    meal_bolus: bool = True
    min_5m_carbimpact_mg_dl: float = 8.0
    profile: Mapping[str, float] = attrs.field(factory=dict)
    _lanes: dict = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        unknown = sorted(set(self.profile) - set(_FIELD_INDEX))
        if unknown:
            raise ValueError(f"OpenAPSController(profile=...): unknown oref0 field(s) "
                             f"{unknown}; known: {', '.join(PROFILE_FIELDS)}")
        if self.curve not in _CURVE_PEAK_MIN:
            raise ValueError(f"OpenAPSController.curve={self.curve!r}; choose one of "
                             f"{sorted(_CURVE_PEAK_MIN)}")
        if not 3.0 <= self.dia_h <= 12.0:
            raise ValueError(f"OpenAPSController.dia_h={self.dia_h!r} h: oref0's exponential "
                             "curves need a duration of insulin action of 3 to 12 hours")

    @property
    def peak_min(self) -> float:
        """Minutes to the insulin activity peak (75 rapid-acting, 55 ultra-rapid)."""
        if self.insulin_peak_min is not None:
            return float(self.insulin_peak_min)
        return _CURVE_PEAK_MIN[self.curve]

    def profile_for(self, patient: PatientParams) -> dict[str, float]:
        """The oref0 profile this controller uses for ``patient`` (oref0 field names)."""
        from dt1d.sim.controllers import therapy_arrays

        basal, cr, cf = (float(v[0]) for v in therapy_arrays([patient]))
        basal = self.basal_u_per_h if self.basal_u_per_h is not None else basal
        basal = max(0.05, float(o.round_basal(basal)))
        cr = float(self.carb_ratio_g_per_u if self.carb_ratio_g_per_u is not None else cr)
        cf = float(self.isf_mg_dl_per_u if self.isf_mg_dl_per_u is not None else cf)
        min_bg = self.min_bg_mg_dl if self.min_bg_mg_dl is not None else self.target_mg_dl
        max_bg = self.max_bg_mg_dl if self.max_bg_mg_dl is not None else self.target_mg_dl
        max_iob = self.max_iob_u if self.max_iob_u is not None else 60.0 / cr + 3.0 * basal
        max_basal = (self.max_basal_u_per_h if self.max_basal_u_per_h is not None
                     else 4.0 * basal)
        prof: dict[str, float] = {
            "current_basal": basal, "sens": cf, "carb_ratio": cr, "min_bg": float(min_bg),
            "max_bg": float(max_bg), "max_iob": float(max_iob), "max_basal": float(max_basal),
            "max_daily_basal": basal, "max_daily_safety_multiplier": 3.0,
            "current_basal_safety_multiplier": 4.0, "maxSMBBasalMinutes": 30.0,
            "maxUAMSMBBasalMinutes": 30.0, "SMBInterval": 3.0, "bolus_increment": 0.1,
            "enableUAM": float(self.enable_uam), "enableSMB_with_COB": float(self.enable_smb),
            "enableSMB_always": 0.0, "enableSMB_after_carbs": float(self.enable_smb),
            "enableSMB_high_bg": 0.0, "enableSMB_high_bg_target": 160.0,
            "remainingCarbsCap": 90.0, "maxDelta_bg_threshold": 0.2,
        }
        prof.update({k: float(v) for k, v in self.profile.items()})
        return prof

    def _profile_matrix(self, patients: Sequence[PatientParams]) -> np.ndarray:
        pr = np.zeros((len(patients), o.N_PROFILE))
        for j, p in enumerate(patients):
            for key, value in self.profile_for(p).items():
                pr[j, _FIELD_INDEX[key]] = value
        pr[:, o.PR_AUTOSENS_RATIO] = 1.0
        pr[:, o.PR_MICROBOLUS_ALLOWED] = float(self.enable_smb)
        return pr

    def start_batch(self, patients: Sequence[PatientParams], step_min: int) -> _OpenAPSLanes:
        """Fresh loop state for ``patients``; its ``step(glucose, carbs)`` returns the doses."""
        return _OpenAPSLanes(self._profile_matrix(list(patients)), self.dia_h, self.peak_min,
                             self.meal_bolus, self.min_5m_carbimpact_mg_dl, int(step_min))

    def reset(self) -> None:
        """Forget every patient's loop state (pump history, readings, carbs)."""
        self._lanes.clear()

    def policy(self, observation: Any) -> Any:
        """One loop run for one patient (state kept per patient name)."""
        from dt1d.sim.controllers import Action

        p = observation.patient
        lanes = self._lanes.get(p.name)
        if lanes is None:
            lanes = self._lanes[p.name] = self.start_batch([p], observation.step_min)
        basal, bolus = lanes.step(np.array([observation.glucose_mg_dl]),
                                  np.array([observation.carbs_announced_g]))
        return Action(basal_u_per_h=float(basal[0]), bolus_u=float(bolus[0]))
