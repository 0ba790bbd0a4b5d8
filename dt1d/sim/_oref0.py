"""oref0's determine-basal decision, its exponential insulin curves and glucose deltas, in numba.

An independent implementation of the logic of OpenAPS oref0 0.7.1 (MIT licence,
``lib/determine-basal/determine-basal.js``, ``lib/basal-set-temp.js``, ``lib/iob/``,
``lib/glucose-get-last.js``), written from its documented behaviour and checked against
the real oref0 on recorded inputs (``tests/sim/fixtures/oref0``). JavaScript rounding
(``Math.round``: ties towards +inf) and ``Math.min``/``Math.max`` (NaN wins) are
reproduced, since oref0 rounds at many intermediate points.

Everything is a pure function over floats and arrays, so the same code runs in the
in-kernel closed loop and from Python.
"""

from __future__ import annotations

import math

import numpy as np

from dt1d._numba import jit

# profile vector (oref0 profile fields; booleans as 0/1)
PR_CURRENT_BASAL = 0  # current_basal [U/h]
PR_SENS = 1  # sens: insulin sensitivity factor [mg/dL per U]
PR_CARB_RATIO = 2  # carb_ratio [g/U]
PR_MIN_BG = 3  # min_bg [mg/dL]
PR_MAX_BG = 4  # max_bg [mg/dL]
PR_MAX_IOB = 5  # max_iob [U]
PR_MAX_BASAL = 6  # max_basal [U/h]
PR_MAX_DAILY_BASAL = 7  # max_daily_basal [U/h]
PR_MAX_DAILY_MULT = 8  # max_daily_safety_multiplier
PR_CURRENT_MULT = 9  # current_basal_safety_multiplier
PR_SMB_MINUTES = 10  # maxSMBBasalMinutes
PR_UAM_SMB_MINUTES = 11  # maxUAMSMBBasalMinutes
PR_SMB_INTERVAL = 12  # SMBInterval [min]
PR_BOLUS_INCREMENT = 13  # bolus_increment [U]
PR_ENABLE_UAM = 14  # enableUAM
PR_SMB_WITH_COB = 15  # enableSMB_with_COB
PR_SMB_ALWAYS = 16  # enableSMB_always
PR_SMB_AFTER_CARBS = 17  # enableSMB_after_carbs
PR_SMB_HIGH_BG = 18  # enableSMB_high_bg
PR_SMB_HIGH_BG_TARGET = 19  # enableSMB_high_bg_target [mg/dL]
PR_REMAINING_CARBS_CAP = 20  # remainingCarbsCap [g]
PR_MAXDELTA_THRESHOLD = 21  # maxDelta_bg_threshold
PR_AUTOSENS_RATIO = 22  # autosens_data.ratio
PR_MICROBOLUS_ALLOWED = 23  # microBolusAllowed (the loop's SMB switch)
N_PROFILE = 24

# glucose status (glucose-get-last)
GS_BG = 0
GS_DELTA = 1
GS_SHORT_AVGDELTA = 2
GS_LONG_AVGDELTA = 3
N_GS = 4

# meal data (meal/total)
MD_CARBS = 0  # carbs entered in the last 6 h [g]
MD_COB = 1  # mealCOB [g]
MD_SLOPE_MAX = 2  # slopeFromMaxDeviation
MD_SLOPE_MIN = 3  # slopeFromMinDeviation
MD_LAST_CARB_AGE = 4  # minutes since the last carb entry
N_MD = 5

# decision
OUT_RATE = 0  # temp basal rate [U/h]; NaN: keep the running temp
OUT_DURATION = 1  # temp duration [min]; NaN: keep the running temp
OUT_UNITS = 2  # super micro-bolus [U]
OUT_EVENTUAL_BG = 3
OUT_INSULIN_REQ = 4
N_OUT = 5

#: 5-minute ticks of oref0's IOB forecast (4 h).
N_TICKS = 48


@jit()
def js_round(value, digits):
    """JavaScript ``Math.round(value * 10**digits) / 10**digits`` (ties towards +inf)."""
    scale = 10.0 ** digits
    v = value * scale
    r = math.floor(v)
    if v - r >= 0.5:
        r += 1.0
    return r / scale


@jit()
def js_min(a, b):
    """``Math.min``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a < b else b


@jit()
def js_max(a, b):
    """``Math.max``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a > b else b


@jit()
def round_basal(rate):
    """oref0's ``round_basal`` for pumps other than Medtronic x23/x54: 0.05 U/h, 0.1 >= 10."""
    if rate < 1.0:
        return js_round(rate * 20.0, 0) / 20.0
    if rate < 10.0:
        return js_round(rate * 20.0, 0) / 20.0
    return js_round(rate * 10.0, 0) / 10.0


@jit()
def insulin_curve(minutes_ago, dia_h, peak_min):
    """oref0's exponential insulin curve for 1 U: (insulin on board [U], activity [U/min]).

    The curve of lib/iob/calculate.js (from Loop): time constant
    ``tau = tp (1 - tp/td) / (1 - 2 tp/td)``, ``a = 2 tau / td``,
    ``S = 1 / (1 - a + (1 + a) exp(-td/tau))``; zero from the end of action ``td``.
    """
    end = dia_h * 60.0
    if minutes_ago >= end:
        return 0.0, 0.0
    t = minutes_ago
    tau = peak_min * (1.0 - peak_min / end) / (1.0 - 2.0 * peak_min / end)
    a = 2.0 * tau / end
    s = 1.0 / (1.0 - a + (1.0 + a) * math.exp(-end / tau))
    act = (s / tau ** 2) * t * (1.0 - t / end) * math.exp(-t / tau)
    iob = 1.0 - s * (1.0 - a) * ((t ** 2 / (tau * end * (1.0 - a)) - t / tau - 1.0)
                                 * math.exp(-t / tau) + 1.0)
    return iob, act


def curve_tables(dia_h: float, peak_min: float, step_min: int, n: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """IOB and activity of 1 U at lags 0, step, 2 step, ... (n values)."""
    iob = np.empty(n)
    act = np.empty(n)
    for i in range(n):
        iob[i], act[i] = insulin_curve(float(i * step_min), dia_h, peak_min)
    return iob, act


@jit()
def glucose_status(history, count, out):
    """oref0's glucose-get-last on readings every 5 min: ``history[0]`` newest, ``count`` valid.

    ``delta`` from the reading 5 min ago, ``short_avgdelta`` over 5-15 min, ``long_avgdelta``
    over 20-40 min, each as a change per 5 min; readings of 38 mg/dL or less are skipped.
    """
    now = history[0]
    last = 0.0
    n_last = 0
    short = 0.0
    n_short = 0
    long_ = 0.0
    n_long = 0
    for i in range(1, count):
        g = history[i]
        if not g > 38.0:
            continue
        minutes = 5.0 * i
        avg = (now - g) / minutes * 5.0
        if minutes < 17.5:
            short += avg
            n_short += 1
            if minutes < 7.5:
                last += avg
                n_last += 1
        elif minutes < 42.5:
            long_ += avg
            n_long += 1
    out[GS_BG] = js_round(now, 2)
    out[GS_DELTA] = js_round(last / n_last, 2) if n_last else 0.0
    out[GS_SHORT_AVGDELTA] = js_round(short / n_short, 2) if n_short else 0.0
    out[GS_LONG_AVGDELTA] = js_round(long_ / n_long, 2) if n_long else 0.0


@jit()
def _max_safe_basal(pr):
    return min(pr[PR_MAX_BASAL], pr[PR_MAX_DAILY_MULT] * pr[PR_MAX_DAILY_BASAL],
               pr[PR_CURRENT_MULT] * pr[PR_CURRENT_BASAL])


@jit()
def _set_temp(rate, duration, pr, cur_rate, cur_duration, out):
    """basal-set-temp.js: clamp to [0, max safe basal], round, keep a similar running temp."""
    max_safe = _max_safe_basal(pr)
    if rate < 0.0:
        rate = 0.0
    elif rate > max_safe:
        rate = max_safe
    suggested = round_basal(rate)
    if (cur_duration > duration - 10.0 and cur_duration <= 120.0
            and suggested <= cur_rate * 1.2 and suggested >= cur_rate * 0.8 and duration > 0.0):
        return
    out[OUT_RATE] = suggested
    out[OUT_DURATION] = duration


@jit()
def _basal_or_keep(basal, pr, cur_rate, cur_duration, out):
    """Keep a running temp close to the basal rate, or set the basal rate as a 30-min temp."""
    if cur_duration > 15.0 and round_basal(basal) == round_basal(cur_rate):
        return
    _set_temp(basal, 30.0, pr, cur_rate, cur_duration, out)


@jit()
def _enable_smb(pr, carbs, cob, bg):
    if pr[PR_MICROBOLUS_ALLOWED] == 0.0:
        return False
    if pr[PR_SMB_ALWAYS] != 0.0:
        return True
    if pr[PR_SMB_WITH_COB] != 0.0 and cob != 0.0:
        return True
    if pr[PR_SMB_AFTER_CARBS] != 0.0 and carbs != 0.0:
        return True
    if pr[PR_SMB_HIGH_BG] != 0.0 and bg >= pr[PR_SMB_HIGH_BG_TARGET]:
        return True
    return False


@jit()
def determine_basal(gs, cur_rate, cur_duration, iob, activity, zt_activity, last_bolus_age,
                    pr, md, out):
    """One oref0 decision into ``out`` (N_OUT): temp basal rate/duration (NaN: keep) and SMB.

    ``gs``: glucose status (N_GS); ``iob``, ``activity``, ``zt_activity``: the 48-tick IOB
    forecast (U, U/min; the last with a zero temp from now on); ``last_bolus_age`` minutes
    since the last bolus; ``pr`` profile (N_PROFILE); ``md`` meal data (N_MD). No temp
    targets, noise flags or pump-history mismatch (the simulator's pump history is exact).
    """
    out[OUT_RATE] = np.nan
    out[OUT_DURATION] = np.nan
    out[OUT_UNITS] = 0.0
    out[OUT_EVENTUAL_BG] = np.nan
    out[OUT_INSULIN_REQ] = 0.0
    current_basal = pr[PR_CURRENT_BASAL]
    basal = round_basal(current_basal)
    bg = gs[GS_BG]
    delta = gs[GS_DELTA]
    short = gs[GS_SHORT_AVGDELTA]
    long_ = gs[GS_LONG_AVGDELTA]
    min_delta = min(delta, short)
    min_avg_delta = min(short, long_)
    max_delta = max(delta, max(short, long_))
    tooflat = (bg > 60.0 and delta == 0.0 and -1.0 < short < 1.0 and -1.0 < long_ < 1.0)
    if bg <= 10.0 or bg == 38.0 or tooflat:
        if cur_rate > basal:
            out[OUT_RATE] = basal
            out[OUT_DURATION] = 30.0
        elif cur_rate == 0.0 and cur_duration > 30.0:
            out[OUT_RATE] = 0.0
            out[OUT_DURATION] = 30.0
        return
    max_iob = pr[PR_MAX_IOB]
    min_bg = pr[PR_MIN_BG]
    max_bg = pr[PR_MAX_BG]
    target_bg = (min_bg + max_bg) / 2.0
    ratio = pr[PR_AUTOSENS_RATIO]
    if ratio != 0.0:
        basal = round_basal(current_basal * ratio)
    threshold = min_bg - 0.5 * (min_bg - 40.0)
    profile_sens = pr[PR_SENS]
    sens = js_round(profile_sens / ratio, 1)
    carb_ratio = pr[PR_CARB_RATIO]
    iob0 = iob[0]
    bgi = js_round(-activity[0] * sens * 5.0, 2)
    deviation = js_round(30.0 / 5.0 * (min_delta - bgi), 0)
    if deviation < 0.0:
        deviation = js_round(30.0 / 5.0 * (min_avg_delta - bgi), 0)
        if deviation < 0.0:
            deviation = js_round(30.0 / 5.0 * (long_ - bgi), 0)
    if iob0 > 0.0:
        naive_eventual = js_round(bg - iob0 * sens, 0)
    else:
        naive_eventual = js_round(bg - iob0 * min(sens, profile_sens), 0)
    eventual = naive_eventual + deviation
    expected_delta = js_round(bgi + (target_bg - eventual) / 24.0, 1)

    carbs = md[MD_CARBS]
    cob = md[MD_COB]
    enable_smb = _enable_smb(pr, carbs, cob, bg)
    enable_uam = pr[PR_ENABLE_UAM] != 0.0
    ci = js_round(min_delta - bgi, 1)
    uci = ci
    csf = sens / carb_ratio
    max_ci = js_round(30.0 * csf * 5.0 / 60.0, 1)
    if ci > max_ci:
        ci = max_ci
    remaining_ca_time_min = 3.0
    if ratio != 0.0:
        remaining_ca_time_min = remaining_ca_time_min / ratio
    remaining_ca_time = remaining_ca_time_min
    if carbs != 0.0:
        remaining_ca_time_min = js_max(remaining_ca_time_min, cob / 20.0)
        last_carb_age = js_round(md[MD_LAST_CARB_AGE], 0)
        remaining_ca_time = js_round(remaining_ca_time_min + 1.5 * last_carb_age / 60.0, 1)
    total_ci = js_max(0.0, ci / 5.0 * 60.0 * remaining_ca_time / 2.0)
    total_ca = total_ci / csf
    cap = 90.0
    if pr[PR_REMAINING_CARBS_CAP] != 0.0:
        cap = min(90.0, pr[PR_REMAINING_CARBS_CAP])
    remaining_carbs = js_max(0.0, cob - total_ca - carbs * 0.0)
    remaining_carbs = js_min(cap, remaining_carbs)
    remaining_ci_peak = remaining_carbs * csf * 5.0 / 60.0 / (remaining_ca_time / 2.0)
    slope_max = js_round(md[MD_SLOPE_MAX], 2)
    slope_min = js_round(md[MD_SLOPE_MIN], 2)
    slope_dev = js_min(slope_max, -slope_min / 3.0)
    if ci == 0.0:
        cid = 0.0
    else:
        cid = js_min(remaining_ca_time * 60.0 / 5.0 / 2.0, js_max(0.0, cob * csf / ci))

    iob_pred = np.empty(N_TICKS)
    cob_pred = np.empty(N_TICKS)
    uam_pred = np.empty(N_TICKS)
    zt_pred = np.empty(N_TICKS)
    iob_pred[0] = bg
    cob_pred[0] = bg
    uam_pred[0] = bg
    zt_pred[0] = bg
    n_pred = 1  # the four prediction arrays grow together
    min_iob_pred = 999.0
    min_cob_pred = 999.0
    min_uam_pred = 999.0
    min_cob_guard = 999.0
    min_uam_guard = 999.0
    min_iob_guard = 999.0
    min_zt_guard = 999.0
    iob_pred_bg = eventual
    cob_pred_bg = bg
    uam_pred_bg = bg
    max_iob_pred = bg
    max_cob_pred = bg
    carbs_on = cid != 0.0 or remaining_ci_peak > 0.0
    peak5m = 90.0 / 60.0 * 12.0
    for t in range(N_TICKS):
        length = float(n_pred)
        pred_bgi = js_round(-activity[t] * sens * 5.0, 2)
        pred_zt_bgi = js_round(-zt_activity[t] * sens * 5.0, 2)
        pred_dev = ci * (1.0 - min(1.0, length / (60.0 / 5.0)))
        iob_pred_bg = iob_pred[n_pred - 1] + pred_bgi + pred_dev
        zt_pred_bg = zt_pred[n_pred - 1] + pred_zt_bgi
        pred_ci = js_max(0.0, js_max(0.0, ci) * (1.0 - length / js_max(cid * 2.0, 1.0)))
        intervals = js_min(length, remaining_ca_time * 12.0 - length)
        remaining_ci = js_max(0.0, intervals / (remaining_ca_time / 2.0 * 12.0)
                              * remaining_ci_peak)
        cob_pred_bg = (cob_pred[n_pred - 1] + pred_bgi + js_min(0.0, pred_dev) + pred_ci
                       + remaining_ci)
        pred_uci_slope = js_max(0.0, uci + length * slope_dev)
        pred_uci_max = js_max(0.0, uci * (1.0 - length / max(3.0 * 60.0 / 5.0, 1.0)))
        pred_uci = js_min(pred_uci_slope, pred_uci_max)
        uam_pred_bg = uam_pred[n_pred - 1] + pred_bgi + js_min(0.0, pred_dev) + pred_uci
        if n_pred < N_TICKS:
            iob_pred[n_pred] = iob_pred_bg
            cob_pred[n_pred] = cob_pred_bg
            uam_pred[n_pred] = uam_pred_bg
            zt_pred[n_pred] = zt_pred_bg
            n_pred += 1
        if cob_pred_bg < min_cob_guard:
            min_cob_guard = js_round(cob_pred_bg, 0)
        if uam_pred_bg < min_uam_guard:
            min_uam_guard = js_round(uam_pred_bg, 0)
        if iob_pred_bg < min_iob_guard:
            min_iob_guard = js_round(iob_pred_bg, 0)
        if zt_pred_bg < min_zt_guard:
            min_zt_guard = js_round(zt_pred_bg, 0)
        if n_pred > peak5m and iob_pred_bg < min_iob_pred:
            min_iob_pred = js_round(iob_pred_bg, 0)
        if iob_pred_bg > max_iob_pred:
            max_iob_pred = iob_pred_bg
        if carbs_on and n_pred > peak5m and cob_pred_bg < min_cob_pred:
            min_cob_pred = js_round(cob_pred_bg, 0)
        if carbs_on and cob_pred_bg > max_iob_pred:  # (sic) oref0 compares with the IOB max
            max_cob_pred = cob_pred_bg
        if enable_uam and n_pred > 12 and uam_pred_bg < min_uam_pred:
            min_uam_pred = js_round(uam_pred_bg, 0)

    for i in range(n_pred):
        iob_pred[i] = js_round(min(401.0, max(39.0, iob_pred[i])), 0)
    cob_curve = cob > 0.0 and (ci > 0.0 or remaining_ci_peak > 0.0)
    if cob_curve:
        for i in range(n_pred):
            cob_pred[i] = js_round(min(401.0, max(39.0, cob_pred[i])), 0)
        eventual = js_max(eventual, js_round(cob_pred[n_pred - 1], 0))
    if ci > 0.0 or remaining_ci_peak > 0.0:
        if enable_uam:
            for i in range(n_pred):
                uam_pred[i] = js_round(min(401.0, max(39.0, uam_pred[i])), 0)
            if uam_pred[n_pred - 1] != 0.0:
                eventual = js_max(eventual, js_round(uam_pred[n_pred - 1], 0))
    out[OUT_EVENTUAL_BG] = eventual

    min_iob_pred = js_max(39.0, min_iob_pred)
    min_cob_pred = js_max(39.0, min_cob_pred)
    min_uam_pred = js_max(39.0, min_uam_pred)
    min_pred = js_round(min_iob_pred, 0)
    fraction_left = cob / carbs
    if min_uam_pred < 999.0 and min_cob_pred < 999.0:
        avg_pred = js_round((1.0 - fraction_left) * uam_pred_bg
                            + fraction_left * cob_pred_bg, 0)
    elif min_cob_pred < 999.0:
        avg_pred = js_round((iob_pred_bg + cob_pred_bg) / 2.0, 0)
    elif min_uam_pred < 999.0:
        avg_pred = js_round((iob_pred_bg + uam_pred_bg) / 2.0, 0)
    else:
        avg_pred = js_round(iob_pred_bg, 0)
    if min_zt_guard > avg_pred:
        avg_pred = min_zt_guard
    if carbs_on:
        if enable_uam:
            min_guard = fraction_left * min_cob_guard + (1.0 - fraction_left) * min_uam_guard
        else:
            min_guard = min_cob_guard
    elif enable_uam:
        min_guard = min_uam_guard
    else:
        min_guard = min_iob_guard
    min_guard = js_round(min_guard, 0)
    min_zt_uam = min_uam_pred
    if min_zt_guard < threshold:
        min_zt_uam = (min_uam_pred + min_zt_guard) / 2.0
    elif min_zt_guard < target_bg:
        blend = (min_zt_guard - threshold) / (target_bg - threshold)
        blended = min_uam_pred * blend + min_zt_guard * (1.0 - blend)
        min_zt_uam = (min_uam_pred + blended) / 2.0
    elif min_zt_guard > min_uam_pred:
        min_zt_uam = (min_uam_pred + min_zt_guard) / 2.0
    min_zt_uam = js_round(min_zt_uam, 0)
    if carbs != 0.0:
        if not enable_uam and min_cob_pred < 999.0:
            min_pred = js_round(js_max(min_iob_pred, min_cob_pred), 0)
        elif min_cob_pred < 999.0:
            blended_min = fraction_left * min_cob_pred + (1.0 - fraction_left) * min_zt_uam
            min_pred = js_round(js_max(min_iob_pred, js_max(min_cob_pred, blended_min)), 0)
        elif enable_uam:
            min_pred = min_zt_uam
        else:
            min_pred = min_guard
    elif enable_uam:
        min_pred = js_round(js_max(min_iob_pred, min_zt_uam), 0)
    min_pred = js_min(min_pred, avg_pred)
    if max_cob_pred > bg:
        min_pred = js_min(min_pred, max_cob_pred)

    carbs_req_bg = naive_eventual
    if carbs_req_bg < 40.0:
        carbs_req_bg = js_min(min_guard, carbs_req_bg)
    bg_undershoot = threshold - carbs_req_bg
    minutes_above_threshold = 240.0  # (oref0 also finds the time above min_bg, for its log)
    curve = cob_pred if cob_curve else iob_pred
    for i in range(n_pred):
        if curve[i] < threshold:
            minutes_above_threshold = 5.0 * i
            break
    if enable_smb and min_guard < threshold:
        enable_smb = False
    max_delta_threshold = min(pr[PR_MAXDELTA_THRESHOLD], 0.3)
    if max_delta > max_delta_threshold * bg:
        enable_smb = False
    zero_temp_effect = current_basal * sens * minutes_above_threshold / 60.0
    cob_for_req = js_max(0.0, cob - 0.25 * carbs)
    carbs_req = js_round((bg_undershoot - zero_temp_effect) / csf - cob_for_req, 0)
    smb_mode = pr[PR_MICROBOLUS_ALLOWED] != 0.0 and enable_smb

    if (bg < threshold and iob0 < -current_basal * 20.0 / 60.0 and min_delta > 0.0
            and min_delta > expected_delta):
        pass  # no low-glucose suspend: IOB is very negative and BG rises faster than expected
    elif bg < threshold or min_guard < threshold:
        worst = (target_bg - min_guard) / sens
        duration = js_round(60.0 * worst / current_basal, 0)
        duration = js_round(duration / 30.0, 0) * 30.0
        duration = js_min(120.0, js_max(30.0, duration))
        _set_temp(0.0, duration, pr, cur_rate, cur_duration, out)
        return

    if eventual < min_bg:
        if min_delta > expected_delta and min_delta > 0.0 and not (carbs_req != 0.0
                                                                   and carbs_req == carbs_req):
            if naive_eventual < 40.0:
                _set_temp(0.0, 30.0, pr, cur_rate, cur_duration, out)
                return
            _basal_or_keep(basal, pr, cur_rate, cur_duration, out)
            return
        insulin_req = 2.0 * js_min(0.0, (eventual - target_bg) / sens)
        insulin_req = js_round(insulin_req, 2)
        naive_req = js_round(js_min(0.0, (naive_eventual - target_bg) / sens), 2)
        if min_delta < 0.0 and min_delta > expected_delta:
            insulin_req = js_round(insulin_req * (min_delta / expected_delta), 2)
        rate = round_basal(basal + 2.0 * insulin_req)
        scheduled = cur_duration * (cur_rate - basal) / 60.0
        if scheduled < js_min(insulin_req, naive_req) - basal * 0.3:
            _set_temp(rate, 30.0, pr, cur_rate, cur_duration, out)
            return
        if cur_duration > 5.0 and rate >= cur_rate * 0.8:
            return
        if rate <= 0.0:
            worst = (target_bg - naive_eventual) / sens
            duration = js_round(60.0 * worst / current_basal, 0)
            if duration < 0.0:
                duration = 0.0
            else:
                duration = js_round(duration / 30.0, 0) * 30.0
                duration = js_min(120.0, js_max(0.0, duration))
            if duration > 0.0:
                _set_temp(rate, duration, pr, cur_rate, cur_duration, out)
                return
        _set_temp(rate, 30.0, pr, cur_rate, cur_duration, out)
        return

    if min_delta < expected_delta and not smb_mode:
        _basal_or_keep(basal, pr, cur_rate, cur_duration, out)
        return
    if js_min(eventual, min_pred) < max_bg and not smb_mode:
        _basal_or_keep(basal, pr, cur_rate, cur_duration, out)
        return
    if iob0 > max_iob:
        _basal_or_keep(basal, pr, cur_rate, cur_duration, out)
        return

    insulin_req = js_round((js_min(min_pred, eventual) - target_bg) / sens, 2)
    if insulin_req > max_iob - iob0:
        insulin_req = max_iob - iob0
    rate = round_basal(basal + 2.0 * insulin_req)
    insulin_req = js_round(insulin_req, 3)
    out[OUT_INSULIN_REQ] = insulin_req
    age = js_round(last_bolus_age, 1)
    if smb_mode and bg > threshold:
        meal_req = js_round(cob / carb_ratio, 3)
        if iob0 > meal_req and iob0 > 0.0:
            minutes = pr[PR_UAM_SMB_MINUTES] if pr[PR_UAM_SMB_MINUTES] != 0.0 else 30.0
            max_bolus = js_round(current_basal * minutes / 60.0, 1)
        else:
            max_bolus = js_round(current_basal * pr[PR_SMB_MINUTES] / 60.0, 1)
        increment = pr[PR_BOLUS_INCREMENT] if pr[PR_BOLUS_INCREMENT] != 0.0 else 0.1
        scale = 1.0 / increment
        micro = math.floor(js_min(insulin_req / 2.0, max_bolus) * scale) / scale
        worst = (target_bg - (naive_eventual + min_iob_pred) / 2.0) / sens
        duration = js_round(60.0 * worst / current_basal, 0)
        if insulin_req > 0.0 and micro < increment:
            duration = 0.0
        low_temp = 0.0
        if duration <= 0.0:
            duration = 0.0
        elif duration >= 30.0:
            duration = js_round(duration / 30.0, 0) * 30.0
            duration = js_min(60.0, js_max(0.0, duration))
        else:
            low_temp = js_round(basal * duration / 30.0, 2)
            duration = 30.0
        interval = 3.0
        if pr[PR_SMB_INTERVAL] != 0.0:
            interval = min(10.0, max(1.0, pr[PR_SMB_INTERVAL]))
        if age > interval and micro > 0.0:
            out[OUT_UNITS] = micro
        if duration > 0.0:
            out[OUT_RATE] = low_temp
            out[OUT_DURATION] = duration
            return
    max_safe = _max_safe_basal(pr)
    if rate > max_safe:
        rate = round_basal(max_safe)
    scheduled = cur_duration * (cur_rate - basal) / 60.0
    if scheduled >= insulin_req * 2.0:
        _set_temp(rate, 30.0, pr, cur_rate, cur_duration, out)
        return
    if cur_duration == 0.0:
        _set_temp(rate, 30.0, pr, cur_rate, cur_duration, out)
        return
    if cur_duration > 5.0 and round_basal(rate) <= round_basal(cur_rate):
        return
    _set_temp(rate, 30.0, pr, cur_rate, cur_duration, out)
