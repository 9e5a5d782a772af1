-- Narrow the runtime role (review): it may not rewrite its own tenant's plan
-- or counters, nor change audit trails or the change feed once written; the
-- security-definer functions are not callable by everyone.
REVOKE UPDATE ON tenants FROM clinic_app;
REVOKE UPDATE ON audit_events, change_feed FROM clinic_app;
REVOKE EXECUTE ON FUNCTION tenant_id_for_slug(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION enforce_patient_limit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_id_for_slug(text) TO clinic_app;
