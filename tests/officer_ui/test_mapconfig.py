"""issue 12: the offline map's configuration (kuaichu.officer_ui.mapconfig) and the cause presets
(kuaichu.cases.presets)."""

from __future__ import annotations

import json

import pytest

from kuaichu.cases.eligibility import AccidentCause
from kuaichu.cases.errors import InvalidServiceConfig
from kuaichu.cases.presets import presets_for_page
from kuaichu.cases.service_area import service_area_from_json
from kuaichu.officer_ui.mapconfig import MAX_RING_POINTS, check_tiles, map_config


def test_a_tile_path_on_this_server_is_taken_and_empty_means_the_sketch() -> None:
    assert check_tiles("  /tiles/{z}/{x}/{y}.png ") == "/tiles/{z}/{x}/{y}.png"
    assert check_tiles("") == ""


@pytest.mark.parametrize(
    "bad",
    [
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",  # off the server: the CSP refuses it
        "//tiles.example/{z}/{x}/{y}.png",
        "/tiles/{z}/{x}.png",  # no {y}
        '/tiles/{z}/{x}/{y}.png" onerror="x',
        "/tiles/{z}/{x}/{y}.png <script>",
        "/" + "a" * 600 + "/{z}/{x}/{y}",
    ],
)
def test_a_bad_tile_template_stops_the_start_up(bad: str) -> None:
    with pytest.raises(InvalidServiceConfig) as err:
        check_tiles(bad)
    assert "--map-tiles" in err.value.message


def test_the_service_area_goes_to_the_page_thinned() -> None:
    ring = [[126.5 + i * 1e-4, 45.7] for i in range(2000)] + [[126.5, 45.8], [126.5, 45.7]]
    area = service_area_from_json(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "南岗区"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    cfg = map_config("", area)
    assert cfg["tiles"] == ""
    (part,) = cfg["area"]
    assert part["name"] == "南岗区" and part["include"] is True
    assert 2 < len(part["ring"]) <= MAX_RING_POINTS
    assert map_config("", None) == {"tiles": "", "area": []}


def test_every_cause_has_a_preset_and_the_two_signal_causes_differ() -> None:
    presets = presets_for_page()
    assert set(presets) == {c.value for c in AccidentCause}
    for preset in presets.values():
        assert "{x}" in preset["description"] and "{y}" in preset["description"]
        assert preset["fault"] and preset["legal_basis"].startswith("《")
    assert "红" in presets["red_light"]["fault"]
    assert "红" not in presets["traffic_signal"]["fault"]
