-- Inventory in the master: the movement ledger in a table of its own,
-- with on-hand per lot and site kept from it by a trigger (never written
-- by the application), so the master's on-hand is always the sum of its
-- ledger. Items, lots, categories, suppliers, purchase orders, transfers
-- and stocktakes are documents in sync_records.
--
-- The database holds the guarantee whatever the domain code decides: a
-- movement, once written, never changes and is never deleted.

CREATE TABLE stock_movements (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    item_id     uuid NOT NULL,
    batch_id    uuid NOT NULL,
    site_id     uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('receipt', 'dispense', 'adjustment', 'transfer_out',
                    'transfer_in', 'expiry_write_off', 'stocktake_correction', 'reallocation')),
    quantity    bigint NOT NULL CHECK (quantity <> 0),
    unit_cost   numeric NOT NULL,
    on_day      date NOT NULL,
    doc         jsonb NOT NULL,
    doc_hash    text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX stock_movements_lot ON stock_movements (tenant_id, batch_id, site_id);

CREATE TABLE stock_onhand (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    batch_id  uuid NOT NULL,
    site_id   uuid NOT NULL,
    item_id   uuid NOT NULL,
    quantity  bigint NOT NULL,
    PRIMARY KEY (tenant_id, batch_id, site_id)
);
CREATE INDEX stock_onhand_item ON stock_onhand (tenant_id, item_id);

CREATE FUNCTION stock_onhand_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock_onhand (tenant_id, batch_id, site_id, item_id, quantity)
        VALUES (NEW.tenant_id, NEW.batch_id, NEW.site_id, NEW.item_id, NEW.quantity)
        ON CONFLICT (tenant_id, batch_id, site_id)
        DO UPDATE SET quantity = stock_onhand.quantity + EXCLUDED.quantity;
    RETURN NEW;
END $$;
CREATE TRIGGER stock_movements_onhand AFTER INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_onhand_add();

CREATE FUNCTION stock_movement_never_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'stock movement % is never deleted', OLD.id;
    END IF;
    IF (NEW.doc, NEW.quantity, NEW.batch_id, NEW.site_id) IS DISTINCT FROM (OLD.doc, OLD.quantity, OLD.batch_id, OLD.site_id) THEN
        RAISE EXCEPTION 'stock movement % was recorded and never changes', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER stock_movements_frozen BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movement_never_changes();

ALTER TABLE stock_movements ENABLE ROW LEVEL SECURITY;
ALTER TABLE stock_movements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stock_movements
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON stock_movements TO clinic_app;

ALTER TABLE stock_onhand ENABLE ROW LEVEL SECURITY;
ALTER TABLE stock_onhand FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stock_onhand
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON stock_onhand TO clinic_app;
