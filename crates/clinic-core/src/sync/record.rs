//! Records of any kind, as the kernel handles them: a domain declares a
//! kind once ([`RecordKind`]), and the kernel carries its values as
//! [`AnyRecord`] without knowing what they are.

use crate::error::ClinicResult;
use crate::permissions::Permission;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// How concurrent changes of a kind come together. Every kind is changed
/// only by named mutations re-applied in server order; this says what the
/// kernel itself guarantees on top of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Changed field by field through named mutations (a mutation carries
    /// only what the person changed, so edits of different fields on two
    /// desks both survive). Never replaced as a whole document.
    Fields,
    /// Replaced as a whole by [`super::SaveDocument`] (last writer by server
    /// order wins; earlier versions stay in the feed's history).
    Document,
    /// Insert-only: a record, once written, is never changed (movements,
    /// payments). Concurrent inserts all survive; the kernel refuses a
    /// mutation that would change one.
    Ledger,
}

/// A kind of record the change feed carries, declared once by its domain.
pub trait RecordKind:
    fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The kind's name in the feed, in storage and in checksums.
    const KIND: &'static str;
    const MERGE: Merge;

    fn id(&self) -> Uuid;

    /// The tenant a record names, when its kind carries one (a record of
    /// another tenant is refused by both sides).
    fn tenant(&self) -> Option<Uuid> {
        None
    }

    /// The document the feed carries and checksums cover.
    fn doc(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Checks a whole document before [`super::SaveDocument`] writes it.
    fn validate(&self) -> ClinicResult<()> {
        Ok(())
    }

    /// Who may save a whole document of this kind ([`Merge::Document`] kinds).
    fn save_permission(&self) -> Permission {
        Permission::admin()
    }

    /// Records a whole document names, which must exist in the tenant when
    /// it is saved (a waitlist entry's patient).
    fn refs(&self) -> Vec<super::Ref> {
        vec![]
    }
}

/// The object-safe face of a [`RecordKind`] value.
trait DynRecord: Any + Send + Sync + fmt::Debug {
    fn kind(&self) -> &'static str;
    fn merge(&self) -> Merge;
    fn id(&self) -> Uuid;
    fn tenant(&self) -> Option<Uuid>;
    fn doc(&self) -> Value;
    fn validate(&self) -> ClinicResult<()>;
    fn save_permission(&self) -> Permission;
    fn refs(&self) -> Vec<super::Ref>;
    fn encoded_len(&self) -> usize;
    fn clone_box(&self) -> Box<dyn DynRecord>;
    fn same(&self, other: &dyn DynRecord) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: RecordKind> DynRecord for T {
    fn kind(&self) -> &'static str {
        T::KIND
    }
    fn merge(&self) -> Merge {
        T::MERGE
    }
    fn id(&self) -> Uuid {
        RecordKind::id(self)
    }
    fn tenant(&self) -> Option<Uuid> {
        RecordKind::tenant(self)
    }
    fn doc(&self) -> Value {
        RecordKind::doc(self)
    }
    fn validate(&self) -> ClinicResult<()> {
        RecordKind::validate(self)
    }
    fn save_permission(&self) -> Permission {
        RecordKind::save_permission(self)
    }
    fn refs(&self) -> Vec<super::Ref> {
        RecordKind::refs(self)
    }
    fn encoded_len(&self) -> usize {
        encoded_len(self)
    }
    fn clone_box(&self) -> Box<dyn DynRecord> {
        Box::new(self.clone())
    }
    fn same(&self, other: &dyn DynRecord) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The size of `value` as JSON, in bytes, without building the text.
pub fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut count = ByteCount(0);
    // Writing to a counter fails only if serialising fails, which a value
    // that was built from (or into) JSON does not.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The most a record may weigh as JSON. Every workstation must be able to
/// receive any record in a pull page (answers are read up to
/// `clinic_sync::MAX_ANSWER_BYTES`, 64 MiB) and the server bounds a page's
/// bytes ([`MAX_PAGE_BYTES`]), so one record stays far below both: the
/// largest real record (a patient with long lists) is a few KiB.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The most JSON a pull page carries (beyond its first change, which is
/// always sent): pages are cut at this size as well as by count.
pub const MAX_PAGE_BYTES: usize = 16 << 20;

/// A record of any registered kind.
#[derive(Debug)]
pub struct AnyRecord(Box<dyn DynRecord>);

impl AnyRecord {
    pub fn new<T: RecordKind>(r: T) -> Self {
        AnyRecord(Box::new(r))
    }
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }
    /// The record's size as JSON, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }
    pub fn merge(&self) -> Merge {
        self.0.merge()
    }
    pub fn id(&self) -> Uuid {
        self.0.id()
    }
    pub fn tenant(&self) -> Option<Uuid> {
        self.0.tenant()
    }
    pub fn doc(&self) -> Value {
        self.0.doc()
    }
    pub fn validate(&self) -> ClinicResult<()> {
        self.0.validate()
    }
    pub fn save_permission(&self) -> Permission {
        self.0.save_permission()
    }
    pub fn refs(&self) -> Vec<super::Ref> {
        self.0.refs()
    }
    /// The record as its own type, when it is one.
    pub fn get<T: RecordKind>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }
    /// Reads a feed document of a registered kind.
    pub fn from_doc(kind: &str, doc: &Value) -> ClinicResult<AnyRecord> {
        super::registry::decode_record(kind, doc)
    }
}

impl Clone for AnyRecord {
    fn clone(&self) -> Self {
        AnyRecord(self.0.clone_box())
    }
}

impl PartialEq for AnyRecord {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(other.0.as_ref())
    }
}

/// The records a mutation is applied to: loaded by the caller (the server
/// from PostgreSQL, the workstation from SQLite), changed in place. Each
/// id holds one record of one kind.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Records {
    map: HashMap<Uuid, AnyRecord>,
}

impl Records {
    /// The record `id` when it is a `T`.
    pub fn get<T: RecordKind>(&self, id: Uuid) -> Option<&T> {
        self.map.get(&id).and_then(AnyRecord::get)
    }
    pub fn any(&self, id: Uuid) -> Option<&AnyRecord> {
        self.map.get(&id)
    }
    pub fn contains(&self, id: Uuid) -> bool {
        self.map.contains_key(&id)
    }
    pub fn put<T: RecordKind>(&mut self, r: T) {
        self.map.insert(RecordKind::id(&r), AnyRecord::new(r));
    }
    pub fn put_any(&mut self, r: AnyRecord) {
        self.map.insert(r.id(), r);
    }
    /// Adds `r` unless a record with its id is already here.
    pub fn offer(&mut self, r: AnyRecord) {
        self.map.entry(r.id()).or_insert(r);
    }
    pub fn remove(&mut self, id: Uuid) -> Option<AnyRecord> {
        self.map.remove(&id)
    }
    /// Every record of type `T` held here.
    pub fn all<T: RecordKind>(&self) -> impl Iterator<Item = &T> {
        self.map.values().filter_map(AnyRecord::get)
    }
    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.map.keys().copied()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
