"""SQL migrations of the `poc` schema (run by `pocdojo migrate`)."""
