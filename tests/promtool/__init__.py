"""`promtool test rules` unit tests generated from the rendered rules: cases in `cases.py`, harness in `harness.py`."""
