"""The power-following schedule as the GPU role reads it: `power_schedule.json` (written by `kasbah energy --out`).

Compact on purpose: the hours with a cap (hour of the typical year, UTC -> cap as a fraction of the GPU maximum),
the pods it applies to, and each SKU's maximum W; the node's applier (playbooks/roles/gpu/files/kasbah-power-follow)
turns that into `nvidia-smi -pl` watts. Not part of `kasbah render`: renders are functions of the plan alone, and the
schedule needs the year's model.
"""

from __future__ import annotations

import json

from kasbah.energy.model import EnergyResult


def power_schedule_json(result: EnergyResult) -> str:
    s = result.schedule
    data = {
        "campus": result.campus,
        "phase": result.phase,
        "year": "typical (8,760 hours, UTC; 29 February repeats 28 February)",
        "floor": s.floor,
        "gpu_max_w": s.gpu_max_w,
        "pods": s.pods,
        "protected_pods": s.protected_pods,
        "hours": {str(e.hour): e.cap for e in s.entries},
        # The model's hour-by-hour supply and load (MW), for the applier's modelled-vs-measured metrics.
        "supply_mw": [round(x, 1) for x in result.supply_mw],
        "load_mw": [round(x, 1) for x in result.load_mw],
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"
