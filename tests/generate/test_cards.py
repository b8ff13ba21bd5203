from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from jetscale.generate.cards import (
    CardError,
    DelphesCard,
    ParametricCard,
    available_cards,
    load_card,
)


def _card_text(name: str = "cms_parametric") -> str:
    return (resources.files("jetscale.generate") / "cards" / f"{name}.toml").read_text()


def test_shipped_cards_load():
    names = available_cards()
    assert {"cms", "cms_parametric", "coarse", "atlas_like"} <= set(names)
    for name in names:
        card = load_card(name)
        assert card.name == name
        if isinstance(card, ParametricCard):
            assert 0 < card.tracking.efficiency <= 1


def test_cms_card_is_the_jetclass_delphes_card():
    """The numbers a reader checks against delphes_card.tcl, read back from the card."""
    card = load_card("cms")
    assert isinstance(card, DelphesCard)
    assert (card.solenoid.radius, card.solenoid.half_length, card.solenoid.bz) == (
        1290.0,
        3000.0,
        3.8,
    )
    hadron = card.tracking["charged_hadron"].table
    assert hadron.lookup(0.5, 0.5) == 0.70 and hadron.lookup(2.0, 5.0) == 0.85
    assert card.track_smearing.d0.lookup(0.1, 200.0) == 0.0110  # last bin, |eta| <= 0.9
    assert card.track_smearing.dz.lookup(2.0, 0.2) == 2.1717
    # ECal: 172 barrel + 2 x 84 endcap rows of 360 towers, 22 HF rows of 36.
    assert card.ecal.segmentation.n_towers == (172 + 168) * 360 + 22 * 36
    assert card.hcal.segmentation.n_towers == 38 * 72 + 38 * 36 + 4 * 18
    assert (card.ecal.energy_min, card.ecal.energy_significance_min) == (0.5, 2.0)
    assert (card.hcal.energy_min, card.hcal.energy_significance_min) == (1.0, 1.0)


def test_cms_parametric_card_values_match_the_file():
    raw = tomllib.loads(_card_text("cms_parametric"))
    card = load_card("cms_parametric")
    assert card.tracking.pt_resolution_const == raw["tracking"]["pt_resolution_const"]
    assert card.ecal.stochastic == raw["ecal"]["stochastic"]
    assert card.impact_parameter.d0_slope == raw["impact_parameter"]["d0_slope"]


def test_second_card_is_clearly_different():
    cms, coarse = load_card("cms_parametric"), load_card("coarse")
    assert coarse.tracking.pt_resolution_const >= 2 * cms.tracking.pt_resolution_const
    assert coarse.ecal.stochastic >= 2 * cms.ecal.stochastic
    assert coarse.impact_parameter.d0_const >= 2 * cms.impact_parameter.d0_const


def test_unknown_card_lists_available():
    with pytest.raises(ValueError, match=r"unknown detector card 'nope'.*cms.*coarse"):
        load_card("nope")


def test_missing_card_file(tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        load_card(str(tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("efficiency = 0.95 ", "efficiency = 1.5 ", r"tracking\.efficiency.*probability"),
        ("stochastic = 0.05 ", 'stochastic = "big" ', r"ecal\.stochastic.*finite number"),
        ("d0_const = 0.010", "d0_const = -0.010", r"impact_parameter\.d0_const.*non-negative"),
        ("muon_eta_max = 2.4", "muon_eta_mx = 2.4", r"missing key 'particle_id\.muon_eta_max'"),
        ("eta_max = 2.5  ", "eta_max = 2.5\nextra = 1  ", r"unknown key 'tracking\.extra'"),
        ('name = "cms_parametric"', 'name = "cms', r"not valid TOML"),
        ('model = "parametric"', 'model = "geant4"', r"'model' must be 'parametric' or 'delphes'"),
    ],
)
def test_malformed_card_names_file_and_key(tmp_path, old, new, message):
    text = _card_text("cms_parametric")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CardError, match=message) as info:
        load_card(str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # an inconsistent tower grid: an eta edge twice
        (
            "offset = 1.4964, step = 0.0174, first = 1,",
            "offset = 1.4790, step = 0.0174, first = 1,",
            r"\[ecal\]: .*eta edge",
        ),
        # a field that is no number
        ("bz = 3.8", 'bz = "strong"', r"\[propagator\]"),
        # a resolution block with a misspelt coefficient
        ("f2 = 0.64", "f_2 = 0.64", r"\[ecal\]: .*resolution region 0"),
        # a table whose values do not match its edges
        (
            "[0.70, 0.95],",
            "[0.70, 0.95, 0.99],",
            r"\[tracking\.charged_hadron\]: table 'tracking\.charged_hadron'",
        ),
        ("[track_smearing.dz]", "[track_smearing.dzz]", r"missing key 'track_smearing\.dz'"),
        # NaN thresholds would silently turn every comparison false
        ("energy_min = 0.5 ", "energy_min = nan ", r"\[ecal\]: energy_min must be a finite number"),
        ("bz = 3.8", 'bz = "3.8"', r"\[propagator\]: bz must be a finite number"),
        (
            "310 = 0.3 ",
            "310 = 1.3 ",
            r"energy_fraction\.310 must be a finite number in \[0\.0, 1\.0\]",
        ),
        ("neutral_pid = 22", "neutral_pid = 5", r"neutral_pid must be 22 \(photons\) or 0"),
    ],
)
def test_malformed_delphes_card_names_file_and_key(tmp_path, old, new, message):
    text = _card_text("cms")
    assert old in text, old
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CardError, match=message) as info:
        load_card(str(path))
    assert str(path) in str(info.value)
