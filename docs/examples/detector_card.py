"""Read the shipped detector cards and evaluate their resolutions.

Run: python docs/examples/detector_card.py
"""

import math

import numpy as np

from jetscale.generate import available_cards, load_card

print("cards:", ", ".join(available_cards()))

# `cms`: the Delphes chain of the card JetClass was simulated with.
cms = load_card("cms")  # a name, or the path of your own TOML card
print(f"cms: {cms.solenoid.bz} T field, tracker radius {cms.solenoid.radius} mm")
for pt in (1.0, 10.0, 100.0):  # GeV
    efficiency = cms.tracking["charged_hadron"].table.lookup(0.5, pt)  # at |eta| = 0.5
    sigma_d0 = cms.track_smearing.d0.lookup(0.5, pt)  # mm
    sigma_ecal = cms.ecal.resolution(np.array([0.5]), np.array([pt]))[0]  # GeV, at E = pT
    print(
        f"pT = {pt:5.1f} GeV: tracking efficiency {efficiency:.2f}, sigma(d0) = {sigma_d0:.4f} mm, "
        f"ECal sigma(E)/E = {sigma_ecal / pt:.3f}"
    )

# `atlas_like`, `coarse`, `cms_parametric`: one smeared object per particle.
coarse = load_card("coarse")
for pt in (1.0, 10.0, 100.0):
    tracking = coarse.tracking
    pt_resolution = math.hypot(tracking.pt_resolution_const, tracking.pt_resolution_slope * pt)
    ip = coarse.impact_parameter
    sigma_d0 = math.hypot(ip.d0_const, ip.d0_slope / pt)  # mm
    print(
        f"coarse, pT = {pt:5.1f} GeV: sigma(pT)/pT = {pt_resolution:.4f}, sigma(d0) = {sigma_d0:.3f} mm"
    )
