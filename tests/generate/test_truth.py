from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetscale.generate.events import make_pythia
from jetscale.generate.processes import process_spec, pythia_settings
from jetscale.generate.truth import find_decays, match_jets


def test_match_requires_all_members_and_picks_closest_jet():
    jets = ak.zip(
        {
            "pt": [[500.0, 600.0, 550.0], [700.0], [], [600.0]],
            "eta": [[0.1, 1.0, 0.3], [0.5], [], [0.0]],
            "phi": [[0.0, 3.0, 0.1], [1.0], [], [0.0]],
        }
    )
    decays = [
        [
            [(500.0, 0.1, 0.0), (100.0, 0.2, 0.1), (100.0, 0.3, -0.2)]
        ],  # jets 0 and 2 contain it; 0 is closer
        [[(700.0, 0.5, 1.0), (100.0, 0.6, 1.1)], [(300.0, 2.0, 0.0), (10.0, 2.0, 0.0)]],
        [[(600.0, 0.0, 0.0)]],  # no jets in this event
        [],  # no decays in this event
    ]
    assert match_jets(jets, decays).tolist() == [[True, False, False], [True], [], [False]]
    # one product outside the cone spoils the match
    decays[1][0][1] = (100.0, 0.5, 1.0 + 0.81)
    assert match_jets(jets, decays).tolist()[1] == [False]
    # phi wraps around: a product at phi = pi - 0.1 matches a jet at -pi + 0.1
    wrap = ak.zip({"pt": [[600.0]], "eta": [[0.0]], "phi": [[-np.pi + 0.1]]})
    assert match_jets(wrap, [[[(600.0, 0.0, np.pi - 0.1)]]]).tolist() == [[True]]


@pytest.mark.parametrize(("name", "n_quarks", "n_leptons"), [("Tbqq", 3, 0), ("Hqql", 2, 1)])
def test_find_decays_in_pythia_events(name, n_quarks, n_leptons):
    spec = process_spec(name)
    pythia = make_pythia(pythia_settings(spec, seed=3, unit_index=1))
    found = 0
    for _ in range(5):
        assert pythia.next()
        decays = find_decays(pythia.event, pythia.process.size(), spec)
        assert len(decays) == (2 if name.startswith("T") else 1)
        for decay in decays:
            assert len(decay) == 1 + n_quarks + n_leptons
            found += 1
            # the resonance is the boosted hard-process particle
            assert decay[0][0] > 200.0
    assert found > 0
