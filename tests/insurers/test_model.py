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
