-- Enrollment is safe to retry (enrollment.rs): the device a code enrolled may redeem
-- the same code again, for a new token, as long as the token it was given was never
-- presented — until then the phone may never have received the answer (a killed app, a
-- lost response). `token_used_ms` is when the device's current token was first
-- presented on a request. Devices enrolled before this migration count as used.
ALTER TABLE devices ADD COLUMN token_used_ms INTEGER;
UPDATE devices SET token_used_ms = COALESCE(last_seen_ms, enrolled_ms);
