-- Every grant goes with its table: a replay video still queued with one fails and is asked again.
DROP TABLE dojo.history_grants;
