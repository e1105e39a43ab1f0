"""The case rules the case panel's script applies come from the domain (casepanel/rules.js)."""

from __future__ import annotations

import re
import time

from kuaichu import officer_ui
from kuaichu.cases.form import PARTY_KEYS
from kuaichu.cases.ids import new_case_id
from kuaichu.cases.liability import Liability, check_liabilities
from kuaichu.cases.states import CaseEvent, CaseState, transition


def test_the_panel_gets_the_case_rules_from_the_domain() -> None:
    rules = officer_ui._case_form_context()["case_rules"]
    assert re.fullmatch(rules["case_id_pattern"], new_case_id(time.time()))
    assert not re.fullmatch(rules["case_id_pattern"], "KC2024050IABC234")
    assert rules["party_keys"] == list(PARTY_KEYS)
    # The proposed other side of a two-party case is always a consistent pair.
    assert set(rules["counterpart"]) == {item.value for item in Liability}
    for mine, other in rules["counterpart"].items():
        check_liabilities({"A": Liability(mine), "B": Liability(other)})
    # A correction is a second determination: the state machine allows one there.
    for state in rules["correction_states"]:
        assert transition(CaseState(state), CaseEvent.DETERMINE) is CaseState.DETERMINED
    assert not set(rules["correction_states"]) & set(rules["active_states"])
    assert {CaseState.REPORTED, CaseState.SCENE_CLEARED} <= set(rules["active_states"])
