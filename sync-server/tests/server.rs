//! Integration tests of the sync server against a real PostgreSQL: one
//! private cluster per test binary (the embedded default), a fresh database
//! per test, the real HTTP server on 127.0.0.1:0.

use chrono::Utc;
use clinic_core::auth::Password;
use sync_server::tenants::{create_tenant, NewTenant, TenantCreated};
use sync_server::{db, AppState, Database};
use uuid::Uuid;

async fn fresh() -> (Database, String) {
    sync_server::testing::fresh_database().await
}

async fn tenant(pool: &deadpool_postgres::Pool, slug: &str) -> TenantCreated {
    sync_server::testing::provision(pool, slug, "basic").await
}

/// A tenant `slug` with one device enrolled by its administrator: the
/// tenant, and the device's `Authorization` header.
async fn enrolled_device(api: &Api, slug: &str) -> (TenantCreated, String) {
    let t = tenant(&api.database.pool, slug).await;
    let admin = api.admin_token(slug).await;
    let (s, e) = api
        .call(
            "POST",
            "/v1/devices",
            Some(&admin),
            Some(serde_json::json!({"name": "Front desk"})),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    (
        t,
        format!("Device {}", e["device_credential"].as_str().unwrap()),
    )
}

/// Inserts one patient for the tenant (as the runtime role).
async fn patient(pool: &deadpool_postgres::Pool, t: Uuid, n: i64) -> Uuid {
    let mut client = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut client, t).await.unwrap();
    let id = Uuid::now_v7();
    let now = Utc::now();
    tx.execute(
        "INSERT INTO patients (tenant_id, id, patient_number, number_seq, first_name, last_name, date_of_birth, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'Ada', 'Lovelace', '1985-12-10', $5, $5)",
        &[&t, &id, &format!("P{n:07}"), &n, &now],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

const GLOBAL_TABLES: [&str; 2] = ["tenants", "schema_migrations"];

#[tokio::test]
async fn catalog_every_tenant_table_is_keyed_constrained_and_row_secured_by_tenant() {
    let (database, url) = fresh().await;
    let admin = db::connect(&url).await.unwrap();
    let tables: Vec<String> = admin
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 15, "{tables:?}");
    for t in &tables {
        let has_tenant: bool = admin
            .query_one("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'tenant_id')", &[t])
            .await
            .unwrap()
            .get(0);
        if GLOBAL_TABLES.contains(&t.as_str()) {
            continue;
        }
        assert!(
            has_tenant,
            "{t} has no tenant_id and is not on the global allow-list"
        );
        let row = admin
            .query_one(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
                 FROM pg_class c WHERE c.oid = ('public.' || $1)::regclass",
                &[t],
            )
            .await
            .unwrap();
        let (enabled, forced, policies): (bool, bool, i64) = (row.get(0), row.get(1), row.get(2));
        assert!(
            enabled && forced && policies >= 1,
            "{t}: rls enabled={enabled} forced={forced} policies={policies}"
        );
        // Every key, unique constraint and foreign key includes tenant_id; the primary key starts with it.
        let constraints = admin
            .query(
                "SELECT con.conname::text, con.contype::text,
                        (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
                        (SELECT array_agg(a.attname::text) FROM unnest(con.confkey) k(attnum)
                           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
                        con.confrelid::regclass::text
                 FROM pg_constraint con WHERE con.conrelid = ('public.' || $1)::regclass AND con.contype IN ('p', 'u', 'f')",
                &[t],
            )
            .await
            .unwrap();
        assert!(
            constraints.iter().any(|c| c.get::<_, String>(1) == "p"),
            "{t} has no primary key"
        );
        for c in constraints {
            let (name, kind, cols): (String, String, Vec<String>) = (c.get(0), c.get(1), c.get(2));
            assert!(
                cols.contains(&"tenant_id".to_string()),
                "{t}.{name} ({kind}) does not include tenant_id: {cols:?}"
            );
            if kind == "p" {
                assert_eq!(
                    cols[0], "tenant_id",
                    "{t}: tenant_id must lead the primary key"
                );
            }
            if kind == "f" {
                let target: String = c.get(4);
                let fcols: Vec<String> = c.get(3);
                if target != "tenants" {
                    assert!(
                        fcols.contains(&"tenant_id".to_string()),
                        "{t}.{name} references {target} without tenant_id"
                    );
                }
            }
        }
    }
    database.pool.close();
}

#[tokio::test]
async fn the_runtime_role_cannot_delete_records_and_a_superuser_is_refused() {
    let (database, url) = fresh().await;
    let t = tenant(&database.pool, "charlie").await;
    let p = patient(&database.pool, t.tenant_id, 1).await;
    let mut client = database.pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut client, t.tenant_id).await.unwrap();
    let err = tx
        .execute("DELETE FROM patients WHERE id = $1", &[&p])
        .await
        .unwrap_err();
    assert!(
        db::describe(&err).contains("permission denied"),
        "{}",
        db::describe(&err)
    );
    drop(tx);
    db::check_runtime_role(&client)
        .await
        .expect("the runtime role is safe");
    let admin = db::connect(&url).await.unwrap();
    let err = db::check_runtime_role(&admin).await.unwrap_err();
    assert!(err.to_string().contains("refusing to run"), "{err}");
    drop(client);
    database.pool.close();
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let (database, url) = fresh().await;
    let mut admin = db::connect(&url).await.unwrap();
    admin
        .execute(
            "INSERT INTO schema_migrations (name) VALUES ('29991231000000_future')",
            &[],
        )
        .await
        .unwrap();
    let err = db::migrate(&mut admin).await.unwrap_err();
    assert!(err.to_string().contains("newer than this server"), "{err}");
    database.pool.close();
}

#[tokio::test]
async fn provisioning_validates_refuses_taken_slugs_and_records_the_plan() {
    let (database, url) = fresh().await;
    let created = tenant(&database.pool, "delta").await;
    assert_eq!(created.plan.max_users, 5);
    let again = create_tenant(
        &database.pool,
        NewTenant {
            slug: "delta".into(),
            name: "Another".into(),
            admin_email: "a@b.example".into(),
            admin_name: "A".into(),
            admin_password: Password::new("admin-password-1".into()),
            plan: "basic".into(),
            site_name: "Main".into(),
            timezone: "Europe/London".into(),
        },
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    let bad = create_tenant(
        &database.pool,
        NewTenant {
            slug: "-Bad Slug".into(),
            name: " ".into(),
            admin_email: "nope".into(),
            admin_name: "A".into(),
            admin_password: Password::new("admin-password-1".into()),
            plan: "gold".into(),
            site_name: "Main".into(),
            timezone: "Europe/London".into(),
        },
        Utc::now(),
    )
    .await
    .unwrap_err();
    for field in ["slug", "name", "admin_email", "plan"] {
        assert!(bad.to_string().contains(field), "{field}: {bad}");
    }
    let admin = db::connect(&url).await.unwrap();
    let n: i64 = admin
        .query_one("SELECT count(*) FROM tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "failed provisioning wrote nothing");
    let row = admin
        .query_one(
            "SELECT plan, max_users, max_patients FROM tenants WHERE slug = 'delta'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i32>(1),
            row.get::<_, i32>(2)
        ),
        ("basic".to_string(), 5, 5_000)
    );
    let roles: i64 = admin
        .query_one(
            "SELECT count(*) FROM roles WHERE tenant_id = $1",
            &[&created.tenant_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(roles, 6);
    database.pool.close();
}

#[tokio::test]
async fn http_server_serves_health_and_metrics_on_an_ephemeral_port() {
    let (database, _) = fresh().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sync_server::serve(
        listener,
        AppState::new(
            database.pool.clone(),
            sync_server::tokens::SigningKey::random(),
        ),
        async {
            let _ = stop_rx.await;
        },
    ));
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    assert_eq!(
        http.get(format!("http://{addr}/no/such/route"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("clinic_http_requests_total{route=\"/health\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"unmatched\",status=\"404\""),
        "{metrics}"
    );
    for gauge in [
        "clinic_password_checks{state=\"waiting\"}",
        "clinic_anonymous_db{state=\"holding\"}",
    ] {
        assert!(metrics.contains(gauge), "{gauge}: {metrics}");
    }
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    database.pool.close();
}

// ---- accounts and devices over real HTTP ----

struct Api {
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    database: Database,
    /// The database as its administrator (for assertions and for what an
    /// operator does by hand, such as soft-deleting a tenant).
    admin_url: String,
}

const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789abcdef";

impl Api {
    async fn start() -> Api {
        Self::start_with(|s| s).await
    }

    /// A server whose state `configure` changes first.
    async fn start_with(configure: impl FnOnce(AppState) -> AppState) -> Api {
        let (database, admin_url) = fresh().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let state = configure(AppState::new(
            database.pool.clone(),
            sync_server::tokens::SigningKey::random(),
        ));
        tokio::spawn(sync_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            stop: Some(stop),
            database,
            admin_url,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = match method {
            "GET" => self.http.get(format!("{}{path}", self.base)),
            _ => self.http.post(format!("{}{path}", self.base)),
        };
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(mut b) = body {
            // A desk signs its changes; so does this test client, as the
            // provisioned administrator.
            if let (true, Some(a)) = (path == "/v1/sync/push", auth) {
                sync_server::testing::sign_push(
                    &self.database.pool,
                    a,
                    &mut b,
                    sync_server::testing::ADMIN_PASSWORD,
                )
                .await;
            }
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    async fn login(&self, tenant: &str, email: &str, password: &str) -> (u16, serde_json::Value) {
        self.call(
            "POST",
            "/v1/auth/login",
            None,
            Some(serde_json::json!({"tenant": tenant, "email": email, "password": password})),
        )
        .await
    }

    async fn admin_token(&self, slug: &str) -> String {
        let (s, v) = self
            .login(slug, &format!("admin@{slug}.example"), "admin-password-1")
            .await;
        assert_eq!(s, 200, "{v}");
        format!("Bearer {}", v["access_token"].as_str().unwrap())
    }

    fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.database.pool.close();
    }
}

#[tokio::test]
async fn sign_in_is_throttled_and_answers_every_failure_alike() {
    let api = Api::start().await;
    tenant(&api.database.pool, "echo").await;
    let (s, pair) = api
        .login("echo", "ADMIN@echo.example", "admin-password-1")
        .await;
    assert_eq!(s, 200, "{pair}");
    assert!(pair["refresh_token"].as_str().unwrap().starts_with("rt."));
    let unknown_tenant = api
        .login("nope", "admin@echo.example", "admin-password-1")
        .await;
    let unknown_email = api
        .login("echo", "who@echo.example", "admin-password-1")
        .await;
    let wrong_password = api
        .login("echo", "admin@echo.example", "wrong-password")
        .await;
    assert_eq!(unknown_tenant, unknown_email);
    assert_eq!(unknown_email, wrong_password);
    assert_eq!(wrong_password.0, 401);
    for _ in 0..4 {
        api.login("echo", "admin@echo.example", "wrong-password")
            .await;
    }
    let (s, v) = api
        .login("echo", "admin@echo.example", "admin-password-1")
        .await;
    assert_eq!(
        s, 429,
        "locked after five failures, even with the right password: {v}"
    );
    assert_eq!(v["error"]["code"], "ACCOUNT_LOCKED");
    api.stop();
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let api = Api::start().await;
    tenant(&api.database.pool, "foxtrot").await;
    let (_, first) = api
        .login("foxtrot", "admin@foxtrot.example", "admin-password-1")
        .await;
    let refresh = |t: &serde_json::Value| serde_json::json!({"refresh_token": t["refresh_token"]});
    let (s, second) = api
        .call("POST", "/v1/auth/refresh", None, Some(refresh(&first)))
        .await;
    assert_eq!(s, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The first token again: theft. Both it and its successor stop working.
    assert_eq!(
        api.call("POST", "/v1/auth/refresh", None, Some(refresh(&first)))
            .await
            .0,
        401
    );
    assert_eq!(
        api.call("POST", "/v1/auth/refresh", None, Some(refresh(&second)))
            .await
            .0,
        401
    );
    // Log out revokes a token; "log out everywhere" kills access tokens too.
    let (_, third) = api
        .login("foxtrot", "admin@foxtrot.example", "admin-password-1")
        .await;
    assert_eq!(
        api.call("POST", "/v1/auth/logout", None, Some(refresh(&third)))
            .await
            .0,
        204
    );
    assert_eq!(
        api.call("POST", "/v1/auth/refresh", None, Some(refresh(&third)))
            .await
            .0,
        401
    );
    let (_, fourth) = api
        .login("foxtrot", "admin@foxtrot.example", "admin-password-1")
        .await;
    let bearer = format!("Bearer {}", fourth["access_token"].as_str().unwrap());
    assert_eq!(
        api.call("GET", "/v1/devices", Some(&bearer), None).await.0,
        200
    );
    assert_eq!(
        api.call("POST", "/v1/auth/logout-everywhere", Some(&bearer), None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call("GET", "/v1/devices", Some(&bearer), None).await.0,
        401
    );
    assert_eq!(
        api.call("POST", "/v1/auth/refresh", None, Some(refresh(&fourth)))
            .await
            .0,
        401
    );
    assert_eq!(
        api.call("GET", "/v1/devices", Some("Bearer forged.token"), None)
            .await
            .0,
        401
    );
    api.stop();
}

#[tokio::test]
async fn plan_limits_and_role_hygiene_are_enforced_on_users() {
    let api = Api::start().await;
    tenant(&api.database.pool, "golf").await; // basic plan: 5 users
    let admin = api.admin_token("golf").await;
    let user = |email: &str, role: &str| serde_json::json!({"email": email, "name": "Staff", "role": role, "password": "staff-password-1"});
    for i in 0..4 {
        let (s, v) = api
            .call(
                "POST",
                "/v1/users",
                Some(&admin),
                Some(user(&format!("desk{i}@golf.example"), "receptionist")),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = api
        .call(
            "POST",
            "/v1/users",
            Some(&admin),
            Some(user("sixth@golf.example", "receptionist")),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("plan allows 5"));
    let (_, desk) = api
        .login("golf", "desk0@golf.example", "staff-password-1")
        .await;
    let desk = format!("Bearer {}", desk["access_token"].as_str().unwrap());
    assert_eq!(
        api.call(
            "POST",
            "/v1/users",
            Some(&desk),
            Some(user("x@golf.example", "admin"))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        api.call(
            "POST",
            "/v1/devices",
            Some(&desk),
            Some(serde_json::json!({"name": "Desk"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        api.call("GET", "/v1/devices", Some(&desk), None).await.0,
        403
    );
    api.stop();
}

#[tokio::test]
async fn devices_enrol_list_revoke_and_other_tenants_ids_are_not_found() {
    let api = Api::start().await;
    tenant(&api.database.pool, "hotel").await;
    tenant(&api.database.pool, "india").await;
    let hotel = api.admin_token("hotel").await;
    let india = api.admin_token("india").await;
    let (s, e) = api
        .call(
            "POST",
            "/v1/devices",
            Some(&hotel),
            Some(serde_json::json!({"name": "Front desk 1"})),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    let device = e["device_id"].as_str().unwrap().to_string();
    let credential = format!("Device {}", e["device_credential"].as_str().unwrap());
    let (s, me) = api
        .call("GET", "/v1/device/whoami", Some(&credential), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(me["device_id"], e["device_id"]);
    let (_, list) = api.call("GET", "/v1/devices", Some(&hotel), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, other) = api.call("GET", "/v1/devices", Some(&india), None).await;
    assert_eq!(
        other,
        serde_json::json!([]),
        "tenant India sees none of Hotel's devices"
    );
    // A desk sees its own clinic's desks and when each last reached the
    // server (for closing the books), never another clinic's.
    let (s, e) = api
        .call(
            "POST",
            "/v1/devices",
            Some(&india),
            Some(serde_json::json!({"name": "India desk"})),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    let india_desk = format!("Device {}", e["device_credential"].as_str().unwrap());
    let (s, peers) = api
        .call("GET", "/v1/device/peers", Some(&credential), None)
        .await;
    assert_eq!(s, 200, "{peers}");
    let names: Vec<&str> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Front desk 1"]);
    assert!(peers[0]["last_seen_at"].is_string(), "{peers}");
    let (_, theirs) = api
        .call("GET", "/v1/device/peers", Some(&india_desk), None)
        .await;
    let names: Vec<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["India desk"]);
    // Another tenant's id answers exactly like an id that does not exist.
    let theirs = api
        .call(
            "POST",
            &format!("/v1/devices/{device}/revoke"),
            Some(&india),
            None,
        )
        .await;
    let nobody = api
        .call(
            "POST",
            &format!("/v1/devices/{}/revoke", Uuid::now_v7()),
            Some(&india),
            None,
        )
        .await;
    let garbage = api
        .call("POST", "/v1/devices/not-an-id/revoke", Some(&india), None)
        .await;
    assert_eq!(theirs.0, 404);
    assert_eq!(theirs, nobody);
    assert_eq!(theirs, garbage);
    assert_eq!(
        api.call("GET", "/v1/device/whoami", Some(&credential), None)
            .await
            .0,
        200,
        "still enrolled"
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("/v1/devices/{device}/revoke"),
            Some(&hotel),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        api.call("GET", "/v1/device/whoami", Some(&credential), None)
            .await
            .0,
        401,
        "a revoked device is refused"
    );
    let forged = format!("Device dv.{}.{device}.{}", Uuid::now_v7(), "A".repeat(43));
    assert_eq!(
        api.call("GET", "/v1/device/whoami", Some(&forged), None)
            .await
            .0,
        401
    );
    api.stop();
}

/// Every endpoint a workstation calls, with a request that succeeds for a
/// genuine credential.
fn device_requests() -> [(&'static str, &'static str, Option<serde_json::Value>); 6] {
    [
        ("GET", "/v1/device/whoami", None),
        ("GET", "/v1/device/peers", None),
        ("GET", "/v1/sync/pull?after=0", None),
        (
            "POST",
            "/v1/sync/push",
            Some(
                serde_json::json!({"protocol": clinic_core::sync::PROTOCOL_VERSION, "mutations": []}),
            ),
        ),
        ("GET", "/v1/sync/checksums", None),
        (
            "POST",
            "/v1/sync/records",
            Some(serde_json::json!({"buckets": [0]})),
        ),
    ]
}

#[tokio::test]
async fn a_credential_naming_a_real_device_of_its_tenant_with_a_wrong_secret_is_refused_everywhere()
{
    // Row-level security cannot refuse this one: the tenant and device are
    // right, so only the comparison of the secret stands in the way.
    let api = Api::start().await;
    let (t, genuine) = enrolled_device(&api, "kilo").await;
    let (tenant, device) =
        sync_server::tokens::device_credential_ids(genuine.strip_prefix("Device ").unwrap())
            .unwrap();
    assert_eq!(tenant, t.tenant_id);
    let secret = genuine.rsplit('.').next().unwrap();
    let forged = [
        format!("Device dv.{tenant}.{device}.{}", "A".repeat(43)),
        // One character of the genuine secret changed.
        format!(
            "Device dv.{tenant}.{device}.{}{}",
            &secret[..secret.len() - 1],
            if secret.ends_with('A') { 'B' } else { 'A' }
        ),
        // The genuine credential with more after it.
        format!("{genuine}x"),
    ];
    let unknown = format!("Device dv.{tenant}.{}.{}", Uuid::now_v7(), "A".repeat(43));
    for (method, path, body) in device_requests() {
        let (s, e) = api.call(method, path, Some(&genuine), body.clone()).await;
        assert_eq!(s, 200, "{method} {path} with the genuine credential: {e}");
        let refused = api.call(method, path, Some(&unknown), body.clone()).await;
        assert_eq!(refused.0, 401, "{method} {path}: {}", refused.1);
        for f in &forged {
            let answer = api.call(method, path, Some(f), body.clone()).await;
            assert_eq!(
                answer, refused,
                "{method} {path} with a forged secret must be refused like an unknown device"
            );
        }
    }
    api.stop();
}

#[tokio::test]
async fn push_and_records_bodies_with_unknown_fields_are_refused_and_change_nothing() {
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "yankee").await;
    let envelope = |extra: bool| {
        let mut v = serde_json::json!({
            "device_seq": 1, "id": Uuid::now_v7(), "user_id": t.admin_user_id, "at": Utc::now(),
            "mutation": {"kind": "register_patient", "patient": Uuid::now_v7(),
                "patient_number": clinic_core::patients::format_patient_number(1),
                "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10"}},
        });
        if extra {
            v["priority"] = serde_json::json!("high");
        }
        v
    };
    let protocol = clinic_core::sync::PROTOCOL_VERSION;
    for body in [
        serde_json::json!({"protocol": protocol, "mutations": [envelope(false)], "force": true}),
        serde_json::json!({"protocol": protocol, "mutations": [envelope(true)]}),
    ] {
        let (s, e) = api
            .call("POST", "/v1/sync/push", Some(&device), Some(body))
            .await;
        assert_eq!(s, 422, "{e}");
    }
    let (s, e) = api
        .call(
            "POST",
            "/v1/sync/records",
            Some(&device),
            Some(serde_json::json!({"buckets": [1], "all": true})),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    // Nothing was written; the same push without the extra field is taken.
    let (s, e) = api
        .call(
            "POST",
            "/v1/sync/push",
            Some(&device),
            Some(serde_json::json!({"protocol": protocol, "mutations": [envelope(false)]})),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["outcomes"][0]["status"], "accepted", "{e}");
}

#[tokio::test]
async fn pull_pages_come_compressed_when_asked_and_decode_to_the_same_page() {
    use std::io::Read;
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "zulu").await;
    let mutations: Vec<serde_json::Value> = (1..=40)
        .map(|n| {
            serde_json::json!({
                "device_seq": n, "id": Uuid::now_v7(), "user_id": t.admin_user_id, "at": Utc::now(),
                "mutation": {"kind": "register_patient", "patient": Uuid::now_v7(),
                    "patient_number": clinic_core::patients::format_patient_number(n),
                    "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10",
                        "phone": format!("+44 20 7946 {n:04}")}},
            })
        })
        .collect();
    let (s, res) = api
        .call(
            "POST",
            "/v1/sync/push",
            Some(&device),
            Some(serde_json::json!({"protocol": clinic_core::sync::PROTOCOL_VERSION, "mutations": mutations})),
        )
        .await;
    assert_eq!(s, 200, "{res}");
    for o in res["outcomes"].as_array().unwrap() {
        assert_eq!(o["status"], "accepted", "{o}");
    }
    // A client that decodes nothing itself, so the bytes are as sent.
    let raw = reqwest::Client::builder().no_zstd().build().unwrap();
    let get = |path: &str, accept: Option<&str>| {
        let mut req = raw
            .get(format!("{}{path}", api.base))
            .header("authorization", &device);
        if let Some(a) = accept {
            req = req.header("accept-encoding", a);
        }
        req.send()
    };
    let encoding = |r: &reqwest::Response| {
        r.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let page = "/v1/sync/pull?after=0&limit=100";

    let plain = get(page, None).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(encoding(&plain), None);
    let plain = plain.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    // The 40 registrations after the tenant's administrator, site and plan.
    assert_eq!(json["changes"].as_array().unwrap().len(), 43, "{json}");

    let zstd = get(page, Some("zstd")).await.unwrap();
    assert_eq!(zstd.status(), 200);
    assert_eq!(encoding(&zstd).as_deref(), Some("zstd"));
    let zstd = zstd.bytes().await.unwrap();
    let decoded = zstd::decode_all(&zstd[..]).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(),
        json,
        "the same page"
    );
    assert!(
        zstd.len() * 4 < plain.len(),
        "{} compressed bytes for {} of JSON",
        zstd.len(),
        plain.len()
    );

    // zstd is preferred; gzip is the fallback for clients without it.
    let both = get(page, Some("gzip, deflate, br, zstd")).await.unwrap();
    assert_eq!(encoding(&both).as_deref(), Some("zstd"));
    let gzip = get(page, Some("gzip")).await.unwrap();
    assert_eq!(encoding(&gzip).as_deref(), Some("gzip"));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(),
        json
    );

    // Small answers (here an empty page, caught up) go as they are.
    let head = json["head"].as_i64().unwrap();
    let empty = get(&format!("/v1/sync/pull?after={head}"), Some("zstd"))
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
    assert_eq!(encoding(&empty), None);
    let empty: serde_json::Value = empty.json().await.unwrap();
    assert_eq!(empty["changes"], serde_json::json!([]));

    // A client as the workstation builds it (reqwest with its zstd feature
    // on) asks for zstd and decodes it.
    let (s, auto) = api.call("GET", page, Some(&device), None).await;
    assert_eq!(s, 200);
    assert_eq!(auto, json);
    api.stop();
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx_and_never_a_5xx() {
    let api = Api::start().await;
    tenant(&api.database.pool, "juliet").await;
    let admin = api.admin_token("juliet").await;
    let raw = |path: &'static str, body: Vec<u8>, auth: Option<String>| {
        let mut req = api
            .http
            .post(format!("{}{path}", api.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (s, text) = raw("/v1/auth/login", b"{not json".to_vec(), None).await;
    assert_eq!(s, 422, "{text}");
    assert!(
        text.contains("VALIDATION") && text.contains("not valid"),
        "{text}"
    );
    let (s, text) = raw(
        "/v1/auth/login",
        br#"{"tenant": 1, "email": [], "password": null}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!(s, 422, "wrong types: {text}");
    let (s, text) = raw(
        "/v1/auth/login",
        br#"{"tenant": "juliet", "email": "a@b.c", "password": "x", "admin": true}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!(s, 422, "unknown field: {text}");
    let (s, _) = raw("/v1/devices", vec![b' '; 100 * 1024], Some(admin.clone())).await;
    assert_eq!(s, 413, "oversized body");
    // Random bytes into every endpoint: never a server error.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let paths = [
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/users",
        "/v1/devices",
    ];
    for i in 0..200usize {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 300) as usize;
        let mut body: Vec<u8> = (0..len)
            .map(|k| (seed.rotate_left(k as u32 % 64) & 0xff) as u8)
            .collect();
        if i % 3 == 0 {
            body = format!(r#"{{"refresh_token": "rt.{}.{}", "name": "{}", "tenant": "juliet", "email": "e", "password": "p"}}"#, Uuid::now_v7(), seed, "x".repeat(len)).into_bytes();
        }
        let (s, text) = raw(
            paths[i % paths.len()],
            body,
            (i % 2 == 0).then(|| admin.clone()),
        )
        .await;
        assert!(
            (400..500).contains(&s),
            "{} answered {s}: {text}",
            paths[i % paths.len()]
        );
    }
    let (_, users) = api.call("GET", "/v1/devices", Some(&admin), None).await;
    assert_eq!(
        users,
        serde_json::json!([]),
        "nothing was created by bad requests"
    );
    api.stop();
}

#[test]
fn openapi_document_is_checked_in_and_current() {
    let generated = serde_json::to_string_pretty(&sync_server::openapi()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        // CI checks the document; it never rewrites it.
        assert!(
            std::env::var_os("CI").is_none(),
            "UPDATE_OPENAPI is refused when CI is set"
        );
        std::fs::write(path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated == checked_in,
        "sync-server/openapi.json is out of date with the code: run `UPDATE_OPENAPI=1 cargo test -p sync-server --test server openapi` and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/health",
        "/metrics",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/logout-everywhere",
        "/v1/users",
        "/v1/devices",
        "/v1/devices/{id}/revoke",
        "/v1/device/whoami",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the document"
        );
    }
}

#[test]
fn openapi_documents_pulls_query_and_the_sync_bodies_by_their_types() {
    let doc = serde_json::to_value(sync_server::openapi()).unwrap();
    let params: std::collections::BTreeMap<&str, (&str, bool)> = doc["paths"]["/v1/sync/pull"]
        ["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                (p["in"].as_str().unwrap(), p["required"] == true),
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            ("after", ("query", false)),
            ("after_hash", ("query", false)),
            ("limit", ("query", false)),
            ("wait", ("query", false)),
        ]
        .into(),
        "pull's parameters are optional query parameters"
    );
    // A body is a reference to a schema with its properties, not "an object".
    let schema_of = |content: &serde_json::Value| {
        let reference = content["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("not a reference to a schema: {content}"));
        let name = reference.strip_prefix("#/components/schemas/").unwrap();
        doc["components"]["schemas"][name].clone()
    };
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    for (what, schema, required) in [
        (
            "push request",
            schema_of(&op("/v1/sync/push", "post")["requestBody"]),
            vec!["protocol", "mutations"],
        ),
        (
            "push answer",
            schema_of(&op("/v1/sync/push", "post")["responses"]["200"]),
            vec!["epoch", "last_applied_seq", "outcomes", "gap", "audit_head"],
        ),
        (
            "pull answer",
            schema_of(&op("/v1/sync/pull", "get")["responses"]["200"]),
            vec![
                "protocol",
                "epoch",
                "head",
                "changes",
                "checksum",
                "last_applied_seq",
            ],
        ),
        (
            "records request",
            schema_of(&op("/v1/sync/records", "post")["requestBody"]),
            vec!["buckets"],
        ),
        (
            "records answer",
            schema_of(&op("/v1/sync/records", "post")["responses"]["200"]),
            vec!["records"],
        ),
    ] {
        assert!(
            schema["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty()),
            "{what}: {schema}"
        );
        for field in required {
            assert!(
                schema["required"]
                    .as_array()
                    .unwrap()
                    .contains(&field.into()),
                "{what} requires {field}: {schema}"
            );
        }
    }
    // Down to a mutation: an object naming its kind.
    let envelope = &doc["components"]["schemas"]["Envelope"];
    assert_eq!(envelope["additionalProperties"], false, "{envelope}");
    let mutation = &doc["components"]["schemas"]["Mutation"];
    assert_eq!(
        mutation["required"],
        serde_json::json!(["kind"]),
        "{mutation}"
    );
}

#[tokio::test]
async fn pull_refuses_malformed_query_parameters_in_the_shared_error_shape() {
    let api = Api::start().await;
    let (_, device) = enrolled_device(&api, "lima").await;
    for query in [
        "after=abc",
        "limit=1.5",
        "wait=-1",
        "after=99999999999999999999",
    ] {
        let (s, e) = api
            .call(
                "GET",
                &format!("/v1/sync/pull?{query}"),
                Some(&device),
                None,
            )
            .await;
        assert_eq!(s, 422, "{query}: {e}");
        assert_eq!(e["error"]["code"], "VALIDATION", "{query}: {e}");
    }
    let (s, e) = api
        .call(
            "GET",
            "/v1/sync/pull?after=0&limit=1&wait=0&after_hash=",
            Some(&device),
            None,
        )
        .await;
    assert_eq!(s, 200, "{e}");
    api.stop();
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let api = Api::start_with(|s| s.with_operator_token(OPERATOR_TOKEN).unwrap()).await;
    let (s, served) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        served,
        serde_json::to_value(sync_server::openapi()).unwrap()
    );
    for (path, ops) in served["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", &Uuid::now_v7().to_string());
            let (status, body) = api
                .call(&method.to_uppercase(), &concrete, None, None)
                .await;
            assert!(
                status != 404 && status != 405 && status < 500,
                "{method} {path}: {status} {body}"
            );
        }
    }
    api.stop();
}

#[tokio::test]
async fn multi_factor_sign_in_needs_the_current_code_once() {
    use clinic_core::totp;
    let api = Api::start().await;
    tenant(&api.database.pool, "kilo").await;
    let admin = api.admin_token("kilo").await;
    let confirm = |code: String| serde_json::json!({ "code": code });
    assert_eq!(
        api.call(
            "POST",
            "/v1/auth/mfa/confirm",
            Some(&admin),
            Some(confirm("123456".into()))
        )
        .await
        .0,
        409,
        "no set-up yet"
    );
    // A stolen access token alone cannot (re)configure multi-factor sign-in.
    let setup_with = |password: &'static str| serde_json::json!({ "password": password });
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/mfa/setup",
            Some(&admin),
            Some(setup_with("wrong-password")),
        )
        .await;
    assert_eq!(s, 401);
    let (s, setup) = api
        .call(
            "POST",
            "/v1/auth/mfa/setup",
            Some(&admin),
            Some(setup_with("admin-password-1")),
        )
        .await;
    assert_eq!(s, 200, "{setup}");
    assert!(setup["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let secret = totp::base32_decode(setup["secret"].as_str().unwrap()).unwrap();
    let now = || chrono::Utc::now().timestamp();
    let right = totp::code(&secret, totp::step(now()));
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        api.call(
            "POST",
            "/v1/auth/mfa/confirm",
            Some(&admin),
            Some(confirm(wrong.clone()))
        )
        .await
        .0,
        422
    );
    assert_eq!(
        api.call(
            "POST",
            "/v1/auth/mfa/confirm",
            Some(&admin),
            Some(confirm(right))
        )
        .await
        .0,
        204
    );
    let login = |totp: Option<String>, password: &'static str| {
        let body = serde_json::json!({"tenant": "kilo", "email": "admin@kilo.example", "password": password, "totp": totp});
        api.call("POST", "/v1/auth/login", None, Some(body))
    };
    let (s, v) = login(None, "admin-password-1").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("MFA_REQUIRED"))
    );
    let (s, v) = login(None, "wrong-password").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "the code is asked for only after the password"
    );
    let (s, _) = login(Some(wrong), "admin-password-1").await;
    assert_eq!(s, 401);
    // The confirmation used the current step, so the next valid code is a later one.
    let next = totp::code(&secret, totp::step(now()) + 1);
    let (s, v) = login(Some(next.clone()), "admin-password-1").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        login(Some(next), "admin-password-1").await.0,
        401,
        "a code works once"
    );
    // Once on, replacing it needs the password and a current code too.
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/mfa/setup",
            Some(&admin),
            Some(setup_with("admin-password-1")),
        )
        .await;
    assert_eq!(s, 401, "the current code is required");
    api.stop();
}

#[tokio::test]
async fn the_operator_api_provisions_tenants_only_when_switched_on_and_only_for_the_operator() {
    let off = Api::start().await;
    let body = serde_json::json!({"slug": "lima", "name": "Lima Clinic", "admin_email": "admin@lima.example", "admin_password": "admin-password-1", "plan": "basic"});
    let (s, _) = off
        .call(
            "POST",
            "/admin/tenants",
            Some(&format!("Operator {OPERATOR_TOKEN}")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 404, "switched off: the route does not exist");
    off.stop();
    let api = Api::start_with(|s| s.with_operator_token(OPERATOR_TOKEN).unwrap()).await;
    assert_eq!(
        api.call("POST", "/admin/tenants", None, Some(body.clone()))
            .await
            .0,
        401
    );
    assert_eq!(
        api.call(
            "POST",
            "/admin/tenants",
            Some("Operator not-the-token"),
            Some(body.clone())
        )
        .await
        .0,
        401
    );
    let operator = format!("Operator {OPERATOR_TOKEN}");
    let (s, created) = api
        .call(
            "POST",
            "/admin/tenants",
            Some(&operator),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["plan"]["max_users"], 5);
    assert_eq!(
        api.call("POST", "/admin/tenants", Some(&operator), Some(body))
            .await
            .0,
        409,
        "slug taken"
    );
    let bad = serde_json::json!({"slug": "Not A Slug", "name": "", "admin_email": "x", "admin_password": "short"});
    let (s, v) = api
        .call("POST", "/admin/tenants", Some(&operator), Some(bad))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        api.login("lima", "admin@lima.example", "admin-password-1")
            .await
            .0,
        200
    );
    // A tenant's administrator is not the operator.
    let lima = api.admin_token("lima").await;
    let other = serde_json::json!({"slug": "mike", "name": "Mike", "admin_email": "a@mike.example", "admin_password": "admin-password-1"});
    assert_eq!(
        api.call("POST", "/admin/tenants", Some(&lima), Some(other))
            .await
            .0,
        401
    );
    api.stop();
}

#[tokio::test]
async fn the_real_binary_logs_json_without_secrets_or_personal_data() {
    use std::io::BufRead;
    let (database, url) = fresh().await;
    tenant(&database.pool, "november").await;
    database.pool.close();
    let cluster = sync_server::testing::cluster();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&cluster.dir)
        .env("CLINIC_DATABASE_URL", &url)
        .env("CLINIC_LOG_JSON", "1")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // JSON logs go to stdout; read them on a thread and hand back the address.
    let stdout = child.stdout.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["fields"]["addr"].as_str().map(str::to_string))
            {
                let _ = addr_tx.send(addr);
            }
            lines.push(line);
        }
        lines
    });
    let Ok(addr) = addr_rx.recv_timeout(std::time::Duration::from_secs(30)) else {
        let _ = child.kill();
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        panic!(
            "the server did not announce its address: {err}\n{:?}",
            reader.join()
        );
    };
    let http = reqwest::Client::new();
    let canaries = [
        "Canary-Password-9431",
        "canary.person@example.org",
        "Zyxcanaryname",
    ];
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{addr}{path}")).json(&body).send()
    };
    post(
        "/v1/auth/login",
        serde_json::json!({"tenant": "november", "email": canaries[1], "password": canaries[0]}),
    )
    .await
    .unwrap();
    let ok: serde_json::Value = post("/v1/auth/login", serde_json::json!({"tenant": "november", "email": "admin@november.example", "password": "admin-password-1"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = ok["access_token"].as_str().unwrap().to_string();
    let refresh = ok["refresh_token"].as_str().unwrap().to_string();
    http.post(format!("http://{addr}/v1/users"))
        .header("authorization", format!("Bearer {token}"))
        .json(&serde_json::json!({"email": canaries[1], "name": canaries[2], "role": "receptionist", "password": canaries[0]}))
        .send()
        .await
        .unwrap();
    post(
        "/v1/auth/refresh",
        serde_json::json!({"refresh_token": refresh}),
    )
    .await
    .unwrap();
    post(
        "/v1/auth/refresh",
        serde_json::json!({"refresh_token": refresh}),
    )
    .await
    .unwrap(); // reuse: logged as a warning
    http.post(format!("http://{addr}/v1/users"))
        .body(format!("{{\"email\": \"{}\"", canaries[1]))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "graceful shutdown on SIGTERM"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let lines = reader.join().unwrap();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in &lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    let all = format!("{}\n{stderr}", lines.join("\n"));
    assert!(
        all.contains("refresh token reused"),
        "security events are logged"
    );
    for secret in
        canaries
            .iter()
            .map(|s| s.to_string())
            .chain([token, refresh, "admin-password-1".into()])
    {
        assert!(!all.contains(&secret), "the log contains {secret}");
    }
}

/// Runs the real binary with `args` and returns what it printed, failing
/// the test when it fails.
fn server_binary(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(args)
        .env_remove("CLINIC_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn the_real_binary_serves_https_on_the_network_with_the_certificate_it_fingerprints() {
    use std::ffi::OsStr;
    use std::io::BufRead;
    let (database, url) = fresh().await;
    tenant(&database.pool, "tango").await;
    database.pool.close();
    let dir = tempfile::tempdir().unwrap();
    // The cluster's own data folder: the server keeps the runtime role's
    // password there, and the role is the cluster's.
    let cluster = sync_server::testing::cluster();
    let data = cluster.dir.as_os_str();
    let pin = server_binary(&[
        OsStr::new("--data-dir"),
        data,
        OsStr::new("tls"),
        OsStr::new("fingerprint"),
    ]);
    assert!(pin.starts_with("SHA256:") && pin.len() == 71, "{pin}");
    assert_eq!(
        server_binary(&[
            OsStr::new("--data-dir"),
            data,
            OsStr::new("tls"),
            OsStr::new("fingerprint")
        ]),
        pin,
        "made once, kept in the data folder"
    );
    // A certificate from files: its own key's pin.
    let (_, ca_issued) = sync_server::testing::private_ca(dir.path());
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    assert_eq!(
        server_binary(&[
            OsStr::new("--data-dir"),
            data,
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
            OsStr::new("tls"),
            OsStr::new("fingerprint"),
        ]),
        ca_issued.pin.to_string()
    );
    // Listening on the network without a certificate: HTTPS with its own.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data)
        .env("CLINIC_DATABASE_URL", &url)
        .env("CLINIC_LOG_JSON", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let announced = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|v| v["fields"]["addr"].is_string())
    })
    .join()
    .unwrap()
    .expect("the server announced its address");
    assert_eq!(announced["fields"]["fingerprint"], pin.as_str());
    let port = announced["fields"]["addr"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/health")).await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "no plain HTTP on the network"
    );
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .unwrap();
    let res = https
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cert = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("the server's certificate")
        .to_vec();
    assert_eq!(
        clinic_core::api::KeyPin::of_certificate(&cert)
            .unwrap()
            .to_string(),
        pin,
        "the certificate served is the one fingerprinted"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn the_database_enforces_the_plans_patient_limit() {
    let (database, url) = fresh().await;
    let t = tenant(&database.pool, "oscar").await;
    let admin = db::connect(&url).await.unwrap();
    admin
        .execute(
            "UPDATE tenants SET max_patients = 2 WHERE id = $1",
            &[&t.tenant_id],
        )
        .await
        .unwrap();
    patient(&database.pool, t.tenant_id, 1).await;
    patient(&database.pool, t.tenant_id, 2).await;
    let mut client = database.pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut client, t.tenant_id).await.unwrap();
    let err = tx
        .execute(
            "INSERT INTO patients (tenant_id, id, patient_number, number_seq, first_name, last_name, date_of_birth, created_at, updated_at)
             VALUES ($1, $2, 'P0000031', 3, 'Third', 'Patient', '2000-01-01', now(), now())",
            &[&t.tenant_id, &Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert!(
        db::describe(&err).contains("patient limit"),
        "{}",
        db::describe(&err)
    );
    drop(tx);
    let counted: i64 = admin
        .query_one(
            "SELECT patient_count FROM tenants WHERE id = $1",
            &[&t.tenant_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 2);
    // Another tenant is not affected by this one's limit.
    let other = tenant(&database.pool, "papa").await;
    patient(&database.pool, other.tenant_id, 1).await;
    drop(client);
    database.pool.close();
}

#[tokio::test]
async fn the_runtime_role_cannot_rewrite_plans_audit_or_feed() {
    let (database, _) = fresh().await;
    let t = tenant(&database.pool, "quebec").await;
    let mut client = database.pool.get().await.unwrap();
    for sql in [
        "UPDATE tenants SET max_patients = 999999",
        "UPDATE audit_events SET action = 'x'",
        "UPDATE change_feed SET data = '{}'",
    ] {
        let tx = db::tenant_tx(&mut client, t.tenant_id).await.unwrap();
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert!(
            db::describe(&err).contains("permission denied"),
            "{sql}: {}",
            db::describe(&err)
        );
    }
    drop(client);
    database.pool.close();
}

#[tokio::test]
async fn no_request_waits_on_a_lock_or_a_statement_without_end() {
    let (database, url) = fresh().await;
    let t = tenant(&database.pool, "uniform").await;
    let mut c = database.pool.get().await.unwrap();
    let timeouts: Vec<String> = c
        .query(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .flat_map(|r| [r.get::<_, String>(0), r.get(1)])
        .collect();
    assert_eq!(timeouts, vec!["1min", "15s"]);
    // A statement that waits for a held feed lock past the timeout answers
    // "busy" (503), not an internal error.
    let holder = db::connect(&url).await.unwrap();
    holder
        .batch_execute("BEGIN; SELECT * FROM feed_heads FOR UPDATE")
        .await
        .unwrap();
    let tx = db::tenant_tx(&mut c, t.tenant_id).await.unwrap();
    tx.batch_execute("SET LOCAL lock_timeout = '200ms'")
        .await
        .unwrap();
    let e = tx
        .query_one("SELECT last_seq FROM feed_heads FOR UPDATE", &[])
        .await
        .unwrap_err();
    assert!(matches!(db::map_db(e), sync_server::ServerError::Busy));
    drop(tx);
    holder.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn a_repair_reads_the_records_of_its_buckets_in_bounded_pages() {
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "victor").await;
    let mutations: Vec<serde_json::Value> = (1..=40)
        .map(|n| {
            serde_json::json!({
                "device_seq": n, "id": Uuid::now_v7(), "user_id": t.admin_user_id, "at": Utc::now(),
                "mutation": {"kind": "register_patient", "patient": Uuid::now_v7(),
                    "patient_number": clinic_core::patients::format_patient_number(n as u64),
                    "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10"}},
            })
        })
        .collect();
    let protocol = clinic_core::sync::PROTOCOL_VERSION;
    let (s, e) = api
        .call(
            "POST",
            "/v1/sync/push",
            Some(&device),
            Some(serde_json::json!({"protocol": protocol, "mutations": mutations})),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let all: Vec<usize> = (0..clinic_core::sync::CHECKSUM_BUCKETS).collect();
    let page = |after: Option<String>, limit: u32| {
        let body = serde_json::json!({"buckets": all, "after": after, "limit": limit});
        let device = device.clone();
        let api = &api;
        async move {
            let (s, e) = api
                .call("POST", "/v1/sync/records", Some(&device), Some(body))
                .await;
            assert_eq!(s, 200, "{e}");
            serde_json::from_value::<clinic_core::sync::RecordsPage>(e).unwrap()
        }
    };
    let whole = page(None, 1_000_000).await;
    assert!(
        whole.records.len() > 40,
        "patients and the directory's records"
    );
    assert!(
        whole.records.len() <= clinic_core::sync::RECORDS_PAGE as usize && whole.next.is_none()
    );
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let p = page(after, 7).await;
        assert!(p.records.len() <= 7);
        seen.extend(p.records);
        match p.next {
            Some(n) => after = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, whole.records, "every record once, in id order");
    // The pages agree with the checksums the workstation compares.
    let (s, sums) = api
        .call("GET", "/v1/sync/checksums", Some(&device), None)
        .await;
    assert_eq!(s, 200);
    let computed =
        clinic_core::sync::BucketSums::compute(seen.iter().map(|r| (r.id, r.hash.as_str())));
    assert_eq!(serde_json::to_value(computed).unwrap(), sums);
}

async fn ssl_of(c: &tokio_postgres::Client) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn the_server_reaches_an_external_database_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = sync_server::testing::private_ca(dir.path());
    let cluster = sync_server::testing::cluster();
    cluster
        .pg
        .enable_tls(
            &dir.path().join("server.pem"),
            &dir.path().join("server.key"),
        )
        .await
        .unwrap();
    let (plain, url) = fresh().await;
    plain.pool.close();
    assert!(
        !ssl_of(&db::connect(&url).await.unwrap()).await,
        "plain unless asked"
    );
    let verified = format!("{url} sslmode=verify-full sslrootcert={}", ca.display());
    assert!(ssl_of(&db::connect(&verified).await.unwrap()).await);
    // The whole server: migrations as the administrator and the runtime
    // role's pool, both over TLS.
    let database = sync_server::open_database(&cluster.dir, Some(&verified))
        .await
        .unwrap();
    let pooled = database.pool.get().await.unwrap();
    assert!(ssl_of(&pooled).await, "the runtime pool uses TLS too");
    drop(pooled);
    database.pool.close();
    // A database whose certificate another authority signed is refused.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _) = sync_server::testing::private_ca(other.path());
    let wrong = format!(
        "{url} sslmode=verify-full sslrootcert={}",
        other_ca.display()
    );
    let e = db::connect(&wrong).await.unwrap_err().to_string();
    assert!(
        e.contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );
    // TLS without checks is not offered.
    let e = db::connect(&format!("{url} sslmode=require"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("verify-full"), "{e}");
    // The URL form reads the same settings.
    let port = cluster.pg.port();
    let password = url
        .split("password=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let dbname = url.split("dbname=").nth(1).unwrap().trim();
    let as_url = format!(
        "postgresql://clinic_admin:{password}@127.0.0.1:{port}/{dbname}?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    assert!(ssl_of(&db::connect(&as_url).await.unwrap()).await);
}

#[tokio::test]
async fn a_records_created_at_on_the_server_is_the_servers_clock_not_the_devices() {
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "whiskey").await;
    let started = Utc::now();
    let patient = Uuid::now_v7();
    let claimed = "2001-01-01T00:00:00Z";
    let envelope = |seq: i64, mutation: serde_json::Value| {
        serde_json::json!({"device_seq": seq, "id": Uuid::now_v7(), "user_id": t.admin_user_id,
            "at": claimed, "mutation": mutation})
    };
    let register = envelope(
        1,
        serde_json::json!({"kind": "register_patient", "patient": patient,
        "patient_number": clinic_core::patients::format_patient_number(1),
        "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10"}}),
    );
    let update = envelope(
        2,
        serde_json::json!({"kind": "update_patient", "patient": patient,
        "set": {"city": "Leeds"}}),
    );
    let protocol = clinic_core::sync::PROTOCOL_VERSION;
    for (i, m) in [register, update].into_iter().enumerate() {
        let (s, e) = api
            .call(
                "POST",
                "/v1/sync/push",
                Some(&device),
                Some(serde_json::json!({"protocol": protocol, "mutations": [m]})),
            )
            .await;
        assert_eq!(
            (s, e["outcomes"][0]["status"].as_str()),
            (200, Some("accepted")),
            "{i}: {e}"
        );
    }
    let mut c = api.database.pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut c, t.tenant_id).await.unwrap();
    let row = tx
        .query_one(
            "SELECT created_at, doc->>'created_at', city FROM patients WHERE id = $1",
            &[&patient],
        )
        .await
        .unwrap();
    let (created, in_doc, city): (chrono::DateTime<Utc>, String, String) =
        (row.get(0), row.get(1), row.get(2));
    assert!(
        created >= started - chrono::Duration::seconds(1),
        "{created}"
    );
    assert_eq!(city, "Leeds");
    assert!(
        in_doc.starts_with("2001-01-01"),
        "the document keeps what the desk said: {in_doc}"
    );
}

#[test]
fn the_embedded_cluster_lives_inside_the_data_folder_so_removing_it_removes_the_database() {
    use sync_server::embedded::EmbeddedPostgres;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server-data");
    let pg = EmbeddedPostgres::start(&data).unwrap();
    assert!(
        pg.cluster_dir().starts_with(data.canonicalize().unwrap()),
        "{}",
        pg.cluster_dir().display()
    );
    pg.stop().unwrap();
    let outside = !pg
        .cluster_dir()
        .starts_with(dir.path().canonicalize().unwrap());
    std::fs::remove_dir_all(&data).unwrap();
    assert!(
        !outside && !pg.cluster_dir().exists(),
        "nothing is left behind"
    );
    // Run as root, a folder the postgres user cannot reach is refused
    // with a clear message, before anything is made.
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if is_root {
        use std::os::unix::fs::PermissionsExt;
        let private = dir.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = EmbeddedPostgres::start(&private.join("data")).unwrap_err();
        assert!(e.to_string().contains("cannot reach"), "{e}");
    }
}

// ---- abuse: floods, rate limits, soft-deleted tenants, session lifetime ----

/// An operator soft-deletes a tenant: from then on nothing of it works,
/// sessions and workstations included.
#[tokio::test]
async fn a_soft_deleted_tenant_is_refused_sign_in_refresh_enrolment_pull_and_push() {
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "xray").await;
    let (s, pair) = api
        .login("xray", "admin@xray.example", "admin-password-1")
        .await;
    assert_eq!(s, 200, "{pair}");
    let bearer = format!("Bearer {}", pair["access_token"].as_str().unwrap());
    let admin = db::connect(&api.admin_url).await.unwrap();
    admin
        .execute(
            "UPDATE tenants SET deleted_at = now() WHERE id = $1",
            &[&t.tenant_id],
        )
        .await
        .unwrap();
    let (s, v) = api
        .login("xray", "admin@xray.example", "admin-password-1")
        .await;
    assert_eq!(s, 401, "sign-in: {v}");
    let (s, v) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(serde_json::json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(s, 401, "refresh: {v}");
    let (s, v) = api
        .call(
            "POST",
            "/v1/devices",
            Some(&bearer),
            Some(serde_json::json!({"name": "Another desk"})),
        )
        .await;
    assert_eq!(s, 401, "enrolment: {v}");
    let (s, v) = api
        .call("GET", "/v1/sync/pull?after=0", Some(&device), None)
        .await;
    assert_eq!(s, 401, "pull: {v}");
    let push =
        serde_json::json!({"protocol": clinic_core::sync::PROTOCOL_VERSION, "mutations": []});
    let (s, v) = api
        .call("POST", "/v1/sync/push", Some(&device), Some(push))
        .await;
    assert_eq!(s, 401, "push: {v}");
    api.stop();
}

/// Rotating a refresh token keeps a session going, but not for ever: thirty
/// days after its sign-in the family ends and the person signs in again.
#[tokio::test]
async fn a_refresh_token_family_ends_thirty_days_after_its_sign_in() {
    use chrono::Duration;
    let (database, _) = fresh().await;
    tenant(&database.pool, "yankee").await;
    let s = AppState::new(
        database.pool.clone(),
        sync_server::tokens::SigningKey::random(),
    );
    let start = Utc::now();
    let refresh = |token: String, day: i64| {
        let s = s.clone();
        async move {
            sync_server::accounts::refresh(
                s.anonymous_db(),
                &s.signing_key,
                &s.limits.refresh,
                &token,
                start + Duration::days(day),
            )
            .await
        }
    };
    let mut pair = sync_server::accounts::login(
        s.anonymous_db(),
        &s.signing_key,
        &s.passwords,
        clinic_core::api::LoginRequest {
            tenant: "yankee".into(),
            email: "admin@yankee.example".into(),
            password: "admin-password-1".into(),
            totp: None,
        },
        start,
    )
    .await
    .unwrap();
    for day in [10, 20, 29] {
        pair = refresh(pair.refresh_token, day)
            .await
            .unwrap_or_else(|e| panic!("day {day}: {e}"));
    }
    let err = refresh(pair.refresh_token, 31).await.unwrap_err();
    assert!(err.to_string().contains("sign in again"), "{err}");
    database.pool.close();
}

/// Sessions that exist when the server is upgraded get an end too: their
/// family's first sign-in plus thirty days (the migration reads every
/// tenant's tokens although row-level security is forced on them).
#[tokio::test]
async fn the_migration_gives_existing_refresh_token_families_their_end() {
    let (database, url) = fresh().await;
    let t = tenant(&database.pool, "sierra").await;
    let mut admin = db::connect(&url).await.unwrap();
    admin
        .batch_execute(
            "ALTER TABLE refresh_tokens DROP COLUMN family_expires_at;
             DELETE FROM schema_migrations WHERE name = '20261205000300_refresh_family_lifetime';",
        )
        .await
        .unwrap();
    let family = Uuid::now_v7();
    for (n, days_ago) in [(1, 40), (2, 25), (3, 5)] {
        admin
            .execute(
                "INSERT INTO refresh_tokens (tenant_id, id, user_id, family_id, token_hash, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, now() - make_interval(days => $6), now() + interval '20 days')",
                &[&t.tenant_id, &Uuid::now_v7(), &t.admin_user_id, &family, &format!("hash-{n}"), &days_ago],
            )
            .await
            .unwrap();
    }
    db::migrate(&mut admin).await.unwrap();
    let ends: Vec<bool> = admin
        .query(
            "SELECT family_expires_at = (SELECT min(issued_at) FROM refresh_tokens) + interval '30 days' FROM refresh_tokens",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ends, [true, true, true]);
    database.pool.close();
}

/// Confirming a password to change multi-factor sign-in is a sign-in
/// attempt: five wrong ones lock the account like five wrong sign-ins.
#[tokio::test]
async fn wrong_passwords_at_mfa_setup_count_towards_the_lockout() {
    let api = Api::start().await;
    tenant(&api.database.pool, "zulu").await;
    let admin = api.admin_token("zulu").await;
    for _ in 0..5 {
        let (s, v) = api
            .call(
                "POST",
                "/v1/auth/mfa/setup",
                Some(&admin),
                Some(serde_json::json!({"password": "wrong-password"})),
            )
            .await;
        assert_eq!(s, 401, "{v}");
    }
    let (s, v) = api
        .login("zulu", "admin@zulu.example", "admin-password-1")
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("ACCOUNT_LOCKED")),
        "{v}"
    );
    let (s, v) = api
        .call(
            "POST",
            "/v1/auth/mfa/setup",
            Some(&admin),
            Some(serde_json::json!({"password": "admin-password-1"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("ACCOUNT_LOCKED")),
        "{v}"
    );
    api.stop();
}

/// Sends every `(path, body)` of `flood` at once, and while they are in
/// flight (`after` they started) pulls another tenant's feed with `device`
/// five times: each answers 200, the slowest within a second. How the
/// flood was answered, by status.
async fn pulls_stay_fast_during(
    api: &Api,
    device: &str,
    flood: Vec<(&str, serde_json::Value)>,
    after: std::time::Duration,
) -> std::collections::BTreeMap<u16, usize> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let pull = "/v1/sync/pull?after=0&limit=1";
    assert_eq!(api.call("GET", pull, Some(device), None).await.0, 200);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (done, total) = (Arc::new(AtomicUsize::new(0)), flood.len());
    let requests: Vec<_> = flood
        .into_iter()
        .map(|(path, body)| {
            let (req, done) = (
                client.post(format!("{}{path}", api.base)).json(&body),
                done.clone(),
            );
            tokio::spawn(async move {
                let status = req.send().await.map(|r| r.status().as_u16());
                done.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    tokio::time::sleep(after).await;
    let mut slowest = Duration::ZERO;
    let first_sent_after = done.load(Ordering::SeqCst);
    for _ in 0..5 {
        let started = Instant::now();
        let (s, v) = api.call("GET", pull, Some(device), None).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(s, 200, "the other tenant's pull during the flood: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "slowest pull {slowest:?}; {} of {total} requests answered when the first was sent",
        first_sent_after
    );
    assert!(
        first_sent_after < total,
        "the flood was over before the pulls were measured"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "the slowest pull took {slowest:?} while requests were in flight"
    );
    let mut statuses = std::collections::BTreeMap::new();
    for r in requests {
        let status = r.await.unwrap().expect("every request is answered");
        *statuses.entry(status).or_insert(0) += 1;
    }
    eprintln!("answered: {statuses:?}");
    statuses
}

/// A server for a flood: the rate limits, which would refuse most of a flood
/// from one address at once, are raised (this is about what gets past them,
/// e.g. from many addresses), and its password checks are its own (not the
/// other tests' in this process); with tenant `slug` and another tenant's
/// enrolled workstation.
async fn flood_target(slug: &str) -> (Api, String) {
    let api = Api::start_with(|s| {
        s.with_rate_limits(sync_server::testing::generous_rate_limits())
            .with_password_work(std::sync::Arc::new(
                sync_server::passwords::PasswordWork::for_this_machine(),
            ))
    })
    .await;
    let (_, device) = enrolled_device(&api, "victor").await;
    tenant(&api.database.pool, slug).await;
    (api, device)
}

/// 500 sign-ins for a tenant that does not exist and 50 wrong passwords for
/// a real account, all at once, from nobody signed in: another tenant's
/// workstation still pulls within a second while they are in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_sign_ins_leaves_other_tenants_sync_answering() {
    let (api, device) = flood_target("whiskey").await;
    let flood = (0..550)
        .map(|i| {
            let body = if i % 11 == 0 {
                serde_json::json!({"tenant": "whiskey", "email": "admin@whiskey.example", "password": format!("wrong-password-{i}")})
            } else {
                serde_json::json!({"tenant": "no-such-clinic", "email": format!("x{i}@nowhere.example"), "password": "guess-password-1"})
            };
            ("/v1/auth/login", body)
        })
        .collect();
    let statuses =
        pulls_stay_fast_during(&api, &device, flood, std::time::Duration::from_millis(300)).await;
    assert!(
        statuses.keys().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    // The real account counted its failures and is locked.
    let admin = db::connect(&api.admin_url).await.unwrap();
    let row = admin
        .query_one(
            "SELECT failed_logins, locked_until IS NOT NULL FROM users WHERE email = 'admin@whiskey.example'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i32>(0) >= 5 && row.get::<_, bool>(1));
    api.stop();
}

/// The same with refresh: 1,000 refresh tokens that do not exist and 50
/// uses at once of one real token (a theft, which revokes its family).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_refreshes_leaves_other_tenants_sync_answering() {
    let (api, device) = flood_target("xray").await;
    let (s, pair) = api
        .login("xray", "admin@xray.example", "admin-password-1")
        .await;
    assert_eq!(s, 200, "{pair}");
    let flood = (0..1050)
        .map(|i| {
            let token = if i % 21 == 0 {
                pair["refresh_token"].as_str().unwrap().to_string()
            } else {
                format!("rt.{}.{}", Uuid::now_v7(), "A".repeat(43))
            };
            (
                "/v1/auth/refresh",
                serde_json::json!({ "refresh_token": token }),
            )
        })
        .collect();
    let statuses =
        pulls_stay_fast_during(&api, &device, flood, std::time::Duration::from_millis(20)).await;
    assert!(statuses.get(&200).is_some_and(|n| *n <= 1), "{statuses:?}");
    assert!(
        statuses.keys().all(|s| [200, 401, 503].contains(s)),
        "{statuses:?}"
    );
    api.stop();
}

/// Passwords are checked with no connection or lock held, so the account
/// can change meanwhile: a sign-in whose password was replaced while it was
/// being checked does not count, and failures checked at the same time all
/// count.
#[tokio::test]
async fn what_changes_while_a_password_is_checked_is_respected() {
    use sync_server::passwords::PasswordWork;
    let work = std::sync::Arc::new(PasswordWork::new(1, 64));
    let api = Api::start_with({
        let work = work.clone();
        |s| s.with_password_work(work)
    })
    .await;
    tenant(&api.database.pool, "tango").await;
    let admin = db::connect(&api.admin_url).await.unwrap();
    let sign_in = |password: &str| {
        let req = api
            .http
            .post(format!("{}/v1/auth/login", api.base))
            .json(&serde_json::json!({"tenant": "tango", "email": "admin@tango.example", "password": password}));
        tokio::spawn(async move {
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<serde_json::Value>().await.unwrap(),
            )
        })
    };
    let queued = |n: usize| {
        let work = work.clone();
        async move {
            while work.waiting() < n {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    // The right password, replaced while the check waits.
    let held = work.hold_all().await;
    let right = sign_in("admin-password-1");
    queued(1).await;
    let other_hash =
        clinic_core::auth::hash_password(&Password::new("another-password-2".into()), &[3; 16])
            .unwrap();
    admin
        .execute(
            "UPDATE users SET password_hash = $1 WHERE email = 'admin@tango.example'",
            &[&other_hash],
        )
        .await
        .unwrap();
    drop(held);
    let (s, v) = right.await.unwrap();
    assert_eq!(s, 401, "signed in with a password replaced meanwhile: {v}");
    // Eight wrong passwords checked at once: eight failures, and a lock.
    let held = work.hold_all().await;
    let wrong: Vec<_> = (0..8).map(|_| sign_in("wrong-password")).collect();
    queued(8).await;
    drop(held);
    for w in wrong {
        assert_eq!(w.await.unwrap().0, 401);
    }
    let row = admin
        .query_one(
            "SELECT failed_logins, locked_until > now() FROM users WHERE email = 'admin@tango.example'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, bool>(1)), (8, true));
    let (s, v) = sign_in("another-password-2").await.unwrap();
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("ACCOUNT_LOCKED")),
        "{v}"
    );
    api.stop();
}

/// Sends `body(i, previous answer)` to `path` until it is refused as
/// rate-limited (429 `RATE_LIMITED` with a `Retry-After` of 1 to 60
/// seconds), each answer before being `expected`: how many were answered,
/// and the last of those answers.
async fn attempts_until_limited(
    api: &Api,
    path: &str,
    auth: Option<&str>,
    expected: u16,
    mut body: impl FnMut(usize, &serde_json::Value) -> serde_json::Value,
) -> (usize, serde_json::Value) {
    let mut last = serde_json::Value::Null;
    for i in 0..200 {
        let mut req = api
            .http
            .post(format!("{}{path}", api.base))
            .json(&body(i, &last));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let v: serde_json::Value = res.json().await.unwrap_or_default();
        if status == 429 {
            assert_eq!(v["error"]["code"], "RATE_LIMITED", "{v}");
            let after = after.expect("a Retry-After header in seconds");
            assert!((1..=60).contains(&after), "Retry-After: {after}");
            return (i, last);
        }
        assert_eq!(status, expected, "{path}, attempt {i}: {v}");
        last = v;
    }
    panic!("{path} was never limited");
}

/// The default limits: ten sign-ins a minute per account and thirty per
/// address; ten refreshes per account (sixty per address); ten enrolments
/// per administrator.
#[tokio::test]
async fn sign_in_refresh_and_enrolment_are_rate_limited_with_retry_after() {
    let api = Api::start().await;
    tenant(&api.database.pool, "uniform").await;
    let sign_in = |email: String| serde_json::json!({"tenant": "uniform", "email": email, "password": "guess-password-1"});
    // One account, however its address is spelled.
    let (n, _) = attempts_until_limited(&api, "/v1/auth/login", None, 401, |i, _| {
        sign_in(if i % 2 == 0 {
            "who@uniform.example".into()
        } else {
            " WHO@Uniform.example".into()
        })
    })
    .await;
    assert_eq!(n, 10, "sign-ins for one account");
    // One address, whichever accounts it names (the refused one counted).
    let (n, _) = attempts_until_limited(&api, "/v1/auth/login", None, 401, |i, _| {
        sign_in(format!("p{i}@uniform.example"))
    })
    .await;
    assert!(
        (19..=22).contains(&n),
        "{} sign-ins from one address",
        n + 11
    );
    // Refresh tokens that do not exist, from one address.
    let (n, _) = attempts_until_limited(&api, "/v1/auth/refresh", None, 401, |_, _| {
        serde_json::json!({"refresh_token": format!("rt.{}.{}", Uuid::now_v7(), "A".repeat(43))})
    })
    .await;
    assert!((60..=65).contains(&n), "{n} refreshes from one address");
    api.stop();

    // One session rotated again and again: its account is limited, and the
    // refused token is not used up.
    let api = Api::start().await;
    tenant(&api.database.pool, "victor").await;
    let (s, first) = api
        .login("victor", "admin@victor.example", "admin-password-1")
        .await;
    assert_eq!(s, 200, "{first}");
    let (n, pair) = attempts_until_limited(&api, "/v1/auth/refresh", None, 200, |_, last| {
        let from = if last.is_null() { &first } else { last };
        serde_json::json!({"refresh_token": from["refresh_token"]})
    })
    .await;
    assert_eq!(n, 10, "refreshes of one account");
    let admin = db::connect(&api.admin_url).await.unwrap();
    let unused: bool = admin
        .query_one(
            "SELECT revoked_at IS NULL FROM refresh_tokens WHERE token_hash = $1",
            &[&sync_server::tokens::hash_secret(
                pair["refresh_token"].as_str().unwrap(),
            )],
        )
        .await
        .unwrap()
        .get(0);
    assert!(unused, "the refused refresh token still works later");
    let bearer = format!("Bearer {}", pair["access_token"].as_str().unwrap());
    let (n, _) = attempts_until_limited(
        &api,
        "/v1/devices",
        Some(&bearer),
        201,
        |i, _| serde_json::json!({"name": format!("Desk {i}")}),
    )
    .await;
    assert_eq!(n, 10, "enrolments by one administrator");
    api.stop();
}

/// Each client is limited by its own address, which the server takes from
/// the connection (here 127.0.0.1 and 127.0.0.2, one sign-in a minute each).
#[tokio::test]
async fn each_client_address_has_its_own_limit() {
    use std::net::IpAddr;
    let one = sync_server::limits::Rate {
        per_address: 1,
        per_account: 100,
    };
    let api = Api::start_with(|s| {
        s.with_rate_limits(sync_server::limits::RateLimits {
            sign_in: one,
            refresh: one,
            enrol: one,
        })
    })
    .await;
    tenant(&api.database.pool, "romeo").await;
    let sign_in_from = |ip: &str| {
        let client = reqwest::Client::builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .build()
            .unwrap();
        let req = client
            .post(format!("{}/v1/auth/login", api.base))
            .json(&serde_json::json!({"tenant": "romeo", "email": "admin@romeo.example", "password": "admin-password-1"}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(sign_in_from("127.0.0.1").await, 200);
    assert_eq!(sign_in_from("127.0.0.1").await, 429);
    assert_eq!(sign_in_from("127.0.0.2").await, 200, "another address");
    api.stop();
}

// ---- tenant isolation, read from the catalogue ----

/// The tables row-level security scopes to a tenant, from the catalogue:
/// every table of the schema with a `tenant_id` column, with row-level
/// security enabled or a policy, or that a `tenant_id` column references
/// (the tenants directory), with the column its policy must compare
/// (`tenant_id`; the directory's own `id`).
async fn tenant_tables(admin: &impl tokio_postgres::GenericClient) -> Vec<(String, String)> {
    admin
        .query(
            "WITH tenant_column AS (
                 SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'tenant_id' AND NOT a.attisdropped),
             tenant_directory AS (
                 SELECT con.confrelid FROM pg_constraint con JOIN pg_attribute a
                   ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
                 WHERE con.contype = 'f' AND a.attname = 'tenant_id')
             SELECT c.relname::text,
                    CASE WHEN c.oid IN (SELECT attrelid FROM tenant_column) THEN 'tenant_id' ELSE 'id' END
             FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
               AND (c.relrowsecurity
                    OR c.oid IN (SELECT attrelid FROM tenant_column)
                    OR c.oid IN (SELECT polrelid FROM pg_policy)
                    OR c.oid IN (SELECT confrelid FROM tenant_directory))
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Whether PostgreSQL refused a statement for row-level security or privileges.
fn refused(e: &tokio_postgres::Error) -> bool {
    let why = db::describe(e);
    why.contains("row-level security") || why.contains("permission denied")
}

/// How tenant `a`'s transactions (the runtime role, [`db::tenant_tx`], no
/// tenant filter in the queries) reach rows of tenant `b`, table by table:
/// empty when isolation holds. A table without rows of both tenants proves
/// nothing, so it is reported too.
async fn isolation_leaks(
    pool: &deadpool_postgres::Pool,
    admin: &tokio_postgres::Client,
    a: Uuid,
    b: Uuid,
) -> Vec<String> {
    let mut leaks = Vec::new();
    let mut client = pool.get().await.unwrap();
    for (t, col) in tenant_tables(admin).await {
        let row = admin
            .query_one(
                &format!("SELECT count(*) FILTER (WHERE {col} = $1), count(*) FILTER (WHERE {col} = $2) FROM {t}"),
                &[&a, &b],
            )
            .await
            .unwrap();
        let (own, theirs): (i64, i64) = (row.get(0), row.get(1));
        if own == 0 || theirs == 0 {
            leaks.push(format!(
                "{t}: no rows of both tenants ({own} and {theirs}); give it some in busy_tenant"
            ));
            continue;
        }
        let unscoped: i64 = client
            .query_one(&format!("SELECT count(*) FROM {t}"), &[])
            .await
            .unwrap()
            .get(0);
        if unscoped != 0 {
            leaks.push(format!("{t}: {unscoped} rows visible with no tenant set"));
        }
        let tx = db::tenant_tx(&mut client, a).await.unwrap();
        let row = tx
            .query_one(
                &format!("SELECT count(*) FILTER (WHERE {col} = $1), count(*) FILTER (WHERE {col} IS DISTINCT FROM $1) FROM {t}"),
                &[&a],
            )
            .await
            .unwrap();
        let (seen_own, seen_other): (i64, i64) = (row.get(0), row.get(1));
        if seen_other != 0 || seen_own != own {
            leaks.push(format!(
                "{t}: tenant A sees {seen_other} rows of other tenants and {seen_own} of its own {own}"
            ));
        }
        tx.rollback().await.unwrap();
        // Writes that would touch B's rows, each in its own transaction.
        let writes = [
            (
                "update B's rows",
                format!("UPDATE {t} SET {col} = {col} WHERE {col} = $2 AND $1::uuid IS NOT NULL"),
            ),
            (
                "move its own rows into B",
                format!("UPDATE {t} SET {col} = $2 WHERE {col} = $1"),
            ),
            (
                "insert a row of B",
                format!(
                    "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, to_jsonb(x) || jsonb_build_object('{col}', $2::uuid))).*
                     FROM {t} x WHERE {col} = $1 LIMIT 1"
                ),
            ),
        ];
        for (what, sql) in writes {
            let tx = db::tenant_tx(&mut client, a).await.unwrap();
            match tx.execute(&sql, &[&a, &b]).await {
                Err(e) if refused(&e) => {}
                // Nothing of B's to update is as good as a refusal.
                Ok(0) if what == "update B's rows" => {}
                Ok(n) => leaks.push(format!("{t}: tenant A could {what} ({n} rows)")),
                Err(e) => leaks.push(format!(
                    "{t}: tenant A's attempt to {what} was not refused by row-level security: {}",
                    db::describe(&e)
                )),
            }
            tx.rollback().await.unwrap();
        }
    }
    leaks
}

/// A tenant with rows in every tenant table: provisioned (sites, roles,
/// users, feed), signed in (refresh tokens), a device enrolled (devices,
/// its state, number blocks), and a push of a patient, a booking of them
/// (patients, issued numbers, outcomes, appointments, notifications, the
/// feed and its records) and an audit event. Tables the server does not
/// write (yet) get a row from the database's administrator.
async fn busy_tenant(api: &Api, slug: &str) -> Uuid {
    let (t, device) = enrolled_device(api, slug).await;
    let device_id =
        sync_server::tokens::device_credential_ids(device.strip_prefix("Device ").unwrap())
            .unwrap()
            .1;
    let (patient, appointment, encounter) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = Utc::now();
    let start: chrono::DateTime<Utc> = "2030-07-15T08:00:00Z".parse().unwrap();
    let envelope = |seq: i64, mutation: serde_json::Value| serde_json::json!({"device_seq": seq, "id": Uuid::now_v7(), "user_id": t.admin_user_id, "at": now, "mutation": mutation});
    let invoice = Uuid::now_v7();
    let stock_item = clinic_core::inventory::StockItem::id_for(t.tenant_id, "AMOX");
    let money = |kind: &str, receipt: &str| {
        serde_json::json!({"id": Uuid::now_v7(), "tenant_id": t.tenant_id, "patient_id": patient,
            "invoice_id": invoice, "kind": kind, "method": "card", "amount": "20.00", "currency": "EUR",
            "received_on": now.date_naive(), "receipt_number": receipt, "recorded_by": t.admin_user_id,
            "recorded_at": now})
    };
    let mut event = clinic_core::audit::AuditEvent {
        device_id,
        seq: 1,
        id: Uuid::now_v7(),
        tenant_id: t.tenant_id,
        at: now,
        user_id: Some(t.admin_user_id),
        action: "patient.read".into(),
        entity_type: "patient".into(),
        entity_id: Some(patient),
        patient_id: Some(patient),
        details: serde_json::json!({}),
        prev_hash: clinic_core::audit::GENESIS_HASH.into(),
        hash: String::new(),
        author_key: None,
        signature: None,
    };
    event.hash = clinic_core::audit::event_hash(&event);
    let push = serde_json::json!({
        "protocol": clinic_core::sync::PROTOCOL_VERSION,
        "mutations": [
            envelope(1, serde_json::json!({"kind": "register_patient", "patient": patient,
                "patient_number": clinic_core::patients::format_patient_number(1),
                "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10",
                    "email": "ada@example.com", "preferred_channel": "email", "reminders_opt_in": true}})),
            envelope(2, serde_json::json!({"kind": "book_appointment", "appointment": {
                "id": appointment, "tenant_id": t.tenant_id, "site_id": t.site_id, "patient_id": patient,
                "clinician_id": t.admin_user_id, "type_name": "Consultation", "start": start, "minutes": 30,
                "timezone": "Europe/London", "status": "scheduled", "booked_by": t.admin_user_id,
                "created_at": now, "updated_at": now}})),
            envelope(3, serde_json::json!({"kind": "start_encounter", "encounter": encounter,
                "patient": patient, "clinician": t.admin_user_id,
                "encounter_type": "consultation"})),
            envelope(4, serde_json::json!({"kind": "issue_prescription", "prescription": {
                "id": Uuid::now_v7(), "tenant_id": t.tenant_id, "encounter_id": encounter, "patient_id": patient,
                "prescriber_id": t.admin_user_id, "status": "active", "issued_at": now, "expires_on": "2031-01-01",
                "updated_at": now, "lines": [{"drug": "Paracetamol", "dose": "1 g", "frequency": "four times a day", "days": 3}]}})),
            envelope(5, serde_json::json!({"kind": "create_invoice", "invoice": invoice, "patient": patient,
                "currency": "EUR", "prices_include_tax": false,
                "lines": [{"description": "Consultation", "quantity": "1", "unit_price": "45.00", "tax_rate": "20"}]})),
            envelope(6, serde_json::json!({"kind": "issue_invoice", "invoice": invoice, "number": "INV-000001",
                "issued_on": now.date_naive(), "due_on": now.date_naive(), "total": "54.00", "print": {}})),
            envelope(7, serde_json::json!({"kind": "record_payment", "payment": money("payment", "RCT-000001")})),
            envelope(8, serde_json::json!({"kind": "issue_credit_note", "note": {
                "id": Uuid::now_v7(), "tenant_id": t.tenant_id, "invoice_id": invoice, "patient_id": patient,
                "number": "CN-000001", "invoice_number": "INV-000001", "lines": [],
                "totals": {"subtotal": "0", "discount": "0", "tax": "0", "total": "0"}, "currency": "EUR",
                "reason": "Charged twice", "issued_by": t.admin_user_id, "issued_at": now,
                "issued_on": now.date_naive()}})),
            envelope(9, serde_json::json!({"kind": "add_stock_item", "item": {
                "id": stock_item, "tenant_id": t.tenant_id, "sku": "AMOX", "name": "Amoxicillin 500 mg",
                "unit": "box", "updated_at": now}})),
            envelope(10, serde_json::json!({"kind": "receive_stock", "receipts": [{"lot": "", "movement": {
                "id": Uuid::now_v7(), "tenant_id": t.tenant_id, "item_id": stock_item,
                "batch_id": clinic_core::inventory::StockBatch::id_for(stock_item, ""),
                "site_id": t.site_id, "kind": "receipt", "quantity": 5, "unit_cost": "1.20",
                "on": now.date_naive(), "by": t.admin_user_id, "at": now}}]})),
        ],
        "audit": [event],
    });
    let (s, e) = api
        .call("POST", "/v1/sync/push", Some(&device), Some(push))
        .await;
    assert_eq!(s, 200, "{e}");
    for o in e["outcomes"].as_array().unwrap() {
        assert_eq!(o["status"], "accepted", "{o}");
    }
    let admin = db::connect(&api.admin_url).await.unwrap();
    let (tenant, user) = (t.tenant_id, t.admin_user_id);
    let fixtures: [(&str, &[&(dyn tokio_postgres::types::ToSql + Sync)]); 3] = [
        (
            "INSERT INTO rooms (tenant_id, id, site_id, name) VALUES ($1, $2, $3, 'Room 1')",
            &[&tenant, &Uuid::now_v7(), &t.site_id],
        ),
        (
            "INSERT INTO user_roles (tenant_id, user_id, role_id) SELECT $1, $2, id FROM roles WHERE tenant_id = $1 AND key = 'admin'",
            &[&tenant, &user],
        ),
        (
            "INSERT INTO clinician_profiles (tenant_id, user_id, specialization) VALUES ($1, $2, 'General practice')",
            &[&tenant, &user],
        ),
    ];
    for (sql, params) in fixtures {
        admin
            .execute(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {}", db::describe(&e)));
    }
    t.tenant_id
}

#[tokio::test]
async fn every_tenant_table_shows_a_tenant_its_own_rows_only_and_takes_no_write_into_another() {
    let api = Api::start().await;
    let a = busy_tenant(&api, "alpha").await;
    let b = busy_tenant(&api, "bravo").await;
    let admin = db::connect(&api.admin_url).await.unwrap();
    let tables = tenant_tables(&admin).await;
    assert!(
        tables.len() >= 20 && tables.iter().any(|(t, c)| t == "tenants" && c == "id"),
        "{tables:?}"
    );
    let pool = &api.database.pool;
    assert_eq!(
        isolation_leaks(pool, &admin, a, b).await,
        Vec::<String>::new()
    );
    assert_eq!(
        isolation_leaks(pool, &admin, b, a).await,
        Vec::<String>::new()
    );
    // The check notices a policy that lets reads through, and one that lets writes through.
    admin
        .batch_execute(
            "ALTER POLICY tenant_isolation ON patients USING (true);
             ALTER POLICY tenant_isolation ON notifications WITH CHECK (true);",
        )
        .await
        .unwrap();
    let leaks = isolation_leaks(pool, &admin, a, b).await;
    assert!(
        leaks
            .iter()
            .any(|l| l.starts_with("patients: tenant A sees 1 rows of other tenants"))
            && leaks
                .iter()
                .any(|l| l.starts_with("notifications:") && l.contains("insert a row of B"))
            && leaks
                .iter()
                .all(|l| l.starts_with("patients:") || l.starts_with("notifications:")),
        "{leaks:#?}"
    );
    api.stop();
}

/// The tenant of the transaction, as every policy must read it: the
/// setting [`db::tenant_tx`] makes, a missing or empty one matching no row.
const TENANT_SETTING: &str =
    "(NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid";

/// What is wrong with the row-level security of the tenant tables, read
/// from the catalogue: empty when every table has it enabled and forced
/// (the tenants directory is not forced, so that its owner's sign-in
/// lookup by slug works) and every policy, for reads and for writes,
/// compares the table's tenant column with the transaction's tenant.
async fn policy_problems(admin: &impl tokio_postgres::GenericClient) -> Vec<String> {
    let mut problems = Vec::new();
    for (t, col) in tenant_tables(admin).await {
        let row = admin
            .query_one(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = ('public.' || quote_ident($1))::regclass",
                &[&t],
            )
            .await
            .unwrap();
        let (enabled, forced): (bool, bool) = (row.get(0), row.get(1));
        if !enabled || !(forced || t == "tenants") {
            problems.push(format!(
                "{t}: row-level security enabled={enabled} forced={forced}"
            ));
        }
        let expected = format!("({col} = {TENANT_SETTING})");
        let policies = admin
            .query(
                "SELECT policyname::text, permissive, cmd, qual, with_check FROM pg_policies
                 WHERE schemaname = 'public' AND tablename = $1 ORDER BY 1",
                &[&t],
            )
            .await
            .unwrap();
        if policies.is_empty() {
            problems.push(format!("{t}: no policy"));
        }
        for p in policies {
            let (name, kind, cmd): (String, String, String) = (p.get(0), p.get(1), p.get(2));
            let (using, check): (Option<String>, Option<String>) = (p.get(3), p.get(4));
            if using.as_deref() != Some(&expected) || check.as_deref() != Some(&expected) {
                problems.push(format!(
                    "{t}.{name} ({kind} {cmd}): USING {using:?} WITH CHECK {check:?}, not {expected}"
                ));
            }
        }
    }
    problems
}

#[tokio::test]
async fn every_tenant_tables_policies_compare_its_tenant_with_the_transactions_tenant() {
    let (database, url) = fresh().await;
    let mut admin = db::connect(&url).await.unwrap();
    let tables = tenant_tables(&admin).await;
    assert!(tables.len() >= 20, "{tables:?}");
    assert_eq!(policy_problems(&admin).await, Vec::<String>::new());
    // Each of these breaks isolation; the check names it (in a transaction
    // that is rolled back, so the next starts from the real schema).
    for (breach, named) in [
        ("ALTER POLICY tenant_isolation ON patients USING (true) WITH CHECK (true)", "patients.tenant_isolation"),
        ("ALTER POLICY tenant_isolation ON users WITH CHECK (true)", "users.tenant_isolation"),
        ("ALTER POLICY tenant_isolation ON devices USING (tenant_id IS NOT NULL)", "devices.tenant_isolation"),
        ("ALTER POLICY tenant_isolation ON tenants USING (true)", "tenants.tenant_isolation"),
        ("CREATE POLICY open ON appointments USING (true)", "appointments.open"),
        ("DROP POLICY tenant_isolation ON notifications", "notifications: no policy"),
        ("ALTER TABLE sync_records NO FORCE ROW LEVEL SECURITY", "sync_records: row-level security"),
        ("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY", "tenants: row-level security"),
        ("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY; DROP POLICY tenant_isolation ON tenants", "tenants: row-level security"),
        ("CREATE TABLE claims (tenant_id uuid NOT NULL, id uuid NOT NULL, PRIMARY KEY (tenant_id, id))", "claims: row-level security"),
    ] {
        let tx = admin.transaction().await.unwrap();
        tx.batch_execute(breach).await.unwrap();
        let problems = policy_problems(&tx).await;
        let table = named.split(['.', ':']).next().unwrap();
        assert!(
            problems.iter().any(|p| p.starts_with(named))
                && problems.iter().all(|p| p.starts_with(table)),
            "{breach}: {problems:#?}"
        );
        tx.rollback().await.unwrap();
    }
    database.pool.close();
}

#[tokio::test]
async fn audit_verify_reports_a_tenants_chains_and_signatures_and_fails_on_a_bad_one() {
    let api = Api::start().await;
    let (t, device) = enrolled_device(&api, "sierra").await;
    let device_id =
        sync_server::tokens::device_credential_ids(device.strip_prefix("Device ").unwrap())
            .unwrap()
            .1;
    // One change (signed by the test client as the administrator) and one
    // audit event nobody signed in made (as a refused sign-in is).
    let mut event = clinic_core::audit::AuditEvent {
        device_id,
        seq: 1,
        id: Uuid::now_v7(),
        tenant_id: t.tenant_id,
        // As a desk sends it: to the microsecond, as it stores it.
        at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
        user_id: None,
        action: "user.login_failed".into(),
        entity_type: "user".into(),
        entity_id: None,
        patient_id: None,
        details: serde_json::json!({"reason": "unknown_user"}),
        prev_hash: clinic_core::audit::GENESIS_HASH.into(),
        hash: String::new(),
        author_key: None,
        signature: None,
    };
    event.hash = clinic_core::audit::event_hash(&event);
    let (s, e) = api
        .call(
            "POST",
            "/v1/sync/push",
            Some(&device),
            Some(serde_json::json!({
                "protocol": clinic_core::sync::PROTOCOL_VERSION,
                "mutations": [{"device_seq": 1, "id": Uuid::now_v7(), "user_id": t.admin_user_id,
                    "at": Utc::now(), "mutation": {"kind": "register_patient", "patient": Uuid::now_v7(),
                    "patient_number": clinic_core::patients::format_patient_number(1),
                    "details": {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10"}}}],
                "audit": [event],
            })),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["outcomes"][0]["status"], "accepted", "{e}");
    assert_eq!(e["audit_head"], 1, "{e}");
    let (data, url) = (
        sync_server::testing::cluster().dir.clone(),
        api.admin_url.clone(),
    );
    let verify = move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .arg("--data-dir")
            .arg(&data)
            .args(["audit", "verify", "--tenant", "sierra"])
            .env("CLINIC_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking(verify.clone()).await.unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["devices"][0]["events"], 1, "{report}");
    assert_eq!(report["devices"][0]["unsigned"], 1, "{report}");
    // A signature put on the event afterwards, in the administrator's name: found.
    let admin = db::connect(&api.admin_url).await.unwrap();
    let key: String = admin
        .query_one(
            "SELECT doc->'signing_key'->>'key_id' FROM sync_records WHERE id = $1",
            &[&t.admin_user_id],
        )
        .await
        .unwrap()
        .get(0);
    admin
        .execute(
            "UPDATE audit_events SET user_id = $1, author_key = $2, signature = $3 WHERE device_id = $4",
            &[&t.admin_user_id, &key, &format!("{}==", "A".repeat(86)), &device_id],
        )
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(verify).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    let bad = &report["devices"][0]["bad_signatures"][0];
    assert_eq!(bad[0], 1, "{report}");
    assert!(
        report["devices"][0]["chain_break"].is_object(),
        "the event's user was changed: its hash no longer holds ({report})"
    );
}
