"""The UVA/Padova type 1 diabetes simulator: virtual patients, scenarios, CGM, pump, control.

``simulate(patient, scenario, days=..., controller=..., sensor=..., seed=...)`` returns a
patient record in dt1d's data format; ``simulate_cohort`` many at once (long format);
``simulate_inputs`` integrates per-minute inputs and returns every state.
"""

from dt1d.sim._engine import SimulationDivergedError
from dt1d.sim.controllers import (
    Action,
    BasalBolusController,
    Controller,
    MPCController,
    Observation,
    OpenAPSController,
    PIDController,
)
from dt1d.sim.handlers import BolusCalculator, CorrectionBolus, HypoTreatment
from dt1d.sim.patients import UnknownPatientError, list_virtual_patients, virtual_patient
from dt1d.sim.pump import InsulinPump, PumpLimitError, list_pumps
from dt1d.sim.scenario import InsulinEvent, Meal, Scenario, random_scenario
from dt1d.sim.sensor import CGMSensor, list_sensors
from dt1d.sim.simulate import simulate, simulate_cohort, simulate_inputs

__all__ = [
    "Action",
    "BasalBolusController",
    "BolusCalculator",
    "CGMSensor",
    "Controller",
    "CorrectionBolus",
    "HypoTreatment",
    "InsulinEvent",
    "InsulinPump",
    "MPCController",
    "Meal",
    "Observation",
    "OpenAPSController",
    "PIDController",
    "PumpLimitError",
    "Scenario",
    "SimulationDivergedError",
    "UnknownPatientError",
    "list_pumps",
    "list_sensors",
    "list_virtual_patients",
    "random_scenario",
    "simulate",
    "simulate_cohort",
    "simulate_inputs",
    "virtual_patient",
]
