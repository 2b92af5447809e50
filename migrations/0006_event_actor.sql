-- Who did it: every admin action (refund requested, shipment created, product upserted, merchant event
-- redelivered, reconciliation run) records its actor on its event, in the same batch as its change:
-- 'token' for the ADMIN_TOKEN bearer, or the Cloudflare Access identity (its email, or a service token's
-- common_name). NULL for everything else (WeChat's notifications, the cron, the user API).
--
-- Admin events never become merchant events: their identities (`refund:<no>:PROCESSING` and
-- `admin_<what>:<uuid>`) match none of the patterns of the merchant-event trigger (0004), and their
-- verdict is always 'applied'.
ALTER TABLE events ADD COLUMN actor TEXT;
