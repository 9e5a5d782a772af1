//! Named mutations, as the kernel handles them: a domain declares each
//! once ([`MutationKind`]: what it touches, the permission it needs, the
//! numbers it issues, and its pure effect), and the kernel queues, sends
//! and re-applies them as [`Mutation`] without knowing what they are.

use super::record::Records;
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::Permission;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::any::Any;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// What a mutation is applied with besides the records: the tenant, the
/// time the person made it (data from the workstation's clock, never read
/// inside a rule), and who made it, so the outcome is a pure function of
/// its inputs. The server always knows the user (it refuses a change that
/// names none); on a workstation `None` is the workstation itself (setting
/// up a store, demo data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    pub tenant: Uuid,
    pub at: DateTime<Utc>,
    pub user: Option<Uuid>,
}

impl Context {
    pub fn today(&self) -> NaiveDate {
        self.at.date_naive()
    }

    /// The author as the records show them, for a rule whose permission
    /// depends on the records (removing an item needs the flag of the list
    /// it is in). Always known on the server; on a workstation only when
    /// the records loaded include them (its use-cases check first).
    pub fn author(&self, recs: &Records) -> Option<super::Actor> {
        self.user
            .and_then(|u| super::registry::read().actor(u, recs))
    }
}

/// A number a mutation hands out from a series (a patient number, an
/// invoice number), for `record`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssuedNumber {
    pub series: &'static str,
    pub value: u64,
    pub record: Uuid,
}

/// A record a mutation names without changing it (the patient and the
/// clinician of a booking): the server refuses the mutation unless a
/// record of that kind with that id exists in the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    pub kind: &'static str,
    pub id: Uuid,
    /// How a person calls it ("patient", "clinician").
    pub noun: &'static str,
}

impl Ref {
    /// Record `id`, which must be a `T`.
    pub fn to<T: super::RecordKind>(id: Uuid, noun: &'static str) -> Ref {
        Ref {
            kind: T::KIND,
            id,
            noun,
        }
    }
}

/// What applying one mutation changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    /// Ids of the records written, in order.
    pub changed: Vec<Uuid>,
}

impl Applied {
    pub fn one(id: Uuid) -> Self {
        Applied { changed: vec![id] }
    }
    pub fn nothing() -> Self {
        Applied::default()
    }
}

/// A named change a person makes, declared once by its domain and applied
/// by both executors (the workstation optimistically, the server
/// authoritatively) with the same rule.
pub trait MutationKind:
    fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The mutation's name on the wire and in the outbox.
    const NAME: &'static str;

    /// The records it may change (loaded before it is applied, whatever
    /// their kind; anything else it reads is loaded by its domain's storage).
    fn touches(&self) -> Vec<Uuid>;

    /// What its author must be allowed to do.
    fn permission(&self) -> Permission;

    /// The numbers it hands out (the server checks each lies in a block
    /// leased to the sending device and was never issued before).
    fn numbers(&self) -> Vec<IssuedNumber> {
        vec![]
    }

    /// Records it names without changing them, which must exist in the
    /// tenant (checked by the server before the rule runs).
    fn refs(&self) -> Vec<Ref> {
        vec![]
    }

    /// The signing key it registers for its author, when it is the one
    /// change an author with no key yet may make: signed by that key
    /// itself ([`crate::signing`]).
    fn own_key(&self) -> Option<crate::signing::PublicKey> {
        None
    }

    /// Its effect on `recs`. An error is a business outcome: the change is
    /// refused and `recs` is left as it was.
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied>;
}

/// The object-safe face of a [`MutationKind`] value.
trait DynMutation: Any + Send + Sync + fmt::Debug {
    fn name(&self) -> &'static str;
    fn touches(&self) -> Vec<Uuid>;
    fn permission(&self) -> Permission;
    fn numbers(&self) -> Vec<IssuedNumber>;
    fn refs(&self) -> Vec<Ref>;
    fn own_key(&self) -> Option<crate::signing::PublicKey>;
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied>;
    fn to_value(&self) -> Value;
    fn same(&self, other: &dyn DynMutation) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: MutationKind> DynMutation for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn touches(&self) -> Vec<Uuid> {
        MutationKind::touches(self)
    }
    fn permission(&self) -> Permission {
        MutationKind::permission(self)
    }
    fn numbers(&self) -> Vec<IssuedNumber> {
        MutationKind::numbers(self)
    }
    fn refs(&self) -> Vec<Ref> {
        MutationKind::refs(self)
    }
    fn own_key(&self) -> Option<crate::signing::PublicKey> {
        MutationKind::own_key(self)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        MutationKind::apply(self, cx, recs)
    }
    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    fn same(&self, other: &dyn DynMutation) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A mutation of any registered kind. On the wire and in the outbox it is
/// its arguments with its name under `kind`:
/// `{"kind": "register_patient", "patient": …}`.
#[derive(Clone)]
pub struct Mutation(Arc<dyn DynMutation>);

impl Mutation {
    pub fn new<T: MutationKind>(m: T) -> Self {
        Mutation(Arc::new(m))
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
    /// The records this mutation may change.
    pub fn touches(&self) -> Vec<Uuid> {
        self.0.touches()
    }
    pub fn permission(&self) -> Permission {
        self.0.permission()
    }
    pub fn numbers(&self) -> Vec<IssuedNumber> {
        self.0.numbers()
    }
    pub fn refs(&self) -> Vec<Ref> {
        self.0.refs()
    }
    /// The key it registers for an author who has none yet (see [`MutationKind::own_key`]).
    pub fn own_key(&self) -> Option<crate::signing::PublicKey> {
        self.0.own_key()
    }
    /// The mutation as its own type, when it is one.
    pub fn get<T: MutationKind>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// Applies the domain's rule alone (no kernel checks: see
    /// [`super::apply`]).
    pub(crate) fn apply_rule(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        self.0.apply(cx, recs)
    }

    /// Its arguments with its name, as stored and sent.
    pub fn to_value(&self) -> Value {
        let mut v = self.0.to_value();
        if let Value::Object(o) = &mut v {
            o.insert("kind".into(), Value::String(self.name().into()));
        }
        v
    }

    /// Reads a stored or sent mutation of a registered kind.
    pub fn from_value(mut v: Value) -> ClinicResult<Mutation> {
        let name = match v.as_object_mut().and_then(|o| o.remove("kind")) {
            Some(Value::String(s)) => s,
            _ => {
                return Err(ClinicError::field(
                    "mutation",
                    "has no kind (a named mutation is expected)",
                ))
            }
        };
        super::registry::decode_mutation(&name, v)
    }
}

impl fmt::Debug for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Mutation {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(other.0.as_ref())
    }
}

impl Serialize for Mutation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mutation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Mutation::from_value(v).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl<T: MutationKind> From<T> for Mutation {
    fn from(m: T) -> Self {
        Mutation::new(m)
    }
}

/// On the wire a mutation is an object naming its kind, with the kind's
/// own arguments beside it (each domain declares those; the server refuses
/// an unknown kind or arguments that do not fit it, 422).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Mutation {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "A named mutation: its kind, and that kind's arguments beside it.",
            ))
            .property(
                "kind",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The mutation's name, e.g. `register_patient`.")),
            )
            .required("kind")
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Mutation {}
