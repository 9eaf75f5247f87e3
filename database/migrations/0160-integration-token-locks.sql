-- The doors an integration token may open (issue 12: Node-RED's "command out" unlock). A token with the scope
-- unlock:write names them at creation (`wesprint tokens create … --locks og2-protel-01,og3-buero-01-lock`):
-- space ids or lock device ids of the site, separated by a space. NULL: none, the value of every token from
-- before, and of every token without unlock:write, so no existing token opens a door.
ALTER TABLE integration_tokens ADD COLUMN locks TEXT CHECK (locks IS NULL OR length(locks) BETWEEN 1 AND 4096);
