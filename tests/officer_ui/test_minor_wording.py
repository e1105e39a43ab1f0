"""Issue 12's minor wording items: what the pages say for an answer or a registry record."""

from __future__ import annotations

from kuaichu.cases.eligibility import IneligibleReason
from kuaichu.officer_ui.i18n import STRINGS


def test_an_unsure_insurance_answer_is_not_told_a_vehicle_is_uninsured() -> None:
    # The driver tapped 没有或不确定 ("No, or not sure"): the page must not assert that a vehicle
    # is uninsured (before: "有车辆未投保交强险"), only that it could not be confirmed.
    assert STRINGS["zh-CN"]["q_insured_no"] == "没有或不确定"
    zh, en = STRINGS["zh-CN"]["elig_uninsured"], STRINGS["en"]["elig_uninsured"]
    assert "未投保" not in zh and "无法确认" in zh and "122" in zh
    assert "could not confirm" in en and "122" in en
    assert IneligibleReason.UNINSURED.value == "uninsured"  # the key is elig_<reason>


def test_registry_reasons_name_the_dates_of_the_record() -> None:
    # Filled from the verdict's detail (kuaichu.verification.rules puts valid_until/valid_from
    # there) by the case panel: "交强险已于 2019-12-31 到期", not only "交强险已过期".
    for lang in ("zh-CN", "en"):
        table = STRINGS[lang]
        assert "{valid_until}" in table["vr_policy_lapsed"]
        assert "{valid_until}" in table["vr_expired"]
        assert "{valid_from}" in table["vr_policy_not_yet_valid"]
        assert "{declared}" in table["vr_type_mismatch"]
        assert "{registered}" in table["vr_type_mismatch"]
