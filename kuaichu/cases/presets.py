"""The case form's text presets per accident cause (issue 12): what an officer would otherwise
type for the standard two-vehicle case of each of the seven causes (DOMAIN.md).

One preset fills the description, the fault of the party at fault and the legal basis, and
sets the two liabilities (full / none): the officer picks "A caused it" or "B caused it" and
corrects the text if the case differs. ``{x}`` is the party at fault, ``{y}`` the other one.

The two signal causes do not overlap: ``red_light`` is a red signal light passed; the
``traffic_signal`` cause covers every other signal (signs, road markings, a directing officer),
which is also how its label reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kuaichu.cases.eligibility import AccidentCause

# The procedure's articles, as the determination cites them by default
# (kuaichu.casework.determination.LEGAL_BASIS_DEFAULT); the cause's own article comes first.
_PROCEDURE: Final = (
    "《中华人民共和国道路交通安全法》第七十条第二款、《道路交通事故处理程序规定》第十九条、"
    "第二十条、第六十条"
)


@dataclass(frozen=True, slots=True)
class CausePreset:
    description: str  # with {x} (the party at fault) and {y}
    fault: str
    article: str

    def legal_basis(self) -> str:
        return f"{self.article}、{_PROCEDURE}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "fault": self.fault,
            "legal_basis": self.legal_basis(),
        }


PRESETS: Final[Mapping[AccidentCause, CausePreset]] = {
    AccidentCause.REAR_END: CausePreset(
        "{x}车行驶中未与前车保持足以采取紧急制动措施的安全距离，追尾前方{y}车，两车受损。",
        "未与前车保持安全距离",
        "《中华人民共和国道路交通安全法》第四十三条",
    ),
    AccidentCause.LANE_CHANGE: CausePreset(
        "{x}车变更车道时影响相关车道内{y}车正常行驶，两车发生碰撞，两车受损。",
        "变更车道时影响相关车道内机动车正常行驶",
        "《中华人民共和国道路交通安全法实施条例》第四十四条第二款",
    ),
    AccidentCause.FAILURE_TO_YIELD: CausePreset(
        "{x}车通过路口时未按规定让行，与{y}车发生碰撞，两车受损。",
        "未按规定让行",
        "《中华人民共和国道路交通安全法》第四十四条",
    ),
    AccidentCause.TRAFFIC_SIGNAL: CausePreset(
        "{x}车未按交通标志、标线或交通警察的指挥通行，与{y}车发生碰撞，两车受损。",
        "未按交通标志、标线或交通警察的指挥通行",
        "《中华人民共和国道路交通安全法》第三十八条",
    ),
    AccidentCause.WRONG_WAY: CausePreset(
        "{x}车逆向行驶，与{y}车发生碰撞，两车受损。",
        "逆向行驶",
        "《中华人民共和国道路交通安全法》第三十五条",
    ),
    AccidentCause.REVERSING: CausePreset(
        "{x}车倒车时未察明车后情况确认安全，与{y}车发生碰撞，两车受损。",
        "倒车时未察明车后情况确认安全",
        "《中华人民共和国道路交通安全法实施条例》第五十条",
    ),
    AccidentCause.RED_LIGHT: CausePreset(
        "{x}车在红色信号灯亮时通过，与{y}车发生碰撞，两车受损。",
        "违反交通信号灯通行（闯红灯）",
        "《中华人民共和国道路交通安全法》第三十八条、"
        "《中华人民共和国道路交通安全法实施条例》第三十八条",
    ),
}


def presets_for_page() -> dict[str, dict[str, Any]]:
    """Every cause's preset by the cause's value, as the case panel's script takes them."""
    return {cause.value: preset.to_dict() for cause, preset in PRESETS.items()}
