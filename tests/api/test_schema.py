"""schemathesis against the OpenAPI document the server serves: for every operation it sends
generated requests (valid and invalid) with a valid API key and checks that no answer is a
server error and every answer fits the document (status, content type, headers, body).

The server runs in a thread of its own (schemathesis calls synchronously), seeded with one
determined case of the key's insurer and one of another insurer; each operation is also
tried on the key's own case, so the 200 answers are checked too, not only the 404s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kuaichu.appkeys import api_keys_key
from tests.api.cases import determined_case, id_number, party
from tests.casework.seed import case_id
from tests.support.servers import InProcessServer, start_in_process

OURS = case_id(8101)
THEIRS = case_id(8102)


@dataclass
class Threaded:
    server: InProcessServer
    loop: asyncio.AbstractEventLoop
    token: str


async def _seed(data_dir: Path) -> tuple[InProcessServer, str]:
    server = await start_in_process(data_dir)
    app = server.app
    assert app is not None
    a = dict(licence=id_number("11010119800101001"), phone="13900000001", liability="major")
    b = dict(licence=id_number("11010119800202002"), phone="13900000002", liability="minor")
    await determined_case(
        app,
        OURS,
        [
            party("A", "甲", "京A·11111", "人保财险", **a),
            party("B", "乙", "京A·22222", "平安产险", **b),
        ],
    )
    await determined_case(
        app,
        THEIRS,
        [
            party("A", "丙", "京B·33333", "平安产险", **a),
            party("B", "丁", "京B·44444", "大地保险", **b),
        ],
    )
    _, token = await app[api_keys_key].create("picc")
    return server, token


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Threaded]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-server", daemon=True)
    thread.start()
    data = tmp_path_factory.mktemp("schema") / "data"
    server, token = asyncio.run_coroutine_threadsafe(_seed(data), loop).result(120)
    try:
        yield Threaded(server, loop, token)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        problems = server.problems()
        assert not problems, "the server raised:\n" + "\n---\n".join(problems)


@pytest.fixture(scope="module")
def api_schema(threaded: Threaded) -> Any:
    served = requests.get(threaded.server.url + "/api/v1/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/json")
    schema = schemathesis.openapi.from_dict(served.json())
    schema.config.update(base_url=threaded.server.url)
    return schema


# Per operation and variant: bounded so the whole run stays well under a minute.
EXAMPLES = 10
# Operations whose valid-looking requests may be refused on meaning, which a schema cannot say:
# a cursor this server did not give, a claim status that needs an amount or a reason, a zero
# amount. They still must answer a documented 4xx, never a 5xx or an undocumented shape.
REFUSED_ON_MEANING = {"listChangedCases", "updateClaim"}


def _examples(
    strategy: Any,
    label: str,
    excluded: list[Any],
    auth: dict[str, str],
    tried: dict[str, set[int]],
) -> Any:
    """A hypothesis test of one operation's strategy: each case sent and checked."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=auth, timeout=30, excluded_checks=excluded)
        tried.setdefault(label, set()).add(response.status_code)

    return run


def test_the_api_answers_as_its_document_says(api_schema: Any, threaded: Threaded) -> None:
    """Every operation, three ways: generated requests that fit the document, the same on the
    seeded case of the key's insurer (so the 200 answers are checked, not only the 404s), and
    requests that do not fit it. (schemathesis's pytest loader does not run on pytest 9, so
    the operations' strategies are driven by hypothesis here.)"""
    auth = {"Authorization": f"Bearer {threaded.token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 8
    tried: dict[str, set[int]] = {}

    for operation in operations:
        label = operation.label
        excluded = (
            [positive_data_acceptance]
            if operation.definition.raw.get("operationId") in REFUSED_ON_MEANING
            else []
        )
        has_case = any(p.name == "case_id" for p in operation.path_parameters)
        variants = [operation.as_strategy(GenerationMode.POSITIVE)]
        if has_case:
            variants.append(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"case_id": OURS})
            )
        variants.append(operation.as_strategy(GenerationMode.NEGATIVE))
        for strategy in variants:
            _examples(strategy, label, excluded, auth, tried)()

    # The seeded case was read (200) through every read operation (it has a determination,
    # no agreement), and nothing was a 5xx.
    for label, statuses in tried.items():
        assert not any(code >= 500 for code in statuses), (label, statuses)
        if label.startswith("GET /api/v1/cases/{case_id}") and "{seq}" not in label:
            if label.endswith("agreement.pdf"):
                continue
            assert 200 in statuses, (label, statuses)


def test_the_docs_page_is_served_from_the_document(threaded: Threaded) -> None:
    page = requests.get(threaded.server.url + "/api/v1/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for text in ("/api/v1/cases/{case_id}/evidence/{seq}", "updateClaim", "Kuaichu-Signature"):
        assert text in page.text
    css = requests.get(threaded.server.url + "/api/v1/docs.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    # Served under the pages' strict policy: no script, styles from this origin only.
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
