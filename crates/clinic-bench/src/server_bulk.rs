//! Bulk load into the server (S and L): the size's patients written
//! straight into a fresh tenant's PostgreSQL master through
//! `sync_server::patients::bulk_load_patients` (the rows and change feed a push
//! writes, batches of `BULK_BATCH` per transaction, as the server's runtime
//! role under row-level security), against the plain limit of this machine:
//! `COPY` of the same documents into a temporary table with no index
//! (`copy_limit`). Both on a fresh database of the same private cluster.

use crate::Scalar;
use chrono::Utc;
use clinic_core::{ClinicError, ClinicResult};
use clinic_demo::demo_patient_record;
use std::time::Instant;
use uuid::Uuid;

fn err(e: sync_server::ServerError) -> ClinicError {
    ClinicError::internal(format!("{e:?}"))
}

pub fn run(seed: u64, n: u64) -> ClinicResult<Vec<Scalar>> {
    let rt = tokio::runtime::Runtime::new().map_err(ClinicError::internal)?;
    rt.block_on(async {
        let (db, admin_url) = sync_server::testing::fresh_database().await;
        let tenant = sync_server::testing::provision(&db.pool, "bulk", "enterprise")
            .await
            .tenant_id;
        let now = Utc::now();
        let list = (0..n)
            .map(|i| demo_patient_record(seed, i, tenant, now, Uuid::now_v7))
            .collect::<ClinicResult<Vec<_>>>()?;
        let docs: Vec<(Uuid, serde_json::Value)> = list
            .iter()
            .map(|p| (p.id, clinic_core::sync::RecordKind::doc(p)))
            .collect();
        let bytes: usize = docs.iter().map(|(_, d)| d.to_string().len()).sum();

        let t = Instant::now();
        sync_server::sync::copy_limit(&db.pool, &docs)
            .await
            .map_err(err)?;
        let copy = t.elapsed().as_secs_f64();

        // The feed starts with the tenant's administrator, site and plan.
        let before = {
            let admin = sync_server::db::connect(&admin_url).await.map_err(err)?;
            admin
                .query_one(
                    "SELECT count(*) FROM change_feed WHERE tenant_id = $1",
                    &[&tenant],
                )
                .await
                .map_err(ClinicError::internal)?
                .get::<_, i64>(0)
        };
        let t = Instant::now();
        let head = sync_server::patients::bulk_load_patients(&db.pool, tenant, &list)
            .await
            .map_err(err)?;
        let load = t.elapsed().as_secs_f64();

        // Everything arrived: rows and feed (as the cluster's administrator).
        let admin = sync_server::db::connect(&admin_url).await.map_err(err)?;
        let row = admin
            .query_one(
                "SELECT (SELECT count(*) FROM patients WHERE tenant_id = $1), (SELECT count(*) FROM change_feed WHERE tenant_id = $1)",
                &[&tenant],
            )
            .await
            .map_err(ClinicError::internal)?;
        let (rows, feed): (i64, i64) = (row.get(0), row.get::<_, i64>(1) - before);
        if rows as u64 != n || feed as u64 != n || (head - before) as u64 != n {
            return Err(ClinicError::internal(format!(
                "bulk load wrote {rows} patients and {feed} feed entries (head {head}) for {n}"
            )));
        }
        Ok(vec![
            (
                format!("server bulk load: patients/s ({n} patients straight into a tenant: typed rows with documents and their indexes, change feed with its hash chain, {} per transaction, runtime role under row-level security)", sync_server::patients::BULK_BATCH),
                n as f64 / load,
                "rows/s".into(),
            ),
            (
                format!("server plain limit: COPY of the same {n} documents into a temporary table without indexes ({:.0} MB of JSON, one transaction)", bytes as f64 / 1e6),
                n as f64 / copy,
                "rows/s".into(),
            ),
            (
                "server bulk load against the plain limit (COPY rows/s / bulk load rows/s)".into(),
                load / copy,
                "times slower".into(),
            ),
        ])
    })
}
