"""Counterfactual validation of the twin on physiology it was not built from.

Two published glucose-insulin models, implemented here from their papers, generate
virtual patients whose "what if" answers are known exactly; the protocol fits the
mechanistic twin to a simulated record of each patient and compares the twin's
what-if replays with the patient's own:

* ``hovorka``: the Hovorka et al. (2004) model (Cambridge model);
* ``bergman``: the Bergman minimal model with a Dalla Man (2006) gut;
* ``cohorts``: seeded virtual cohorts of both, at steady state on their basal rate;
* ``protocol``: records, what-ifs, the twin's fit, the measures and the targets of
  issue 18.

The user guide is the "Counterfactual validation" section of ``docs/mechanistic.md``;
``benchmarks/whatif_validation.py`` runs the full protocol.
"""

from dt1d.validation.bergman import BergmanPatient
from dt1d.validation.cohorts import bergman_cohort, hovorka_cohort
from dt1d.validation.hovorka import HovorkaPatient
from dt1d.validation.protocol import WHAT_IFS, check_targets, format_report, run_protocol

__all__ = ["WHAT_IFS", "BergmanPatient", "HovorkaPatient", "bergman_cohort", "check_targets",
           "format_report", "hovorka_cohort", "run_protocol"]
