"""Identification of the mechanistic twin: parameter layout, basal equilibrium, MAP, Laplace, MCMC.

The optimiser works in standardised coordinates ``z``: every estimated quantity is
``log(value) = log_mean + log_sd * z`` with a standard-normal prior on ``z``, so the negative
log-posterior is half the sum of squares of the residual vector
``[(model - CGM) / sigma, z]`` and a Gauss-Newton/trust-region solver
(``scipy.optimize.least_squares``) applies. The Laplace approximation of the posterior is
``inv(J'J)`` at the optimum (the prior block of ``J`` is the identity).
"""

from __future__ import annotations

import logging
import time

import attrs
import numpy as np
import scipy.optimize

from dt1d.models.mechanistic import _kernels as K
from dt1d.models.mechanistic import _priors as priors_mod
from dt1d.physiology.layout import (
    N_STATES,
    P_BW,
    P_FSNC,
    P_IB,
    P_K1,
    P_K2,
    P_KA1,
    P_KA2,
    P_KABS,
    P_KD,
    P_KE1,
    P_KE2,
    P_KM0,
    P_KMAX,
    P_KP1,
    P_KP2,
    P_KP3,
    P_KSC,
    P_M1,
    P_M2,
    P_M4,
    P_M30,
    P_P2U,
    P_U2SS,
    P_VG,
    P_VI,
    P_VM0,
    P_VMX,
    PMOL_PER_UNIT,
    X_GP,
    X_GS,
    X_GT,
    X_I1,
    X_ID,
    X_IL,
    X_IP,
    X_ISC1,
    X_ISC2,
    X_X,
)

logger = logging.getLogger(__name__)

#: Upper limits [1/min] keeping rate constants where fixed-step RK4 at 1 min is stable
#: (|lambda| h < 2.8) and within physiology.
_UPPER = {P_KABS: 1.0, P_KMAX: 0.5, P_P2U: 0.5, P_KSC: 0.5}
#: Most residual evaluations per optimiser run.
MAX_NFEV = 300
#: Longest meal delay [min] considered.
_MAX_MEAL_DELAY_MIN = 90.0
#: Standardised bound: no estimate further than this many prior SDs from the prior mean.
Z_BOUND = 4.0


@attrs.frozen
class Layout:
    """What is estimated: names, kernel indices (-1: not a kernel parameter) and priors."""

    names: tuple[str, ...]
    index: tuple[int, ...]
    log_mean: np.ndarray
    log_sd: np.ndarray
    n_windows: int

    @property
    def size(self) -> int:
        """Number of estimated quantities."""
        return len(self.names)

    def values(self, z: np.ndarray) -> np.ndarray:
        """Natural values ``exp(log_mean + log_sd * z)``."""
        return np.exp(self.log_mean + self.log_sd * z)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Box bounds in ``z`` (prior SDs, tightened by the stability limits)."""
        lo = np.full(self.size, -Z_BOUND)
        hi = np.full(self.size, Z_BOUND)
        for k, idx in enumerate(self.index):
            limit = _UPPER.get(idx, _MAX_MEAL_DELAY_MIN if self.names[k] == "meal_delay" else None)
            if limit is not None:
                hi[k] = min(hi[k], (np.log(limit) - self.log_mean[k]) / self.log_sd[k])
        return lo, hi


def make_layout(age_group: str, n_windows: int) -> Layout:
    """Layout: basal glucose, common Vmx, the population parameters, then the window deviations."""
    pri = priors_mod.priors(age_group)
    names: list[str] = ["gb", "vmx"]
    index: list[int] = [-1, P_VMX]
    for name, idx in priors_mod.ESTIMATED:
        names.append(name)
        index.append(idx)
    names.append("meal_delay")
    index.append(-3)
    means = [pri[n].log_mean for n in names]
    sds = [pri[n].log_sd for n in names]
    if n_windows > 1:
        for w in range(n_windows):
            names.append(f"vmx_window_{w}")
            index.append(-2)
            means.append(0.0)
            sds.append(priors_mod.WINDOW_LOG_SD)
    return Layout(tuple(names), tuple(index), np.array(means), np.array(sds), n_windows)


def insulin_basal_states(p: np.ndarray, basal_u_per_min: float) -> np.ndarray:
    """Insulin states (I_p, I_l, I_sc1, I_sc2) at steady state under a constant s.c. rate."""
    u = basal_u_per_min * PMOL_PER_UNIT / p[P_BW]
    m1, m2 = p[P_M1], p[P_M2]
    isc1 = u / (p[P_KA1] + p[P_KD])
    isc2 = p[P_KD] * isc1 / p[P_KA2]
    ip = u / (m2 + p[P_M4] - m1 * m2 / (m1 + p[P_M30]))
    il = m2 * ip / (m1 + p[P_M30])
    return np.array([ip, il, isc1, isc2])


def equilibrate(p: np.ndarray, basal_u_per_min: float, gb_mg_dl: float) -> np.ndarray:
    """Set ``p``'s Ib, kp1 and u2ss so that glucose ``gb`` at basal insulin is a steady state.

    Returns that steady state (13,). ``p`` is modified in place. Insulin states follow
    in closed form; G_t solves dG_t/dt = 0 with X = 0 (a quadratic), and kp1 is the EGP
    that balances dG_p/dt (Dalla Man 2007 eq. 1 and 10 at basal).
    """
    ip, il, isc1, isc2 = insulin_basal_states(p, basal_u_per_min)
    ib = ip / p[P_VI]
    gp = gb_mg_dl * p[P_VG]
    k1, k2, vm0, km0 = p[P_K1], p[P_K2], p[P_VM0], p[P_KM0]
    # k2 Gt^2 + (k2 Km0 + Vm0 - k1 Gp) Gt - k1 Gp Km0 = 0, positive root
    b = k2 * km0 + vm0 - k1 * gp
    gt = (-b + np.sqrt(b * b + 4.0 * k2 * k1 * gp * km0)) / (2.0 * k2)
    renal = p[P_KE1] * (gp - p[P_KE2]) if gp > p[P_KE2] else 0.0
    egp_b = p[P_FSNC] + renal + k1 * gp - k2 * gt
    p[P_IB] = ib
    p[P_KP1] = egp_b + p[P_KP2] * gp + p[P_KP3] * ib
    p[P_U2SS] = basal_u_per_min * PMOL_PER_UNIT / p[P_BW]
    x = np.zeros(N_STATES)
    x[X_GP], x[X_GT], x[X_IP], x[X_X], x[X_I1], x[X_ID] = gp, gt, ip, 0.0, ib, ib
    x[X_IL], x[X_ISC1], x[X_ISC2], x[X_GS] = il, isc1, isc2, gp
    return x


def model_from_z(z: np.ndarray, layout: Layout, base: np.ndarray, body_weight_kg: float,
                 basal_u_per_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Window parameter matrix ``pw`` (W, N_PARAMS) and the initial steady state from ``z``."""
    values = layout.values(z)
    p = base.copy()
    p[P_BW] = body_weight_kg
    gb = values[0]
    windows = []
    for k, idx in enumerate(layout.index):
        if idx >= 0:
            p[idx] = values[k]
        elif idx == -2:
            windows.append(values[k])
    x0 = equilibrate(p, basal_u_per_min, gb)
    n_w = max(layout.n_windows, 1)
    pw = np.repeat(p[None, :], n_w, axis=0)
    if windows:
        # time-of-day windows scale hepatic (kp3) as well as peripheral (Vmx) sensitivity
        pw[:, P_VMX] = p[P_VMX] * np.array(windows)
        pw[:, P_KP3] = p[P_KP3] * np.array(windows)
    return np.ascontiguousarray(pw), x0


def delay_rows(amounts: np.ndarray, delay_min: float, step_min: int) -> np.ndarray:
    """Amounts per row moved ``delay_min`` later, split linearly between two rows."""
    if delay_min <= 0.0:
        return amounts
    q, frac = divmod(delay_min / step_min, 1.0)
    q = int(q)
    out = np.zeros_like(amounts)
    n = len(amounts)
    if q < n:
        out[q:] += (1.0 - frac) * amounts[: n - q]
    if q + 1 < n:
        out[q + 1 :] += frac * amounts[: n - q - 1]
    return out


def meal_delay_of(z: np.ndarray, layout: Layout) -> float:
    """The meal delay [min] encoded in ``z`` (0 when not estimated)."""
    if "meal_delay" not in layout.names:
        return 0.0
    k = layout.names.index("meal_delay")
    return float(layout.values(z)[k])


@attrs.define
class Problem:
    """One record as kernel arrays plus everything fixed during the fit."""

    layout: Layout
    base: np.ndarray
    body_weight_kg: float
    basal_u_per_min: float
    win: np.ndarray
    carbs_g: np.ndarray
    insulin_u: np.ndarray
    glucose: np.ndarray
    step_min: int
    substeps: int
    sigma: float = 10.0
    corr_factor: float = 1.0
    valid: np.ndarray = attrs.field(init=False)
    _out: np.ndarray = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.valid = np.isfinite(self.glucose)
        self._out = np.empty(len(self.glucose))

    def trajectory(self, z: np.ndarray) -> np.ndarray:
        """Replayed subcutaneous glucose [mg/dL] per row for standardised parameters ``z``."""
        pw, x0 = model_from_z(z, self.layout, self.base, self.body_weight_kg, self.basal_u_per_min)
        carbs = delay_rows(self.carbs_g, meal_delay_of(z, self.layout), self.step_min)
        K.replay(pw, self.win, x0, carbs, self.insulin_u, self.step_min, self.substeps, self._out)
        return self._out.copy()

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """``[(model - CGM) / sigma / sqrt(corr_factor), z]`` over rows with a CGM reading."""
        g = self.trajectory(z)
        r = (g[self.valid] - self.glucose[self.valid]) / (self.sigma * np.sqrt(self.corr_factor))
        r = np.where(np.isfinite(r), r, 1e3)
        return np.concatenate([r, z])

    def log_posterior(self, z: np.ndarray) -> float:
        """Unnormalised log-posterior density of ``z`` (the MCMC target)."""
        lo, hi = self.layout.bounds()
        if np.any(z < lo) or np.any(z > hi):
            return -np.inf
        r = self.residuals(z)
        return float(-0.5 * r @ r)


def _lag1(resid: np.ndarray, valid: np.ndarray) -> float:
    """Lag-1 autocorrelation of residuals over consecutive rows that both have a reading."""
    e = np.where(valid, resid, np.nan)
    a, b = e[:-1], e[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return 0.0
    a, b = a[ok] - np.nanmean(e), b[ok] - np.nanmean(e)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


@attrs.define
class FitResult:
    """What :func:`map_fit` found."""

    z: np.ndarray
    cov_z: np.ndarray
    sigma: float
    lag1: float
    cost: float
    converged: bool
    iterations: int
    evaluations: int
    starts: list[float]
    message: str
    seconds: float


def map_fit(problem: Problem, n_starts: int, seed: int, max_nfev: int | None = None) -> FitResult:
    """MAP estimate: multi-start trust-region least squares, then the noise SD, then a polish.

    Every start (the prior mean, then draws from the prior) runs with a loose tolerance;
    the best one is polished with the sensor-noise SD re-estimated from its residuals
    (the profile-likelihood estimate ``sigma = RMS residual``).
    """
    t0 = time.perf_counter()
    max_nfev = MAX_NFEV if max_nfev is None else max_nfev
    lo, hi = problem.layout.bounds()
    rng = np.random.default_rng(seed)
    starts = [np.zeros(problem.layout.size)]
    for _ in range(max(n_starts, 1) - 1):
        starts.append(rng.normal(0.0, 0.7, problem.layout.size))
    starts = [np.clip(s, lo + 1e-6, hi - 1e-6) for s in starts]
    nfev = 0
    njev = 0
    costs: list[float] = []
    best = None
    for s in starts:
        res = scipy.optimize.least_squares(problem.residuals, s, bounds=(lo, hi), method="trf",
                                           diff_step=1e-4, ftol=1e-3, xtol=1e-4,
                                           max_nfev=max_nfev)
        nfev += res.nfev
        njev += res.njev or 0
        costs.append(float(res.cost))
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    g = problem.trajectory(best.x)
    resid = (g - problem.glucose)[problem.valid]
    problem.sigma = float(np.clip(np.sqrt(np.mean(resid**2)), 2.0, 60.0))
    best = scipy.optimize.least_squares(problem.residuals, best.x, bounds=(lo, hi),
                                        method="trf", diff_step=1e-4, ftol=1e-6, xtol=1e-6,
                                        max_nfev=max_nfev)
    nfev += best.nfev
    njev += best.njev or 0
    g = problem.trajectory(best.x)
    full_resid = g - problem.glucose
    rho = max(_lag1(full_resid, problem.valid), 0.0)
    corr = float(np.clip((1.0 + rho) / max(1.0 - rho, 1e-9), 1.0, 50.0))
    m = int(problem.valid.sum())
    Jd = best.jac[:m]
    H = Jd.T @ Jd / corr + np.eye(problem.layout.size)
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(H)
    problem.corr_factor = corr
    converged = bool(best.status > 0)
    return FitResult(z=best.x.copy(), cov_z=cov, sigma=problem.sigma, lag1=rho,
                     cost=float(best.cost), converged=converged, iterations=njev,
                     evaluations=nfev, starts=costs, message=str(best.message),
                     seconds=time.perf_counter() - t0)


def mcmc_sample(problem: Problem, z_map: np.ndarray, cov_z: np.ndarray, n_steps: int,
                seed: int, n_walkers: int | None = None) -> np.ndarray:
    """Posterior draws of ``z`` with emcee's affine-invariant ensemble, started near the MAP."""
    try:
        import emcee
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'method="mcmc" needs emcee; install it with pip install "dt1d[mcmc]" (or emcee)'
        ) from exc
    dim = problem.layout.size
    n_walkers = n_walkers or 2 * dim + 2
    rng = np.random.default_rng(seed)
    lo, hi = problem.layout.bounds()
    chol = np.linalg.cholesky(cov_z + 1e-12 * np.eye(dim))
    p0 = z_map + 0.5 * rng.standard_normal((n_walkers, dim)) @ chol.T
    p0 = np.clip(p0, lo + 1e-6, hi - 1e-6)
    sampler = emcee.EnsembleSampler(n_walkers, dim, problem.log_posterior)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    sampler.run_mcmc(p0, n_steps, progress=False)
    burn = n_steps // 2
    return sampler.get_chain(discard=burn, flat=True)


def describe(z: np.ndarray, cov_z: np.ndarray, layout: Layout, window_labels: list[str]
             ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """``params_`` (natural units), ``params_std_`` (delta method) and their log-scale SDs."""
    values = layout.values(z)
    var_log = layout.log_sd**2 * np.diag(cov_z)
    names = {"gb": "basal_glucose_mg_dl", "vmx": "vmx", "kp3": "kp3", "kabs": "kabs_per_min",
             "kmax": "kmax_per_min", "p2u": "p2u_per_min", "ksc": "ksc_per_min", "kp2": "kp2_per_min", "vm0": "vm0_mg_per_kg_min",
             "meal_delay": "meal_delay_min"}
    params: dict[str, float] = {}
    std: dict[str, float] = {}
    log_std: dict[str, float] = {}
    for k, name in enumerate(layout.names):
        if name.startswith("vmx_window_"):
            continue
        key = names.get(name, name)
        params[key] = float(values[k])
        log_std[key] = float(np.sqrt(var_log[k]))
        std[key] = float(values[k] * log_std[key])
    if layout.n_windows > 1:
        iv = layout.names.index("vmx")
        for w in range(layout.n_windows):
            k = layout.names.index(f"vmx_window_{w}")
            key = f"vmx_{window_labels[w]}"
            value = values[iv] * values[k]
            a, b = layout.log_sd[iv], layout.log_sd[k]
            var = a * a * cov_z[iv, iv] + b * b * cov_z[k, k] + 2 * a * b * cov_z[iv, k]
            params[key] = float(value)
            log_std[key] = float(np.sqrt(max(var, 0.0)))
            std[key] = float(value * log_std[key])
    return params, std, log_std


__all__ = [
    "FitResult",
    "Layout",
    "Problem",
    "describe",
    "equilibrate",
    "make_layout",
    "map_fit",
    "mcmc_sample",
    "model_from_z",
]
