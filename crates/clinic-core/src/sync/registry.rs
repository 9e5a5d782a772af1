//! The registry of record kinds, mutations and number series. Each domain
//! registers what it declares ([`crate::register_domains`] lists the
//! product's domains, one line each); the kernel only ever iterates it.
//!
//! The registry is process-wide and only grows: decoding a mutation or a
//! feed document (from the wire, the outbox or storage) looks its kind up
//! here. A test may [`register`] a kind of its own next to the product's.

use super::mutation::{Mutation, MutationKind};
use super::record::{AnyRecord, Merge, RecordKind};
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{LazyLock, RwLock, RwLockReadGuard};

type DecodeRecord = fn(&Value) -> serde_json::Result<AnyRecord>;
type DecodeMutation = fn(Value) -> serde_json::Result<Mutation>;

/// A series of human numbers issued offline from blocks leased to each
/// device (patient numbers, invoice numbers, …).
#[derive(Debug, Clone, Copy)]
pub struct NumberSeries {
    pub name: &'static str,
    /// Numbers in each block the server leases.
    pub lease: i64,
    /// Below this many unused numbers a device asks for another block.
    pub low_water: i64,
    /// A number as people read it (`P0000427`).
    pub format: fn(u64) -> String,
    /// A number as people type it, back to its value (`None`: not one of this series).
    pub parse: fn(&str) -> Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct RecordDecl {
    merge: Merge,
    decode: DecodeRecord,
}

/// Who a user is to the server, as the domain that keeps users knows them
/// from the records: whether they may act at all, and what they may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub name: String,
    pub active: bool,
    pub permissions: crate::permissions::PermissionMatrix,
    /// The public keys that verify their signatures (none before their
    /// first key is registered).
    pub keys: Vec<crate::signing::PublicKey>,
}

/// Finds a user among the records (their own record and those of their
/// roles, which the server loads for every push).
pub type Authority = fn(user: uuid::Uuid, recs: &super::Records) -> Option<Actor>;

/// Every kind, mutation and series this process knows.
#[derive(Debug, Default)]
pub struct Registry {
    records: BTreeMap<&'static str, RecordDecl>,
    mutations: BTreeMap<&'static str, DecodeMutation>,
    series: BTreeMap<&'static str, NumberSeries>,
    authority: Option<Authority>,
}

fn decode_record_as<T: RecordKind>(doc: &Value) -> serde_json::Result<AnyRecord> {
    T::deserialize(doc).map(AnyRecord::new)
}

fn decode_mutation_as<T: MutationKind>(v: Value) -> serde_json::Result<Mutation> {
    serde_json::from_value::<T>(v).map(Mutation::new)
}

impl Registry {
    /// Declares a kind of record. Registering a kind twice with the same
    /// type is harmless; the last registration wins.
    pub fn record<T: RecordKind>(&mut self) -> &mut Self {
        self.records.insert(
            T::KIND,
            RecordDecl {
                merge: T::MERGE,
                decode: decode_record_as::<T>,
            },
        );
        self
    }

    pub fn mutation<T: MutationKind>(&mut self) -> &mut Self {
        self.mutations.insert(T::NAME, decode_mutation_as::<T>);
        self
    }

    pub fn series(&mut self, s: NumberSeries) -> &mut Self {
        self.series.insert(s.name, s);
        self
    }

    /// The one domain that keeps users declares how the kernel finds them.
    pub fn authority(&mut self, f: Authority) -> &mut Self {
        self.authority = Some(f);
        self
    }

    /// `user` as the records show them (`None`: no such user, or no domain
    /// keeps users).
    pub fn actor(&self, user: uuid::Uuid, recs: &super::Records) -> Option<Actor> {
        self.authority.and_then(|f| f(user, recs))
    }

    /// The names of every kind of record, in a stable order.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.records.keys().copied()
    }

    pub fn knows_kind(&self, kind: &str) -> bool {
        self.records.contains_key(kind)
    }

    pub fn merge_of(&self, kind: &str) -> Option<Merge> {
        self.records.get(kind).map(|d| d.merge)
    }

    pub fn mutation_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.mutations.keys().copied()
    }

    /// Every number series, in a stable order.
    pub fn number_series(&self) -> impl Iterator<Item = &NumberSeries> + '_ {
        self.series.values()
    }

    pub fn series_named(&self, name: &str) -> Option<&NumberSeries> {
        self.series.get(name)
    }
}

/// Reads a document of kind `kind` (from the feed or storage).
pub fn decode_record(kind: &str, doc: &Value) -> ClinicResult<AnyRecord> {
    // The decoder is copied out so no lock is held while it runs (a
    // document may hold others, decoded through the registry again).
    let decode = read().records.get(kind).map(|d| d.decode);
    let Some(decode) = decode else {
        return Err(ClinicError::new(
            ErrorCode::UpdateRequired,
            format!("A record of a kind this version does not know ({kind}) arrived; update this application. Nothing was changed."),
        ));
    };
    let r = decode(doc).map_err(|e| ClinicError::internal(format!("a {kind} record: {e}")))?;
    if r.kind() != kind {
        return Err(ClinicError::internal(format!(
            "a {kind} record reads as a {}",
            r.kind()
        )));
    }
    Ok(r)
}

/// Reads a mutation's arguments (its name already taken out).
pub fn decode_mutation(name: &str, args: Value) -> ClinicResult<Mutation> {
    let decode = read().mutations.get(name).copied();
    let Some(decode) = decode else {
        return Err(ClinicError::new(
            ErrorCode::UpdateRequired,
            format!("A change of a kind this version does not know ({name}); update this application. Nothing was changed."),
        ));
    };
    decode(args).map_err(|e| ClinicError::field(name, format!("is malformed: {e}")))
}

impl Registry {
    /// The product's registry: the kernel's own mutations and every domain
    /// of [`crate::register_domains`] (not what a test registered besides).
    pub fn product() -> Registry {
        let mut r = Registry::default();
        r.mutation::<super::SaveDocument>()
            .record::<super::RefusedChange>();
        crate::register_domains(&mut r);
        r
    }
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Registry::product()));

/// The registry, for reading.
pub fn read() -> RwLockReadGuard<'static, Registry> {
    REGISTRY.read().unwrap_or_else(|p| p.into_inner())
}

/// Adds kinds, mutations or series to the registry (a domain outside the
/// product's list, e.g. one a test declares).
pub fn register(f: impl FnOnce(&mut Registry)) {
    let mut r = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    f(&mut r);
}

/// A layer's process-wide list of projections (how each domain keeps its
/// kinds in that layer's storage), which only grows: the workstation's
/// store and the server each hold one.
pub struct ProjectionList<P: ?Sized + 'static> {
    list: LazyLock<RwLock<Vec<&'static P>>>,
    kinds: fn(&P) -> &'static [&'static str],
}

impl<P: ?Sized + 'static> ProjectionList<P> {
    /// `product` lists the product's projections; `kinds` says which kinds one keeps.
    pub const fn new(
        product: fn() -> RwLock<Vec<&'static P>>,
        kinds: fn(&P) -> &'static [&'static str],
    ) -> Self {
        ProjectionList {
            list: LazyLock::new(product),
            kinds,
        }
    }

    /// Every registered projection.
    pub fn all(&self) -> Vec<&'static P> {
        self.list.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds a projection (a domain outside the product's list, e.g. one a
    /// test declares). Registering one for the same kinds twice is harmless.
    pub fn register(&self, p: &'static P) {
        let mut all = self.list.write().unwrap_or_else(|p| p.into_inner());
        if !all.iter().any(|q| (self.kinds)(q) == (self.kinds)(p)) {
            all.push(p);
        }
    }

    /// The projection that keeps `kind`, if one does.
    pub fn of(&self, kind: &str) -> Option<&'static P> {
        // Looked up for every record written: read in place, no copy.
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        list.iter()
            .copied()
            .find(|p| (self.kinds)(p).contains(&kind))
    }

    /// Every kind some projection keeps.
    pub fn kinds(&self) -> Vec<&'static str> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        list.iter()
            .flat_map(|p| (self.kinds)(p).iter().copied())
            .collect()
    }
}

impl<P: ?Sized + 'static> std::fmt::Debug for ProjectionList<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionList").finish_non_exhaustive()
    }
}
