"""The POC catalogue service (`/v1/pocs`): register, change, delete and search a tenant's proofs of
concept. `create_app(settings)` builds the ASGI app; the schema `poc` and its migrations live in
`poc_api/migrations`; see the README's "POC catalogue" section for the design."""
