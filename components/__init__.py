"""Pulumi ComponentResources built from a Kasbah plan (`from components import ...`).

Empty until the Pulumi issue lands: components read `kasbah.plan.derive.Plan` and never re-derive anything.
"""
