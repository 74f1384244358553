DROP FUNCTION poc.outbox_claim(integer);
DROP POLICY outbox_relay ON poc.outbox;
