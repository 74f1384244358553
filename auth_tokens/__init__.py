"""The access-token verifier every service uses, standing alone (it imports nothing of ours).

`auth_tokens.verifier` turns a bearer token into a `Principal`; the shared runtime's auth dependency wraps
it, and the identity service (the issuer in development) feeds it its key ring.
"""
