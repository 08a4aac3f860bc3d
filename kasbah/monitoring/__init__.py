"""What the campus's monitoring may rely on, as data: exporters, their ports and documented metrics, the rules.

`kasbah.render.monitoring` turns the plan into Prometheus, Alertmanager, blackbox and Grafana files; the names it may
use in an expression come from here (`exporters.known_metrics()` plus the recording rules), so a dashboard or rule
that names a metric no exporter produces is a test failure, not a blank panel at 3 a.m.
"""
