"""A policy that names the branch that sold it (as real policies do) reaches that company's
insurer: the officer saves the form with "…股份有限公司哈尔滨市分公司" through the real form route,
the determination is issued, and the case is in PICC's console and PICC's claim queue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import aiohttp
import pytest

from kuaichu.accounts.model import Role
from kuaichu.accounts.web import COOKIE
from kuaichu.appkeys import accounts_key, casework_key, db_key
from kuaichu.cases.states import CaseEvent
from kuaichu.storage.casefiles import CaseStore
from tests.casework.seed import CST, case_id, insert_cases
from tests.conftest import ServerFactory
from tests.insurers.seed import PHONES, form, insurer_account, trail_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_a_case_whose_policy_names_a_branch_is_in_that_insurers_console(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(progress_link_code=False)
    app = server.app
    assert app is not None
    engine = app[db_key].engine
    cid = case_id(790)
    started = datetime.now(CST) - timedelta(hours=1)
    await insert_cases(engine, {cid: trail_to(CaseEvent.CLEAR_SCENE, started)})
    async with engine.begin() as conn:
        token = await CaseStore(engine).new_link(conn, cid, "A", PHONES["A"])
    accounts = app[accounts_key]
    supervisor = next(
        o for o in await accounts.list_officers() if o.username == server.supervisor_username
    )
    assert supervisor.role is Role.SUPERVISOR
    _, picc_session = await insurer_account(server, "picc", "picc.branch")
    _, cpic_session = await insurer_account(server, "cpic", "cpic.branch")
    raw = json.loads(form("中国人民财产保险股份有限公司哈尔滨市分公司", "平安财险深圳分公司"))
    async with aiohttp.ClientSession() as http:
        as_supervisor = {"Cookie": f"{COOKIE}={await accounts.open_session(supervisor)}"}
        async with http.put(
            f"{server.url}/api/cases/{cid}/form",
            json={"revision": 0, "form": raw},
            headers=as_supervisor,
        ) as resp:
            assert resp.status == 200, await resp.text()
        await app[casework_key].issue(supervisor, cid)

        async def listed(session: str) -> set[str]:
            async with http.get(
                f"{server.url}/api/insurer/cases", headers={"Cookie": f"{COOKIE}={session}"}
            ) as resp:
                assert resp.status == 200
                return {c["case_id"] for c in (await resp.json())["cases"]}

        assert cid in await listed(picc_session)
        assert cid not in await listed(cpic_session)  # 太平洋: neither party's insurer
        async with http.get(
            f"{server.url}/api/insurer/cases/{cid}",
            headers={"Cookie": f"{COOKIE}={picc_session}"},
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["policyholders"] == ["A"]
        # The party's 定损理赔 reaches both branches' companies.
        async with http.post(f"{server.url}/p/{token}/claim", json={}) as resp:
            assert resp.status == 200, await resp.text()
            claims = {c["insurer"]: c["status"] for c in (await resp.json())["claims"]}
        assert claims == {"picc": "handed_off", "pingan": "handed_off"}
