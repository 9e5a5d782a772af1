//! Saving a whole document of a [`Merge::Document`] kind (reference data a
//! clinic sets up: sites, rooms, appointment types, working time, …): one
//! mutation for every such kind, so a domain declaring one gets its save
//! for nothing. Its permission is the kind's own.

use super::mutation::{Applied, Context, MutationKind};
use super::record::{AnyRecord, Merge, RecordKind, Records};
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::Permission;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

/// A document with its kind under `kind` (how a saved document travels).
pub fn tagged_doc<T: Serialize>(kind: &str, r: &T) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("kind".into(), Value::String(kind.into()));
    }
    v
}

/// Declares `$t` a whole-document kind named `$kind`: saved by
/// [`SaveDocument`] after its own `validate()`, by whoever holds
/// `$permission`; its document carries its kind ([`tagged_doc`]). With
/// `refs`, the records it names come from its own `named_refs()`.
#[macro_export]
macro_rules! document_kind {
    ($t:ty, $kind:literal, $permission:expr, refs) => {
        $crate::document_kind!(@impl $t, $kind, $permission,
            fn refs(&self) -> Vec<$crate::sync::Ref> {
                <$t>::named_refs(self)
            }
        );
    };
    ($t:ty, $kind:literal, $permission:expr) => {
        $crate::document_kind!(@impl $t, $kind, $permission,);
    };
    (@impl $t:ty, $kind:literal, $permission:expr, $($refs:item)?) => {
        impl $crate::sync::RecordKind for $t {
            const KIND: &'static str = $kind;
            const MERGE: $crate::sync::Merge = $crate::sync::Merge::Document;

            fn id(&self) -> uuid::Uuid {
                self.id
            }
            fn doc(&self) -> serde_json::Value {
                $crate::sync::tagged_doc(<Self as $crate::sync::RecordKind>::KIND, self)
            }
            fn validate(&self) -> $crate::ClinicResult<()> {
                <$t>::validate(self)
            }
            fn save_permission(&self) -> $crate::permissions::Permission {
                $permission
            }
            $($refs)?
        }
    };
}

/// Creates or replaces a whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveDocument {
    pub doc: AnyRecord,
}

impl SaveDocument {
    pub fn new<T: RecordKind>(r: T) -> Self {
        SaveDocument {
            doc: AnyRecord::new(r),
        }
    }
}

impl Serialize for SaveDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire {
            doc: Value,
        }
        let mut doc = self.doc.doc();
        if let Value::Object(o) = &mut doc {
            o.insert("kind".into(), Value::String(self.doc.kind().into()));
        }
        Wire { doc }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SaveDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            doc: Value,
        }
        let w = Wire::deserialize(d)?;
        let kind = w
            .doc
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| serde::de::Error::custom("a saved document names its kind"))?;
        let doc =
            AnyRecord::from_doc(kind, &w.doc).map_err(|e| serde::de::Error::custom(e.message))?;
        Ok(SaveDocument { doc })
    }
}

impl MutationKind for SaveDocument {
    const NAME: &'static str = "save_document";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.doc.id()]
    }

    fn permission(&self) -> Permission {
        self.doc.save_permission()
    }

    fn refs(&self) -> Vec<super::Ref> {
        self.doc.refs()
    }

    fn apply(&self, _cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if self.doc.merge() != Merge::Document {
            return Err(ClinicError::field(
                "doc",
                format!(
                    "a {} is changed through its own named changes, not saved whole",
                    self.doc.kind().replace('_', " ")
                ),
            ));
        }
        self.doc.validate()?;
        recs.put_any(self.doc.clone());
        Ok(Applied::one(self.doc.id()))
    }
}
