//! Storage of records of any kind in a tenant's master, for the sync
//! kernel: each kind is kept by a [`Projection`] its domain registers (its
//! own table with typed columns, indexes and constraints, like the
//! appointments' exclusion constraints), or, when it needs nothing more, as
//! a document in the generic `sync_records` table. The kernel reads, writes
//! and checksums records through here and never names a kind.

use crate::ServerError;
use clinic_core::sync::registry::ProjectionList;
use clinic_core::sync::{AnyRecord, Envelope, Records};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use uuid::Uuid;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One record a push or a bulk load writes.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    pub record: &'a AnyRecord,
    /// The record before the change (`None`: new).
    pub before: Option<&'a AnyRecord>,
    /// Its document (what the feed carries) and the document's hash.
    pub doc: &'a Value,
    pub hash: &'a str,
}

/// How one domain keeps its kinds in the master.
pub trait Projection: Send + Sync + std::fmt::Debug + 'static {
    /// The kinds it keeps.
    fn kinds(&self) -> &'static [&'static str];

    /// A query of `(kind, id, doc_hash, doc)` of every record it holds (the
    /// tenant is set by row-level security): loads by id and checksums
    /// read through it.
    fn select(&self) -> &'static str;

    /// Writes (inserts or replaces) records of its kinds in the caller's
    /// transaction, with whatever a change of them sets off (the
    /// notifications of a booking).
    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>>;

    /// Adds what a batch's mutations are checked against besides the
    /// records they touch (the appointments a booking may overlap).
    fn load_context<'a>(
        &'a self,
        _tx: &'a Transaction<'a>,
        _batch: &'a [&'a Envelope],
        _recs: &'a mut Records,
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async { Ok(()) })
    }

    /// Named migrations its tables need beyond the product's own.
    fn migrations(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Kinds no domain keeps in a table of its own: documents in `sync_records`.
#[derive(Debug)]
pub struct Documents;

impl Projection for Documents {
    fn kinds(&self) -> &'static [&'static str] {
        &[]
    }
    fn select(&self) -> &'static str {
        "SELECT entity_type, id, doc_hash, doc FROM sync_records"
    }
    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows: Vec<Value> = rows
                .iter()
                .map(|w| {
                    json!({"id": w.record.id(), "entity_type": w.record.kind(), "doc": w.doc, "doc_hash": w.hash})
                })
                .collect();
            let n = rows.len() as u64;
            // A record never changes its kind here (the kernel refuses it;
            // this makes sure no path writes one over another).
            let written = tx
                .execute(
                    "INSERT INTO sync_records (tenant_id, id, entity_type, doc, doc_hash)
                     SELECT $1, x.id, x.entity_type, x.doc, x.doc_hash
                     FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, entity_type text, doc jsonb, doc_hash text)
                     ON CONFLICT (tenant_id, id) DO UPDATE SET doc = EXCLUDED.doc,
                         doc_hash = EXCLUDED.doc_hash, updated_at = now()
                     WHERE sync_records.entity_type = EXCLUDED.entity_type",
                    &[&tenant, &Value::Array(rows)],
                )
                .await?;
            if written != n {
                return Err(ServerError::Database(
                    "a record would have been written over one of another kind".into(),
                ));
            }
            Ok(())
        })
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

/// `(kind, id, doc_hash, doc)` of every record of every kind.
pub fn all_records_sql() -> String {
    let mut parts: Vec<String> = projections()
        .iter()
        .map(|p| p.select().to_string())
        .collect();
    parts.push(Documents.select().to_string());
    parts.join("\n UNION ALL ")
}

fn stored(kind: &str, doc: &Value) -> Result<AnyRecord, ServerError> {
    AnyRecord::from_doc(kind, doc)
        .map_err(|e| ServerError::Database(format!("stored {kind} document: {}", e.message)))
}

/// The records with these ids, whatever their kind.
pub async fn load(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<Records, ServerError> {
    let mut recs = Records::default();
    if ids.is_empty() {
        return Ok(recs);
    }
    let sql = format!(
        "SELECT r.kind, r.doc FROM ({}) AS r(kind, id, doc_hash, doc) WHERE r.id = ANY($1)",
        all_records_sql()
    );
    for row in tx.query(&sql, &[&ids]).await? {
        let kind: String = row.get(0);
        recs.put_any(stored(&kind, &row.get(1))?);
    }
    Ok(recs)
}

/// Records of one kind matching a condition on their own table (for a
/// projection's context queries): `sql` selects their documents.
pub async fn load_docs(
    tx: &Transaction<'_>,
    kind: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<AnyRecord>, ServerError> {
    let rows = tx.query(sql, params).await?;
    rows.iter().map(|r| stored(kind, &r.get(0))).collect()
}

/// Writes changed records through their projections, grouped by
/// projection, in the order given within each.
pub async fn write(
    tx: &Transaction<'_>,
    tenant: Uuid,
    rows: &[Written<'_>],
) -> Result<(), ServerError> {
    // Each row's projection found once; rows grouped by it, in order.
    // (Projections are told apart by the kinds they keep, never by address:
    // zero-sized statics may share one.)
    let mut groups: Vec<(&'static dyn Projection, Vec<Written>)> = Vec::new();
    for w in rows {
        let p = projection_of(w.record.kind());
        match groups.iter_mut().find(|(q, _)| q.kinds() == p.kinds()) {
            Some((_, mine)) => mine.push(*w),
            None => groups.push((p, vec![*w])),
        }
    }
    // In the order the projections were registered (the generic one last),
    // so a domain's writes may read an earlier domain's rows (a booking's
    // notification reads its patient).
    let order = projections();
    groups.sort_by_key(|(p, _)| {
        order
            .iter()
            .position(|q| q.kinds() == p.kinds())
            .unwrap_or(order.len())
    });
    for (p, mine) in groups {
        p.write(tx, tenant, &mine).await?;
    }
    Ok(())
}
