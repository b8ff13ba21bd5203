"""Read a shipped detector card and evaluate its resolutions.

Run: python docs/examples/detector_card.py
"""

import math

from jetscale.generate import available_cards, load_card

print("cards:", ", ".join(available_cards()))
card = load_card("cms")  # a name, or the path of your own TOML card
for pt in (1.0, 10.0, 100.0):  # GeV
    tracking = card.tracking
    pt_resolution = math.hypot(tracking.pt_resolution_const, tracking.pt_resolution_slope * pt)
    ip = card.impact_parameter
    sigma_d0 = math.hypot(ip.d0_const, ip.d0_slope / pt)  # mm
    print(f"pT = {pt:5.1f} GeV: sigma(pT)/pT = {pt_resolution:.4f}, sigma(d0) = {sigma_d0:.3f} mm")
