"""The POC service verifies tokens through the shared memo (`runtime.auth.VerifiedTokens`), behind the
check of the token's account (`runtime.auth.CurrentPrincipals`), whose answers are memoized too."""

from __future__ import annotations

from runtime.auth import CurrentPrincipals, VerifiedTokens
from runtime.root import root_of
from tests.poc.conftest import PocHarness


async def test_the_service_memoizes_verified_tokens(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    current = root_of(pocs.poc_app).verifier
    assert isinstance(current, CurrentPrincipals)
    memo, statuses = current.inner, current.statuses
    assert isinstance(memo, VerifiedTokens)
    before, known = len(memo), len(statuses)
    for _ in range(3):
        assert (await pocs.search(admin)).status_code == 200
    assert len(memo) == before + 1  # one entry for the token, whatever the number of requests
    assert len(statuses) == known + 1  # and one for its account's sign-in
    refused = await pocs.http.get("/v1/pocs", headers={"Authorization": "Bearer not.a.token"})
    assert refused.status_code == 401 and len(memo) == before + 1 and len(statuses) == known + 1
