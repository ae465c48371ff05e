"""The admin API answers only the holder of `credentials.json`'s admin token: loopback is shared
by every local user, and the admin API can inject faults and forget every VM."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from emulator_clients import admin_session, ssl_context

from vmroll.emulator.catalog import Catalog, FaultRule, Faults
from vmroll.emulator.server import Emulator, running_emulator

pytestmark = pytest.mark.integration

ADMIN_REQUESTS = [
    ("GET", "requests"),
    ("GET", "vms"),
    ("PUT", "faults"),
    ("POST", "reset"),
    ("GET", "images"),
    ("POST", "images/marketplace/versions"),
]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic x", "Bearer"])
@pytest.mark.parametrize(("method", "path"), ADMIN_REQUESTS)
async def test_admin_requests_without_the_token_are_refused_and_change_nothing(
    emulator: Emulator, authorization: str | None, method: str, path: str
) -> None:
    emulator.set_faults(Faults(rules=[FaultRule(operation="VirtualMachines_Get", status=500)]))
    faults_before = emulator.context.faults.describe()
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context(emulator))) as s,
        s.request(
            method, f"{emulator.base_url}/_emulator/{path}", headers=headers, json={"rules": []}
        ) as response,
    ):
        body = await response.json()

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "AdminTokenRequired"
    assert emulator.context.faults.describe() == faults_before


async def test_the_token_of_credentials_json_opens_the_admin_api(
    emulator: Emulator, tmp_path: Path
) -> None:
    written = json.loads((tmp_path / "emulator" / "credentials.json").read_text())
    async with (
        admin_session(emulator) as session,
        session.get(f"{emulator.base_url}/_emulator/requests") as response,
    ):
        assert response.status == 200

    assert written["adminToken"] == emulator.credentials.admin_token
    assert len(written["adminToken"]) >= 32
    assert (tmp_path / "emulator" / "credentials.json").stat().st_mode & 0o077 == 0


async def test_a_restart_on_the_same_data_directory_keeps_the_token(
    tmp_path: Path, emulator_catalog: Catalog
) -> None:
    async with running_emulator(tmp_path / "data", catalog=emulator_catalog) as first:
        token = first.credentials.admin_token
    async with running_emulator(tmp_path / "data", catalog=emulator_catalog) as second:
        again = second.credentials.admin_token
    async with running_emulator(tmp_path / "other", catalog=emulator_catalog) as other:
        elsewhere = other.credentials.admin_token

    assert again == token
    assert elsewhere != token
