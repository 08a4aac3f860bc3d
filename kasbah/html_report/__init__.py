"""`kasbah report`: one self-contained HTML page per phase (inline SVG and CSS, no scripts), drawn from the plan.

Each figure is its own module and reads only the plan (and, for the map, the catalog's coordinates); nothing here
derives a figure the planner does not hold. `page.render_page` assembles them; `page.write_report` writes the file.
"""

from kasbah.html_report.page import EnergyCharts, render_page, write_report

__all__ = ["EnergyCharts", "render_page", "write_report"]
