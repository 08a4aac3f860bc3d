"""Pulumi program of the kasbah project (`pulumi up -s phase1`): see kasbah/pulumi_program.py."""

import sys
from pathlib import Path

import pulumi

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `components/` sits beside this file
    sys.path.insert(0, str(ROOT))

from kasbah.pulumi_program import ProgramError, run  # noqa: E402

try:
    outputs = run(ROOT)
except ProgramError as exc:
    raise pulumi.RunError(str(exc)) from None
for key, value in outputs.items():
    pulumi.export(key, value)
