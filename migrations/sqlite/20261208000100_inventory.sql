-- Inventory: items, lots and the movement ledger in tables of their own,
-- with the typed columns stock lists, FEFO and alerts are queried by, the
-- whole record in `doc`. On-hand per lot and site is kept by triggers from
-- the ledger (never written by the application): whatever movements this
-- desk holds — its own, not yet synced, and every other desk's — it is
-- their sum. Categories, suppliers, purchase orders, transfers and
-- stocktakes are documents in `records`.

CREATE TABLE stock_items (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    sku           TEXT NOT NULL UNIQUE,
    barcode       TEXT,
    name          TEXT NOT NULL,
    category_id   TEXT,
    reorder_point INTEGER NOT NULL,
    discontinued  INTEGER NOT NULL,
    doc           TEXT NOT NULL       -- JSON clinic_core::inventory::StockItem
);
CREATE INDEX stock_items_barcode ON stock_items (barcode) WHERE barcode IS NOT NULL;
CREATE INDEX stock_items_name ON stock_items (name COLLATE NOCASE);

CREATE TABLE stock_batches (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    item_id   TEXT NOT NULL,
    lot       TEXT NOT NULL,
    expiry    TEXT,                   -- YYYY-MM-DD, the last day of use
    unit_cost TEXT NOT NULL,          -- decimal
    doc       TEXT NOT NULL           -- JSON clinic_core::inventory::StockBatch
);
CREATE INDEX stock_batches_item ON stock_batches (item_id, expiry);
CREATE INDEX stock_batches_expiry ON stock_batches (expiry) WHERE expiry IS NOT NULL;

CREATE TABLE stock_movements (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    item_id         TEXT NOT NULL,
    batch_id        TEXT NOT NULL,
    site_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    on_day          TEXT NOT NULL,
    at              TEXT NOT NULL,
    prescription_id TEXT,
    invoice_id      TEXT,
    doc             TEXT NOT NULL     -- JSON clinic_core::inventory::StockMovement
);
CREATE INDEX stock_movements_item ON stock_movements (item_id, at);
CREATE INDEX stock_movements_lot ON stock_movements (batch_id, site_id, at);
CREATE INDEX stock_movements_prescription ON stock_movements (prescription_id) WHERE prescription_id IS NOT NULL;
CREATE INDEX stock_movements_invoice ON stock_movements (invoice_id) WHERE invoice_id IS NOT NULL;

CREATE TABLE stock_onhand (
    batch_id TEXT NOT NULL,
    site_id  TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (batch_id, site_id)
) WITHOUT ROWID;
CREATE INDEX stock_onhand_site ON stock_onhand (site_id, item_id, quantity);
CREATE INDEX stock_onhand_negative ON stock_onhand (quantity) WHERE quantity < 0;

CREATE TRIGGER stock_movements_in AFTER INSERT ON stock_movements BEGIN
    INSERT INTO stock_onhand (batch_id, site_id, item_id, quantity)
        SELECT NEW.batch_id, NEW.site_id, NEW.item_id, 0
        WHERE NOT EXISTS (SELECT 1 FROM stock_onhand WHERE batch_id = NEW.batch_id AND site_id = NEW.site_id);
    UPDATE stock_onhand SET quantity = quantity + NEW.quantity
        WHERE batch_id = NEW.batch_id AND site_id = NEW.site_id;
END;
CREATE TRIGGER stock_movements_changed AFTER UPDATE OF quantity, batch_id, site_id ON stock_movements BEGIN
    UPDATE stock_onhand SET quantity = quantity - OLD.quantity
        WHERE batch_id = OLD.batch_id AND site_id = OLD.site_id;
    INSERT INTO stock_onhand (batch_id, site_id, item_id, quantity)
        SELECT NEW.batch_id, NEW.site_id, NEW.item_id, 0
        WHERE NOT EXISTS (SELECT 1 FROM stock_onhand WHERE batch_id = NEW.batch_id AND site_id = NEW.site_id);
    UPDATE stock_onhand SET quantity = quantity + NEW.quantity
        WHERE batch_id = NEW.batch_id AND site_id = NEW.site_id;
END;
-- A movement is never deleted, except one the server refused (discarded
-- through sync_discard, like every kind): then it leaves the sum.
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
WHEN NOT EXISTS (SELECT 1 FROM sync_discard WHERE id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'stock movements are corrected by new movements, never deleted'); END;
CREATE TRIGGER stock_movements_out AFTER DELETE ON stock_movements BEGIN
    UPDATE stock_onhand SET quantity = quantity - OLD.quantity
        WHERE batch_id = OLD.batch_id AND site_id = OLD.site_id;
END;
