//! Storage of records of any kind, for the sync kernel: each kind is kept
//! by a [`Projection`] its domain registers (its own tables, indexes and
//! constraints), or, when it needs nothing more, as a document in the
//! generic `records` table. The kernel finds, writes, discards and
//! checksums records through here and never names a kind.

use crate::{Db, StoreResult};
use clinic_core::sync::registry::ProjectionList;
use clinic_core::sync::{doc_hash, AnyRecord, Mutation, Records};
use rusqlite::OptionalExtension;
use std::sync::RwLock;
use uuid::Uuid;

/// How one domain keeps its kinds on the workstation.
pub trait Projection: Send + Sync + std::fmt::Debug + 'static {
    /// The kinds it keeps.
    fn kinds(&self) -> &'static [&'static str];

    /// Record `id`, when this projection holds it in tables of its own.
    /// (Documents in `records` — all a projection keeps there — are read
    /// by the kernel first, once: nothing to do for them here.)
    fn load(&self, _db: &Db, _id: Uuid) -> StoreResult<Option<AnyRecord>> {
        Ok(None)
    }

    /// Writes a record as it now is (insert or replace).
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()>;

    /// Removes a record whose creation the server refused (its mutation
    /// stays in the outbox, shown until a person resolves it). Default: its
    /// document in `records`.
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.execute("DELETE FROM records WHERE id = ?1", [id.to_string()])?;
        Ok(())
    }

    /// (id, document hash) of every record it holds whose id `wanted` accepts.
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>>;

    /// Adds what `m` is checked against besides the records it touches
    /// (a booking's possibly overlapping appointments).
    fn load_context(&self, _db: &Db, _m: &Mutation, _recs: &mut Records) -> StoreResult<()> {
        Ok(())
    }

    /// Named migrations its tables need beyond the product's own (applied
    /// in name order with them, once).
    fn migrations(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Kinds no domain keeps in tables of its own: whole documents in `records`.
#[derive(Debug)]
pub struct Documents;

impl Documents {
    pub fn load_doc(db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        let row: Option<(String, String)> = db
            .query_row(
                "SELECT kind, doc FROM records WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((kind, text)) => {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                Ok(Some(AnyRecord::from_doc(&kind, &v)?))
            }
        }
    }

    pub fn put_doc(db: &Db, r: &AnyRecord) -> StoreResult<()> {
        db.execute(
            "INSERT INTO records (id, kind, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, doc = excluded.doc",
            rusqlite::params![r.id().to_string(), r.kind(), r.doc().to_string()],
        )?;
        Ok(())
    }

    /// Every document of one kind, decoded.
    pub fn of_kind(db: &Db, kind: &str) -> StoreResult<Vec<AnyRecord>> {
        let mut st = db
            .conn
            .prepare_cached("SELECT doc FROM records WHERE kind = ?1 ORDER BY id")?;
        let texts = st
            .query_map([kind], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        texts
            .iter()
            .map(|t| {
                let v: serde_json::Value = serde_json::from_str(t)?;
                Ok(AnyRecord::from_doc(kind, &v)?)
            })
            .collect()
    }

    /// (id, document hash) of the documents whose kind `kind_wanted`
    /// accepts and whose id `wanted` accepts.
    pub fn hashes_where(
        db: &Db,
        kind_wanted: &dyn Fn(&str) -> bool,
        wanted: &dyn Fn(Uuid) -> bool,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let mut st = db.conn.prepare("SELECT id, kind, doc FROM records")?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for (id, kind, text) in rows {
            let id = crate::parse_uuid(&id);
            if !wanted(id) || !kind_wanted(&kind) {
                continue;
            }
            // Hashed as the kind writes it now (what the server hashes).
            let v: serde_json::Value = serde_json::from_str(&text)?;
            out.push((id, doc_hash(&AnyRecord::from_doc(&kind, &v)?.doc())));
        }
        Ok(out)
    }
}

impl Projection for Documents {
    fn kinds(&self) -> &'static [&'static str] {
        &[]
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        Documents::put_doc(db, r)
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        // Documents of kinds another projection claims are that one's to hash.
        let claimed = PROJECTIONS.kinds();
        Documents::hashes_where(db, &|k| !claimed.contains(&k), wanted)
    }
}

static PROJECTIONS: ProjectionList<dyn Projection> =
    ProjectionList::new(|| RwLock::new(crate::product_projections()), |p| p.kinds());

/// Every registered projection (the generic one not included).
pub fn projections() -> Vec<&'static dyn Projection> {
    PROJECTIONS.all()
}

/// Adds a projection (a domain outside the product's list, e.g. one a test
/// declares). Registering the same one twice is harmless.
pub fn register(p: &'static dyn Projection) {
    PROJECTIONS.register(p)
}

/// The projection that keeps `kind`.
pub fn projection_of(kind: &str) -> &'static dyn Projection {
    PROJECTIONS.of(kind).unwrap_or(&Documents)
}

impl Db<'_> {
    /// The current local version of a record of any kind.
    pub fn record(&self, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        if let Some(r) = Documents::load_doc(self, id)? {
            return Ok(Some(r));
        }
        for p in projections() {
            if let Some(r) = p.load(self, id)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Writes a record of any kind as it now is.
    pub fn put_record(&self, r: &AnyRecord) -> StoreResult<()> {
        projection_of(r.kind()).put(self, r)
    }

    /// Removes a record the server refused to create, whatever its kind.
    pub(crate) fn discard_record(&self, id: Uuid) -> StoreResult<()> {
        if let Some(r) = self.record(id)? {
            projection_of(r.kind()).discard(self, id)?;
        }
        Ok(())
    }

    /// The current local versions of these records.
    pub fn load_records(&self, ids: &[Uuid]) -> StoreResult<Records> {
        let mut r = Records::default();
        for id in ids {
            if let Some(rec) = self.record(*id)? {
                r.put_any(rec);
            }
        }
        Ok(r)
    }

    /// Adds to `recs` what `m` is applied to: the records it touches (of
    /// whatever kind holds their ids) and what its domain checks it against.
    pub(crate) fn load_context(&self, m: &Mutation, recs: &mut Records) -> StoreResult<()> {
        for id in m.touches() {
            if !recs.contains(id) {
                if let Some(rec) = self.record(id)? {
                    recs.put_any(rec);
                }
            }
        }
        for p in projections() {
            p.load_context(self, m, recs)?;
        }
        Ok(())
    }

    /// (id, document hash) of local records of every kind whose id `wanted` accepts.
    pub(crate) fn record_hashes(
        &self,
        wanted: &dyn Fn(Uuid) -> bool,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let mut out = Documents.hashes(self, wanted)?;
        for p in projections() {
            out.extend(p.hashes(self, wanted)?);
        }
        Ok(out)
    }
}

impl Db<'_> {
    /// Removes a record the server refused to create from a projection's
    /// own `table` (whose delete trigger lets through only ids listed in
    /// `sync_discard` while they go).
    pub(crate) fn discard_from(&self, table: &str, id: Uuid) -> StoreResult<()> {
        self.execute(
            "INSERT OR IGNORE INTO sync_discard (id) VALUES (?1)",
            [id.to_string()],
        )?;
        self.execute(
            &format!("DELETE FROM {table} WHERE id = ?1"),
            [id.to_string()],
        )?;
        self.execute("DELETE FROM sync_discard WHERE id = ?1", [id.to_string()])?;
        Ok(())
    }

    /// The records of kind `T` a query of one `doc` column finds, in its order.
    pub(crate) fn docs<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<T>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let texts = st
            .query_map(args, |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
    }

    /// The one record of kind `T` a query of one `doc` column finds.
    pub(crate) fn doc<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Option<T>> {
        Ok(self.docs(sql, args)?.into_iter().next())
    }

    /// (id, document hash) of the records of kind `T` a projection keeps in
    /// the `doc` column of its own `table`, whose id `wanted` accepts: one
    /// scan, each hashed as the kind writes it now (what the server hashes).
    pub(crate) fn table_hashes<T: clinic_core::sync::RecordKind>(
        &self,
        table: &str,
        wanted: &dyn Fn(Uuid) -> bool,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT id, doc FROM {table} ORDER BY id"))?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, text) = row?;
            let id = crate::parse_uuid(&id);
            if wanted(id) {
                let r: T = serde_json::from_str(&text)?;
                out.push((id, doc_hash(&r.doc())));
            }
        }
        Ok(out)
    }
}

impl Db<'_> {
    /// The changes to record `id` the server did not apply as made (kept
    /// whole in its history, on every desk), oldest first.
    pub fn refused_changes_of(
        &self,
        id: Uuid,
    ) -> StoreResult<Vec<clinic_core::sync::RefusedChange>> {
        let docs = self.query_docs(
            "SELECT r.doc FROM records r WHERE r.kind = 'refused_change'
               AND EXISTS (SELECT 1 FROM json_each(r.doc, '$.records') t WHERE t.value = ?1)
             ORDER BY json_extract(r.doc, '$.made_at')",
            &[&id.to_string()],
        )?;
        docs.into_iter()
            .map(|d| Ok(serde_json::from_value(d)?))
            .collect()
    }

    /// Every document of kind `T` kept in `records`, by id.
    pub fn documents<T: clinic_core::sync::RecordKind>(&self) -> StoreResult<Vec<T>> {
        Ok(Documents::of_kind(self, T::KIND)?
            .iter()
            .filter_map(|r| r.get::<T>().cloned())
            .collect())
    }

    /// Document `id` when it is a `T`.
    pub fn document<T: clinic_core::sync::RecordKind>(&self, id: Uuid) -> StoreResult<Option<T>> {
        Ok(Documents::load_doc(self, id)?.and_then(|r| r.get::<T>().cloned()))
    }
}

impl Db<'_> {
    /// The JSON documents in the first column of `sql`'s rows (for a
    /// projection declared outside this crate).
    pub fn query_docs(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<serde_json::Value>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let texts = st
            .query_map(params, |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
    }

    /// Runs one statement (for a projection declared outside this crate).
    pub fn execute_sql(&self, sql: &str, params: &[&dyn rusqlite::ToSql]) -> StoreResult<()> {
        self.conn.prepare_cached(sql)?.execute(params)?;
        Ok(())
    }
}

/// A projection of one kind kept in a table of its own (`doc` the record,
/// typed columns beside it), through the `Db` methods that load and put it.
macro_rules! table_projection {
    ($name:ident, $static:ident, $kind:ty, $table:literal, $load:ident, $put:ident) => {
        #[doc = concat!("`", stringify!($kind), "` records in `", $table, "`.")]
        #[derive(Debug)]
        pub struct $name;
        pub static $static: $name = $name;

        impl $crate::records::Projection for $name {
            fn kinds(&self) -> &'static [&'static str] {
                &[<$kind as clinic_core::sync::RecordKind>::KIND]
            }
            fn load(
                &self,
                db: &$crate::Db,
                id: uuid::Uuid,
            ) -> $crate::StoreResult<Option<clinic_core::sync::AnyRecord>> {
                Ok(db.$load(id)?.map(clinic_core::sync::AnyRecord::new))
            }
            fn put(
                &self,
                db: &$crate::Db,
                r: &clinic_core::sync::AnyRecord,
            ) -> $crate::StoreResult<()> {
                let x = r.get::<$kind>().ok_or_else(|| {
                    clinic_core::ClinicError::internal(concat!("not a ", stringify!($kind)))
                })?;
                db.$put(x)
            }
            fn discard(&self, db: &$crate::Db, id: uuid::Uuid) -> $crate::StoreResult<()> {
                db.discard_from($table, id)
            }
            fn hashes(
                &self,
                db: &$crate::Db,
                wanted: &dyn Fn(uuid::Uuid) -> bool,
            ) -> $crate::StoreResult<Vec<(uuid::Uuid, String)>> {
                db.table_hashes::<$kind>($table, wanted)
            }
        }
    };
}
pub(crate) use table_projection;
