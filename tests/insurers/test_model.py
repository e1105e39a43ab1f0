"""The configured insurers and the matching of a case form's insurer text to one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kuaichu.errors import InvalidMessage
from kuaichu.insurers.model import DEFAULT_INSURERS, Insurer, InsurerDirectory, load_insurers
from kuaichu.verification import demo


def test_every_company_of_the_demo_registry_matches_a_default_insurer() -> None:
    directory = load_insurers("")
    names = [name for name, _, _ in demo._INSURERS]
    unmatched = [n for n in names if directory.match(n) is None]
    assert unmatched == []
    assert directory.match("中国人保财险") is directory.get("picc")
    assert len(directory) == len(DEFAULT_INSURERS)


def test_a_form_text_matches_with_suffix_spaces_and_full_width_letters() -> None:
    directory = load_insurers("")
    picc = directory.require("picc")
    texts = ("中国人民财产保险股份有限公司", " 中国人民财产保险 ", "ＰＩＣＣ", "picc", "人保财险")
    for text in texts:
        assert directory.match(text) is picc, text
    assert directory.match("") is None
    assert directory.match("不存在保险") is None
    # 太平 and 太平洋 are two companies: no prefix matching.
    assert directory.match("太平财险") is directory.get("taiping")
    assert directory.match("太平洋产险") is directory.get("cpic")


def test_inline_json_file_json_and_toml(tmp_path: Path) -> None:
    inline = load_insurers(
        '{"acme": "阿克米财产保险", "zz": {"name": "甲乙保险", "aliases": ["甲乙"]}}'
    )
    assert [i.code for i in inline] == ["acme", "zz"]
    assert inline.match("甲乙") is inline.get("zz")
    path = tmp_path / "insurers.json"
    path.write_text(json.dumps({"acme": "阿克米财产保险"}, ensure_ascii=False), encoding="utf-8")
    assert load_insurers(str(path)).require("acme").name == "阿克米财产保险"
    toml = tmp_path / "insurers.toml"
    toml.write_text('acme = "阿克米财产保险"\n[zz]\nname = "甲乙保险"\naliases = ["甲乙"]\n')
    assert load_insurers(str(toml)).match("甲乙保险") is not None


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("{}", "non-empty"),
        ('{"PICC": "x"}', "lower-case"),
        ('{"a1": ""}', "1-64 characters"),
        ('{"aa": {"name": "x", "other": 1}}', "name and aliases"),
        ('{"aa": {"name": "x", "aliases": "y"}}', "aliases must be a list"),
        ('{"aa": "同名", "bb": "同名"}', "share the name"),
        ("{not json", "not valid JSON"),
        ("/nonexistent/insurers.json", "cannot read"),
    ],
)
def test_bad_settings_say_what_is_wrong(setting: str, says: str) -> None:
    with pytest.raises(InvalidMessage, match=says):
        load_insurers(setting)


def test_require_names_the_configured_codes() -> None:
    directory = InsurerDirectory((Insurer("aa", "甲保险"),))
    with pytest.raises(InvalidMessage, match=r"unknown insurer 'zz' \(configured: aa\)"):
        directory.require("zz")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("中国人民财产保险股份有限公司哈尔滨市分公司", "picc"),
        ("中国人民财产保险股份有限公司黑龙江省分公司", "picc"),
        ("中国人民财产保险股份有限公司哈尔滨市南岗支公司", "picc"),
        ("中国人民财产保险股份有限公司深圳市分公司营业部", "picc"),
        ("中国人保财险深圳市福田区营业部", "picc"),
        ("PICC P&C Harbin Branch", "picc"),
        ("PICC Harbin Branch", "picc"),
        ("PICC P&C Co., Ltd. Harbin Sub-branch", "picc"),
        ("平安财险深圳分公司", "pingan"),
        ("中国平安财产保险股份有限公司黑龙江分公司", "pingan"),
        ("中国平安财产保险股份有限公司深圳中心支公司", "pingan"),
        ("中国人寿财产保险股份有限公司北京市分公司", "chinalife"),
        ("太平财产保险有限公司深圳分公司", "taiping"),
        ("太平洋产险宝安县支公司", "cpic"),
        ("中国大地财产保险股份有限公司上海市浦东新区支公司", "ccic"),
    ],
)
def test_a_branch_of_a_configured_company_matches_the_company(text: str, code: str) -> None:
    directory = load_insurers("")
    assert directory.match(text) is directory.get(code), text
    assert directory.require(code).matches(text)


@pytest.mark.parametrize(
    "text",
    [
        # Another company whose name shares a prefix with a configured one, with a branch.
        "中国人民人寿保险股份有限公司哈尔滨市分公司",  # PICC Life, not PICC P&C
        "PICC Life Insurance Harbin Branch",
        "PICC Life Harbin Branch",
        "太平洋财险深圳分公司",  # not a configured spelling of cpic, and not 太平 either
        "平安银行深圳分公司",  # a bank, not the insurer
        "中国人民财产保险股份有限公司人寿保险分公司",  # an insurance word after the company
        "深圳分公司",
        "分公司",
        "Branch",
    ],
)
def test_a_branch_of_another_company_matches_no_insurer(text: str) -> None:
    directory = load_insurers("")
    assert directory.match(text) is None, text
    assert not any(insurer.matches(text) for insurer in directory)


def test_a_branch_of_a_configured_company_is_not_taken_for_a_prefix_sibling() -> None:
    directory = load_insurers('{"taiping": "太平保险", "cpic": "太平洋保险", "pa": "平安保险"}')
    assert directory.match("太平洋保险深圳分公司") is directory.get("cpic")
    assert directory.match("太平保险深圳分公司") is directory.get("taiping")
    assert directory.match("平安保险深圳分公司") is directory.get("pa")
    assert directory.match("太平安保险深圳分公司") is None
