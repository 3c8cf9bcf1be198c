"""The OpenAPI document: served without a key, documents every operation of ours with
its error responses (401 and 429 with ``Retry-After`` wherever a key is needed) in the
one error shape; the interactive docs page is served too."""

from __future__ import annotations

import pytest

API = "/api/v1"
OURS = ("/books", "/files", "/jobs", "/voices", "/voice-trials", "/voice-designs", "/balance",
        "/usage", "/ledger")  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_openapi_document_lists_routes_and_their_errors(make_api) -> None:
    api = make_api()
    response = api.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = {p.removeprefix(API): ops for p, ops in document["paths"].items()}
    for prefix in OURS:
        assert any(p.startswith(prefix) for p in paths), prefix
    checked = 0
    for path, operations in paths.items():
        if not path.startswith(OURS):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "422", "429"} <= set(responses), (method, path)
            assert "Retry-After" in responses["429"]["headers"]
            error = responses["401"]["content"]["application/json"]["schema"]["$ref"]
            assert error.endswith("/ErrorBody")
            if "{" in path:
                assert "404" in responses, (method, path)
            checked += 1
    assert checked >= 25
    assert paths["/jobs"]["post"]["responses"].keys() >= {"202", "402", "409"}
    assert paths["/files"]["post"]["responses"].keys() >= {"201", "413"}
    assert api.client.get(f"{API}/docs").status_code == 200
