"""CGM noise: the Johnson SU marginal (analytic moments) and simglucose's generator."""

import math

import numpy as np
import pytest

from dt1d.sim import CGMSensor, list_sensors


def _johnson_moments(s: CGMSensor) -> tuple[float, float]:
    """Mean and sd of xi + lambda sinh((Z - gamma) / delta), Z ~ N(0, 1) (closed form)."""
    mu, sig = -s.gamma / s.delta, 1.0 / s.delta
    m1 = math.sinh(mu) * math.exp(sig**2 / 2)
    var = 0.5 * (math.exp(2 * sig**2) * math.cosh(2 * mu) - 1) - m1**2
    return s.xi + s.lambda_ * m1, s.lambda_ * math.sqrt(var)


def test_noise_has_the_johnson_su_marginal_and_ar1_correlation():
    sensor = CGMSensor()
    # sampled at the 15-minute knots the noise is exactly the transformed AR(1) driver
    noise = sensor.noise(200, 15, [np.random.default_rng([5, i]) for i in range(400)])
    mean, sd = _johnson_moments(sensor)
    assert noise.mean() == pytest.approx(mean, abs=0.4)
    assert noise.std() == pytest.approx(sd, rel=0.04)
    lag1 = np.corrcoef(noise[:-1].ravel(), noise[1:].ravel())[0, 1]
    assert 0.6 < lag1 < 0.72  # slightly below PACF = 0.7: sinh is not linear


def test_simglucose_compatible_noise_reproduces_its_statistics():
    # MODEL_NOTES section 7: Dexcom, seed 1, 20,000 samples: mean about +1, sd about 11.6,
    # range about -58 to +92 mg/dL, lag-1 autocorrelation 0.98
    sensor = CGMSensor.from_name("Dexcom", simglucose_compat=True)
    noise = sensor.noise(20000, 3, [np.random.RandomState(1)])[:, 0]
    assert noise.mean() == pytest.approx(1.0, abs=0.3)
    assert noise.std() == pytest.approx(11.6, abs=0.3)
    assert noise.min() == pytest.approx(-58, abs=2) and noise.max() == pytest.approx(92, abs=2)
    assert np.corrcoef(noise[:-1], noise[1:])[0, 1] == pytest.approx(0.98, abs=0.01)


def test_readings_are_clipped_to_the_sensor_range():
    sensor = CGMSensor()
    out = sensor.measure(np.array([20.0, 100.0, 700.0]), np.zeros(3))
    np.testing.assert_array_equal(out, [39.0, 100.0, 600.0])


def test_sensor_table_and_bad_parameters():
    assert set(list_sensors()) == {"Dexcom", "GuardianRT", "Navigator"}
    assert CGMSensor.from_name("Navigator").min_mg_dl == 32.0
    with pytest.raises(ValueError, match="unknown CGM sensor"):
        CGMSensor.from_name("Libre")
    with pytest.raises(ValueError, match="pacf"):
        CGMSensor(pacf=1.2)
