from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from jetscale.generate.cards import CardError, available_cards, load_card


def _card_text(name: str = "cms") -> str:
    return (resources.files("jetscale.generate") / "cards" / f"{name}.toml").read_text()


def test_shipped_cards_load():
    names = available_cards()
    assert {"cms", "coarse"} <= set(names)
    for name in names:
        card = load_card(name)
        assert card.name == name
        assert 0 < card.tracking.efficiency <= 1


def test_cms_card_values_match_the_file():
    raw = tomllib.loads(_card_text("cms"))
    card = load_card("cms")
    assert card.tracking.pt_resolution_const == raw["tracking"]["pt_resolution_const"]
    assert card.ecal.stochastic == raw["ecal"]["stochastic"]
    assert card.impact_parameter.d0_slope == raw["impact_parameter"]["d0_slope"]


def test_second_card_is_clearly_different():
    cms, coarse = load_card("cms"), load_card("coarse")
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
        ('name = "cms"', 'name = "cms', r"not valid TOML"),
    ],
)
def test_malformed_card_names_file_and_key(tmp_path, old, new, message):
    text = _card_text("cms")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CardError, match=message) as info:
        load_card(str(path))
    assert str(path) in str(info.value)
