//! The named changes of a patient record, applied the same way on the
//! workstation and the server.
//!
//! Merge rules, as they fall out of re-execution in server order:
//! - fields: an update carries only the fields the person changed, so edits
//!   of different fields on two workstations both survive and the same
//!   field ends with the later one by server order (the earlier value stays
//!   in the change feed's history);
//! - list items (allergies, insurances, …) are added and removed by id, so
//!   concurrent additions both survive;
//! - archive is a tombstone; an edit of a record archived or merged
//!   elsewhere comes back as a conflict for a person to look at;
//! - patient numbers come from blocks leased to each device (the kernel
//!   checks them, see [`crate::sync::NumberLedger`]).

use super::model::*;
use super::number::parse_patient_number;
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::{Action, Module, Permission, SensitiveFlag};
use crate::sync::{Applied, Context, IssuedNumber, MutationKind, Records};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

fn get(recs: &Records, id: Uuid, what: &str) -> ClinicResult<Patient> {
    recs.get::<Patient>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found(what))
}

/// Writes one record back; the change of a single-record mutation.
fn put(recs: &mut Records, p: Patient) -> Applied {
    let id = p.id;
    recs.put(p);
    Applied::one(id)
}

/// The sensitive groups the list items of `l` belong to.
fn list_flags(l: &PatientLists) -> Vec<SensitiveFlag> {
    let mut out: Vec<SensitiveFlag> = l.items().into_iter().filter_map(|(_, f)| f).collect();
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterPatient {
    pub patient: Uuid,
    pub patient_number: String,
    pub details: PatientDetails,
    #[serde(default)]
    pub lists: PatientLists,
}

impl MutationKind for RegisterPatient {
    const NAME: &'static str = "register_patient";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.patient]
    }

    fn permission(&self) -> Permission {
        let fields = changed_fields(&PatientDetails::default(), &self.details);
        Permission::new(Module::Patients, Action::Create)
            .with_flags(fields.into_iter().filter_map(field_flag))
            .with_flags(list_flags(&self.lists))
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        parse_patient_number(&self.patient_number)
            .map(|value| IssuedNumber {
                series: super::PATIENT_NUMBERS.name,
                value,
                record: self.patient,
            })
            .into_iter()
            .collect()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut d = self.details.clone();
        validate_details(&mut d, cx.today())?;
        validate_lists(&self.lists, cx.today())?;
        if let Some(existing) = recs.get::<Patient>(self.patient) {
            // A retried registration is a no-op; anything else is a clash of ids.
            if existing.patient_number == self.patient_number {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(
                "A different patient already has this id.",
            ));
        }
        if parse_patient_number(&self.patient_number).is_none() {
            return Err(ClinicError::field(
                "patient_number",
                "is not a valid patient number",
            ));
        }
        let p = Patient::registered(
            self.patient,
            cx.tenant,
            self.patient_number.clone(),
            d,
            self.lists.clone(),
            cx.at,
        );
        Ok(put(recs, p))
    }
}

/// `set` holds only the fields the person changed, with their new values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdatePatient {
    pub patient: Uuid,
    #[serde(default)]
    pub set: Map<String, Value>,
    #[serde(default)]
    pub add: PatientLists,
    #[serde(default)]
    pub remove_ids: Vec<Uuid>,
}

/// The new values of the scalar fields that differ between `before` and
/// `after` (the `set` of an [`UpdatePatient`]).
pub fn changed_values(before: &PatientDetails, after: &PatientDetails) -> Map<String, Value> {
    let a = serde_json::to_value(after).unwrap_or(Value::Null);
    changed_fields(before, after)
        .into_iter()
        .map(|f| (f.to_string(), a.get(f).cloned().unwrap_or(Value::Null)))
        .collect()
}

impl MutationKind for UpdatePatient {
    const NAME: &'static str = "update_patient";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.patient]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Patients, Action::Edit)
            .with_flags(self.set.keys().filter_map(|k| field_flag(k)))
            .with_flags(list_flags(&self.add))
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let current = get(recs, self.patient, "Patient")?;
        ensure_editable(&current)?;
        validate_lists(&self.add, cx.today())?;
        if self.remove_ids.len() > MAX_REMOVED {
            return Err(ClinicError::field(
                "remove_ids",
                format!("at most {MAX_REMOVED} items at once"),
            ));
        }
        let mut doc = serde_json::to_value(&current.details).map_err(ClinicError::internal)?;
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| ClinicError::internal("patient details are not an object"))?;
        for (k, v) in &self.set {
            if !obj.contains_key(k) {
                return Err(ClinicError::field(k, "is not a patient field"));
            }
            obj.insert(k.clone(), v.clone());
        }
        let mut details: PatientDetails = serde_json::from_value(doc).map_err(|e| {
            ClinicError::field("patient", format!("has a value of the wrong kind ({e})"))
        })?;
        validate_details(&mut details, cx.today())?;
        // Removing an item needs the flag of its list (which only the
        // record tells: the declared permission cannot).
        if let Some(author) = cx.author(recs) {
            let items = current.lists.items();
            let hidden = self.remove_ids.iter().any(|r| {
                items
                    .iter()
                    .find(|(i, _)| i == r)
                    .and_then(|(_, flag)| *flag)
                    .is_some_and(|f| !author.permissions.has_flag(f))
            });
            if hidden {
                return Err(ClinicError::forbidden(format!(
                    "{} may not remove these items: their role does not cover that part of the record.",
                    author.name
                )));
            }
        }
        let mut p = current;
        p.details = details;
        add_items(&mut p.lists, &self.add);
        remove_items(&mut p.lists, &self.remove_ids);
        if !self.add.items().is_empty() {
            check_list_sizes(&p.lists)?;
        }
        p.updated_at = cx.at;
        Ok(put(recs, p))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivePatient {
    pub patient: Uuid,
    pub reason: String,
}

impl MutationKind for ArchivePatient {
    const NAME: &'static str = "archive_patient";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.patient]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Patients, Action::Delete)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if self.reason.chars().count() > 500 {
            return Err(ClinicError::field(
                "reason",
                "must be at most 500 characters",
            ));
        }
        let mut p = get(recs, self.patient, "Patient")?;
        ensure_editable(&p)?;
        p.archived_at = Some(cx.at);
        p.archive_reason = Some(self.reason.clone());
        p.updated_at = cx.at;
        Ok(put(recs, p))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePatient {
    pub patient: Uuid,
}

impl MutationKind for RestorePatient {
    const NAME: &'static str = "restore_patient";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.patient]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Patients, Action::Delete)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut p = get(recs, self.patient, "Patient")?;
        if p.merged_into.is_some() {
            ensure_editable(&p)?;
        }
        if p.archived_at.is_none() {
            return Err(ClinicError::conflict(format!(
                "Patient {} is not archived.",
                p.patient_number
            )));
        }
        p.archived_at = None;
        p.archive_reason = None;
        p.updated_at = cx.at;
        Ok(put(recs, p))
    }
}

/// Merges `duplicate` into `keep`: the survivor gains the duplicate's list
/// items and fills its empty fields from it; the duplicate is archived and
/// points at the survivor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergePatients {
    pub keep: Uuid,
    pub duplicate: Uuid,
}

impl MutationKind for MergePatients {
    const NAME: &'static str = "merge_patients";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.keep, self.duplicate]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Patients, Action::Delete).with_flags(SensitiveFlag::ALL)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if self.keep == self.duplicate {
            return Err(ClinicError::field(
                "duplicate",
                "choose two different patients",
            ));
        }
        let mut s = get(recs, self.keep, "Patient to keep")?;
        let mut d = get(recs, self.duplicate, "Duplicate patient")?;
        ensure_editable(&s)?;
        ensure_editable(&d)?;
        if let (Some(a), Some(b)) = (&s.details.national_id, &d.details.national_id) {
            if a != b || s.details.national_id_kind != d.details.national_id_kind {
                return Err(ClinicError::conflict(format!(
                    "Patients {} and {} have different national identifiers, so they may be different people. Correct the wrong identifier first if they are the same person.",
                    s.patient_number, d.patient_number
                )));
            }
        }
        fill_empty(&mut s.details, &d.details);
        let mut moved = std::mem::take(&mut d.lists);
        if s.lists.insurances.iter().any(|i| i.is_primary) {
            for i in &mut moved.insurances {
                i.is_primary = false;
            }
        }
        add_items(&mut s.lists, &moved);
        s.updated_at = cx.at;
        d.archived_at = Some(cx.at);
        d.merged_into = Some(self.keep);
        d.merged_into_number = Some(s.patient_number.clone());
        d.updated_at = cx.at;
        recs.put(s);
        recs.put(d);
        Ok(Applied {
            changed: vec![self.keep, self.duplicate],
        })
    }
}

/// The most list items one update removes (a person removes a few).
pub const MAX_REMOVED: usize = 6 * MAX_LIST_ITEMS;

/// Adds the items `to` does not have yet (by id); linear in both lists.
fn add_items(to: &mut PatientLists, from: &PatientLists) {
    macro_rules! add {
        ($($f:ident),*) => { $(
            let mut have: std::collections::HashSet<Uuid> = to.$f.iter().map(|x| x.id).collect();
            for item in &from.$f {
                if have.insert(item.id) {
                    to.$f.push(item.clone());
                }
            }
        )* };
    }
    add!(
        allergies,
        conditions,
        medications,
        insurances,
        emergency_contacts,
        consents
    );
}

fn remove_items(from: &mut PatientLists, ids: &[Uuid]) {
    let ids: std::collections::HashSet<&Uuid> = ids.iter().collect();
    macro_rules! remove {
        ($($f:ident),*) => { $( from.$f.retain(|x| !ids.contains(&x.id)); )* };
    }
    remove!(
        allergies,
        conditions,
        medications,
        insurances,
        emergency_contacts,
        consents
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::sync::{apply, Mutation};
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};

    fn cx(min: i64) -> Context {
        let at: DateTime<Utc> =
            Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + chrono::Duration::minutes(min);
        Context {
            tenant: Uuid::from_u128(1),
            at,
            user: None,
        }
    }

    fn details(first: &str) -> PatientDetails {
        PatientDetails {
            first_name: first.into(),
            last_name: "Okafor".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 5, 1),
            ..Default::default()
        }
    }

    fn register(id: Uuid, n: u64) -> Mutation {
        Mutation::new(RegisterPatient {
            patient: id,
            patient_number: super::super::format_patient_number(n),
            details: details("Ada"),
            lists: PatientLists::default(),
        })
    }

    fn set(id: Uuid, field: &str, v: Value) -> Mutation {
        let mut m = Map::new();
        m.insert(field.into(), v);
        Mutation::new(UpdatePatient {
            patient: id,
            set: m,
            add: PatientLists::default(),
            remove_ids: vec![],
        })
    }

    #[test]
    fn different_fields_both_survive_and_same_field_is_last_writer_wins() {
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), &cx(0), &mut r).unwrap();
        apply(&set(p, "phone", "07700 900123".into()), &cx(1), &mut r).unwrap();
        apply(&set(p, "city", "Leeds".into()), &cx(2), &mut r).unwrap();
        apply(&set(p, "city", "York".into()), &cx(3), &mut r).unwrap();
        let d = &r.get::<Patient>(p).unwrap().details;
        assert_eq!(d.city.as_deref(), Some("York"));
        assert!(d.phone.is_some());
    }

    #[test]
    fn edit_of_archived_record_is_a_conflict_and_changes_nothing() {
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), &cx(0), &mut r).unwrap();
        let archive = Mutation::new(ArchivePatient {
            patient: p,
            reason: "moved away".into(),
        });
        apply(&archive, &cx(1), &mut r).unwrap();
        let before = r.clone();
        let e = apply(&set(p, "city", "Leeds".into()), &cx(2), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(r, before);
    }

    #[test]
    fn bad_field_values_are_rejected() {
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), &cx(0), &mut r).unwrap();
        for (f, v) in [
            ("no_such_field", Value::from("x")),
            ("date_of_birth", Value::from("not a date")),
            ("first_name", Value::from("")),
        ] {
            let e = apply(&set(p, f, v), &cx(1), &mut r).unwrap_err();
            assert_eq!(e.code, ErrorCode::Validation, "{f}");
        }
    }

    fn allergy(n: usize, substance: String) -> Allergy {
        Allergy {
            code: None,
            id: Uuid::from_u128(5000 + n as u128),
            substance,
            reaction: None,
            severity: Severity::Mild,
        }
    }

    fn allergies(from: usize, to: usize) -> PatientLists {
        PatientLists {
            allergies: (from..to)
                .map(|n| allergy(n, format!("Substance {n}")))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn list_items_a_change_carries_meet_the_entry_rules_wherever_it_is_applied() {
        let p = Uuid::from_u128(2);
        let with = |lists: PatientLists| {
            Mutation::new(RegisterPatient {
                patient: p,
                patient_number: super::super::format_patient_number(1),
                details: details("Ada"),
                lists,
            })
        };
        let mut r = Records::default();
        for (lists, field) in [
            (allergies(0, MAX_LIST_ITEMS + 1), "allergies"),
            (
                PatientLists {
                    allergies: vec![allergy(1, "x".repeat(10_000))],
                    ..Default::default()
                },
                "allergies.substance",
            ),
            (
                PatientLists {
                    allergies: vec![Allergy {
                        reaction: Some("hives ".repeat(1000)),
                        ..allergy(1, "Penicillin".into())
                    }],
                    ..Default::default()
                },
                "allergies.reaction",
            ),
        ] {
            let e = apply(&with(lists), &cx(0), &mut r).unwrap_err();
            assert_eq!(e.code, ErrorCode::Validation);
            assert!(e.fields.iter().any(|f| f.field == field), "{field}: {e:?}");
            assert_eq!(r, Records::default(), "nothing changed");
        }
        // Adding past the limit, one update at a time, is refused too.
        apply(&with(allergies(0, MAX_LIST_ITEMS)), &cx(0), &mut r).unwrap();
        let before = r.clone();
        let one_more = Mutation::new(UpdatePatient {
            patient: p,
            add: allergies(MAX_LIST_ITEMS, MAX_LIST_ITEMS + 1),
            ..Default::default()
        });
        let e = apply(&one_more, &cx(1), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation, "{e:?}");
        assert_eq!(r, before);
        // Removing one makes room again; re-adding an item it has is a no-op.
        let swap = Mutation::new(UpdatePatient {
            patient: p,
            add: allergies(MAX_LIST_ITEMS, MAX_LIST_ITEMS + 1),
            remove_ids: vec![allergy(0, String::new()).id],
            ..Default::default()
        });
        apply(&swap, &cx(2), &mut r).unwrap();
        let again = Mutation::new(UpdatePatient {
            patient: p,
            add: allergies(50, 60),
            ..Default::default()
        });
        apply(&again, &cx(3), &mut r).unwrap();
        let kept = &r.get::<Patient>(p).unwrap().lists.allergies;
        assert_eq!(kept.len(), MAX_LIST_ITEMS);
        assert!(kept.iter().all(|a| a.id != allergy(0, String::new()).id));
    }

    #[test]
    fn permissions_name_the_field_groups_a_change_touches() {
        let p = Uuid::from_u128(2);
        assert!(set(p, "city", "Leeds".into()).permission().flags.is_empty());
        assert_eq!(
            set(p, "blood_group", "O+".into()).permission(),
            Permission::new(Module::Patients, Action::Edit)
                .with_flags([SensitiveFlag::MedicalHistory])
        );
        assert_eq!(register(p, 1).permission().action, Action::Create);
    }

    #[test]
    fn mutations_keep_their_wire_form() {
        let m = set(Uuid::from_u128(2), "city", "Leeds".into());
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""kind":"update_patient""#), "{text}");
        let back: Mutation = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        assert!(back.get::<UpdatePatient>().is_some());
        let unknown = serde_json::from_str::<Mutation>(r#"{"kind":"no_such_change"}"#);
        assert!(unknown.is_err());
    }
}
