"""The POC service verifies tokens through the shared memo (`runtime.auth.VerifiedTokens`)."""

from __future__ import annotations

from runtime.auth import VerifiedTokens
from tests.poc.conftest import PocHarness


async def test_the_service_memoizes_verified_tokens(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    memo = pocs.poc_app.state.verifier
    assert isinstance(memo, VerifiedTokens)
    before = len(memo)
    for _ in range(3):
        assert (await pocs.search(admin)).status_code == 200
    assert len(memo) == before + 1  # one entry for the token, whatever the number of requests
    refused = await pocs.http.get("/v1/pocs", headers={"Authorization": "Bearer not.a.token"})
    assert refused.status_code == 401 and len(memo) == before + 1
