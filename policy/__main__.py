"""Kasbah's policy pack: `pulumi preview --policy-pack policy` (the rules are plain functions in rules.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(name="kasbah", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
