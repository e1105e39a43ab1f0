"""Documents tests: content dicts as the lead stores them (a typical two-party rear-end case
and a long one), and the command-line tools a person would use to look at a PDF."""

from __future__ import annotations

import copy
import hashlib
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

NUMBER = "京公交认字[2026]第KC0001234号"
CODE = "7KQ2MX9D"
VERIFY_URL = (
    "https://kuaichu.example/verify?n=" + urllib.parse.quote(NUMBER, safe="") + f"&c={CODE}"
)


def _sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def typical() -> dict[str, Any]:
    return {
        "number": NUMBER,
        "version": 1,
        "supersedes": None,
        "superseded": False,
        "issued_at": "2026-11-22T10:31:05+08:00",
        "verification_code": CODE,
        "verify_url": VERIFY_URL,
        "authority": "某市公安局交通警察支队",
        "case_id": "KC20261122ABC234",
        "accident": {
            "occurred_at": "2026-11-22T09:58:00+08:00",
            "address": "北京市朝阳区建国路88号附近",
            "lat": 39.9087,
            "lng": 116.4605,
            "cause": "rear_end",
            "cause_text": "追尾",
            "description": "A车沿建国路由东向西行驶至88号附近时，未与前方同向行驶的B车保持"
            "安全距离，车头与B车车尾相撞，造成两车不同程度损坏，无人员受伤。",
        },
        "parties": [
            {
                "key": "A",
                "name": "张伟",
                "phone": "138****5678",
                "licence_no": "110105********1234",
                "plate": "京A·12345",
                "vehicle_type": "小型轿车",
                "insurer": "中国人保财险",
                "policy_no": "PDZA202611000001234567",
                "liability": "full",
                "liability_text": "全部责任",
                "fault": "未与前车保持安全距离",
            },
            {
                "key": "B",
                "name": "王芳",
                "phone": "139****4321",
                "licence_no": "110108********5678",
                "plate": "京N·D12345",
                "vehicle_type": "小型新能源轿车",
                "insurer": "平安产险",
                "policy_no": "ADLA202611000007654321",
                "liability": "none",
                "liability_text": "无责任",
                "fault": "",
            },
        ],
        "legal_basis": "《中华人民共和国道路交通安全法》第四十三条\n"
        "《中华人民共和国道路交通安全法实施条例》第九十一条\n"
        "《道路交通事故处理程序规定》第十九条、第六十条",
        "evidence": [
            {
                "kind": "side_by_side",
                "kind_text": "并排同框",
                "name": "side-by-side-01.jpg",
                "sha256": _sha("side"),
                "taken_at": "2026-11-22T10:02:11+08:00",
            },
            {
                "kind": "plate",
                "kind_text": "号牌",
                "name": "plate-01.jpg",
                "sha256": _sha("plate-01"),
                "taken_at": "2026-11-22T10:03:40+08:00",
            },
            {
                "kind": "plate",
                "kind_text": "号牌",
                "name": "plate-02.jpg",
                "sha256": _sha("plate-02"),
                "taken_at": "2026-11-22T10:04:02+08:00",
            },
            {
                "kind": "damage",
                "kind_text": "碰撞部位",
                "name": "damage-01.jpg",
                "sha256": _sha("damage"),
                "taken_at": "2026-11-22T10:05:30+08:00",
            },
            {
                "kind": "recording",
                "kind_text": "通话录像",
                "name": "call-KC20261122ABC234.webm",
                "sha256": _sha("recording"),
                "taken_at": "2026-11-22T10:12:00+08:00",
            },
        ],
        "officer": {"name": "李警官", "badge": "010123"},
        "review_notice": "当事人对本认定有异议的，可以自本认定书送达之日起三日内，向某市公安局"
        "交通警察支队书面申请复核。复核以一次为限。",
    }


def long_document() -> dict[str, Any]:
    """2,000 characters of description and 40 evidence items: several PDF pages."""
    content = copy.deepcopy(typical())
    sentence = "A车驾驶人在通过路口前未减速观察，与前方等待信号灯的B车发生追尾碰撞。"
    text = (sentence * (2000 // len(sentence) + 1))[:1990] + "结尾标记句。"
    content["accident"]["description"] = text
    kinds = [("plate", "号牌"), ("vehicle", "车辆"), ("damage", "碰撞部位"), ("scene", "现场")]
    evidence = []
    for i in range(39):
        kind, kind_text = kinds[i % len(kinds)]
        evidence.append(
            {
                "kind": kind,
                "kind_text": kind_text,
                "name": f"{kind}-{i + 1:02d}.jpg",
                "sha256": _sha(f"e{i}"),
                "taken_at": f"2026-11-22T10:{i % 60:02d}:00+08:00",
            }
        )
    evidence.append(
        {
            "kind": "recording",
            "kind_text": "通话录像",
            "name": "call-KC20261122ABC234.webm",
            "sha256": _sha("recording"),
            "taken_at": "2026-11-22T10:40:00+08:00",
        }
    )
    content["evidence"] = evidence
    return content


@pytest.fixture
def typical_content() -> dict[str, Any]:
    return typical()


@pytest.fixture
def long_content() -> dict[str, Any]:
    return long_document()


PACKAGES = {
    "pdftotext": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "pdfinfo": "poppler-utils",
    "pdffonts": "poppler-utils",
    "zbarimg": "zbar-tools",
}


class Tools:
    """What a person uses to look at a PDF: poppler's tools, and zbar to scan a QR code."""

    def run(self, name: str, *args: str | Path, check: bool = True) -> str:
        exe = shutil.which(name)
        if exe is None:
            pytest.fail(f"{name} is missing: install it with `apt-get install {PACKAGES[name]}`")
        proc = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{name} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def pages(self, pdf: Path) -> int:
        for line in self.run("pdfinfo", pdf).splitlines():
            if line.startswith("Pages:"):
                return int(line.split()[1])
        raise AssertionError("pdfinfo printed no page count")

    def text(self, pdf: Path, page: int | None = None) -> str:
        pages = ["-f", str(page), "-l", str(page)] if page else []
        return self.run("pdftotext", "-layout", *pages, pdf, "-")

    def flat(self, pdf: Path, page: int | None = None) -> str:
        """The text without any whitespace: layout spacing and line breaks do not matter."""
        return "".join(self.text(pdf, page).split())

    def fonts(self, pdf: Path) -> str:
        return self.run("pdffonts", pdf)

    def to_png(
        self, pdf: Path, out_dir: Path, dpi: int = 60, first: int | None = None
    ) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        pages = ["-f", str(first), "-l", str(first)] if first else []
        self.run("pdftoppm", "-r", str(dpi), "-png", *pages, pdf, out_dir / "page")
        return sorted(out_dir.glob("page-*.png"))

    def decode_qr(self, png: Path) -> list[str]:
        out = self.run(
            "zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png, check=False
        )
        return [line for line in out.splitlines() if line]

    @staticmethod
    def ink(png: Path) -> float:
        """Share of pixels darker than mid-grey: 0 for a blank page."""
        with Image.open(png) as im:
            grey = im.convert("L")
            hist = grey.histogram()
            return sum(hist[:128]) / (grey.width * grey.height)


@pytest.fixture(scope="session")
def tools() -> Tools:
    return Tools()
