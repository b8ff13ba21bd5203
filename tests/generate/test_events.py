"""Pythia set-up and extraction, including displaced production vertices."""

from __future__ import annotations

import numpy as np

from jetscale.generate.detector import impact_parameters
from jetscale.generate.events import ChargeTable, final_particles, make_pythia, stack_events
from jetscale.generate.processes import process_spec, pythia_settings


def _is_b_hadron(pdgid: int) -> bool:
    a = abs(pdgid)
    return (a // 100) % 10 == 5 or (a // 1000) % 10 == 5


def test_b_hadron_daughters_are_displaced():
    pythia = make_pythia(pythia_settings(process_spec("Hbb"), seed=5))
    d0_values = []
    for _ in range(3):
        assert pythia.next()
        event = pythia.event
        for i in range(event.size()):
            b = event[i]
            if not _is_b_hadron(b.id()) or b.isFinal() or _is_b_hadron(event[b.daughter1()].id()):
                continue  # only the last B hadron of each chain, i.e. the one that decays weakly
            for j in b.daughterListRecursive():
                d = event[j]
                if d.isFinal() and d.isCharged():
                    assert d.xProd() ** 2 + d.yProd() ** 2 > 0, (
                        "B daughter without production vertex"
                    )
                    d0, _ = impact_parameters(
                        *(
                            np.array([v])
                            for v in (d.xProd(), d.yProd(), d.zProd(), d.px(), d.py(), d.pz())
                        )
                    )
                    d0_values.append(abs(d0[0]))
    assert len(d0_values) >= 10
    # c*tau(B) ~ 0.45 mm: typical |d0| of B daughters is tens to hundreds of microns
    assert np.median(d0_values) > 0.02


def test_extraction_matches_event_record():
    pythia = make_pythia(pythia_settings(process_spec("QCD"), seed=2))
    assert pythia.next()
    columns = final_particles(pythia.event)
    n_final = sum(1 for p in pythia.event if p.isFinal())
    assert all(len(c) == n_final for c in columns)
    gen = stack_events([columns, columns], ChargeTable(pythia.particleData))
    assert len(gen) == 2 * n_final
    assert np.array_equal(gen.event, np.repeat([0, 1], n_final))
    # total final-state momentum balances (beams along z)
    assert abs(gen.px[:n_final].sum()) < 1e-6 and abs(gen.py[:n_final].sum()) < 1e-6
    assert abs(np.sum(gen.energy[:n_final]) - 13000.0) < 1e-3
    # charges from the particle table
    assert set(np.unique(gen.charge)) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    assert np.all(
        gen.charge[np.abs(gen.pdgid) == 211] == np.sign(gen.pdgid[np.abs(gen.pdgid) == 211])
    )
