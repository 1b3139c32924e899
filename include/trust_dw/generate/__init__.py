"""The calibrated, deterministic source-data generator (DESIGN §3, §10): landing files for every feed.

Use ``generate(settings, scale, start, days, seed, faults)`` (or ``trust-dw generate``).
See docs/generator.md for the model, the calibration and the fault manifest.
"""

from trust_dw.generate.core import PART_NAME, GenerateSummary, generate, parse_faults
from trust_dw.generate.faults import FAULT_KINDS
from trust_dw.generate.scales import SCALES, Scale

__all__ = ["FAULT_KINDS", "PART_NAME", "SCALES", "GenerateSummary", "Scale", "generate", "parse_faults"]
