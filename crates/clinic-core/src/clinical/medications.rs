//! The medication reference table shipped with the product, and the safety
//! checks run locally while prescribing (allergy, interaction, duplicate
//! therapy). Pure: no I/O, no clock; everything is passed in.
//!
//! # The table and its sources
//!
//! `medications/table.json` (embedded with `include_str!`, parsed once) is a
//! **sourced subset** of medicines common in primary care, for decision
//! support. It is not a complete compendium: a medicine that is not in it is
//! reported as [`WarningKind::NotChecked`], and a combination without an entry
//! is not thereby proven safe. The file's first member, `about`, is its header
//! (JSON has no comments) and names every source with its licence; it is
//! available at run time through [`MedicationTable::about`] so that the
//! application can show it next to the results:
//!
//! - substance names: International Nonproprietary Names (WHO; public
//!   property by design), with British names and common US and brand names
//!   as synonyms (brands are their owners' trademarks, listed only so that a
//!   typed brand is recognised);
//! - one ATC code per substance, cited from the WHO ATC/DDD Index (© WHO
//!   Collaborating Centre for Drug Statistics Methodology; codes may be cited
//!   with reference to the WHOCC, the Index itself may not be copied for
//!   commercial purposes; only single codes are cited here);
//! - the choice of substances guided by the WHO Model List of Essential
//!   Medicines (CC BY-NC-SA 3.0 IGO; nothing reproduced);
//! - interactions compiled from the ONC high-priority drug–drug interaction
//!   list (Phansalkar et al., JAMIA 2012;19:735–43), US product labels via
//!   DailyMed (public domain) and MHRA Drug Safety Update (Open Government
//!   Licence v3.0): compiled facts, written in our own words.
//!
//! # What is checked, and the choices made
//!
//! [`check`] takes the new prescription's lines, the patient's current
//! medications and recorded allergies, as typed, and returns every
//! [`SafetyWarning`], in a deterministic order (most severe first, then by
//! kind, then by drugs):
//!
//! - **Allergy**: a new line whose substance (or any ingredient of a
//!   combination) is the allergen, or belongs to the allergen class or to a
//!   class below it (a penicillin allergy warns on amoxicillin and on
//!   co-amoxiclav; an allergy to "beta-lactams" warns on cephalosporins too,
//!   since they are a subclass). An allergy recorded against a combination
//!   counts against each of its ingredients.
//! - **Cross-reactivity** is modelled only where it is explicit in the table
//!   (`cross_reactivity`), never inferred from the class tree: an allergy to
//!   one penicillin is treated as an allergy to all penicillins
//!   (contraindicated), a penicillin allergy gives a *moderate* warning on a
//!   cephalosporin (cross-reactivity is uncommon), NSAID/aspirin
//!   hypersensitivity covers all NSAIDs and aspirin, and so on.
//! - **Interaction**: between a new line and a current medication, and
//!   between two new lines; a rule `A × B` is found in either order.
//!   Interactions among the current medications alone are not reported (they
//!   are not this prescription's doing). Components of one combination
//!   product are not checked against each other.
//! - **Duplicate** therapy: the same substance twice (co-codamol with
//!   paracetamol counts), or two members of one duplicate group (two NSAIDs,
//!   two SSRIs …). A renewal of a current medication is also "the same
//!   substance twice": the caller leaves the renewed medication out of
//!   `current`.
//! - **Not checked**: a new line or a current medication that is not in the
//!   table, and an allergy that is not coded (nor codable from its text), is
//!   reported by name, never passed over in silence, so that the caller can
//!   show "not checked" instead of "no warnings". An allergy written as "no
//!   known drug allergies" (or "NKDA", "none", "nil") is not an allergy and
//!   is skipped.
//!
//! **Blocking** ([`SafetyWarning::blocks`]): an allergy match blocks, and so
//! does a severe or contraindicated interaction or cross-reactivity: the
//! prescriber must override it with a recorded reason. Moderate and minor
//! interactions, duplicates and not-checked entries are shown but do not
//! block (a duplicate is often deliberate; "not checked" is an absence of
//! knowledge, not a finding).
//!
//! Known limits: routes are not distinguished (a topical NSAID is checked like
//! an oral one); doses, renal function, age and pregnancy are not considered.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// The embedded data file.
const SHIPPED_JSON: &str = include_str!("medications/table.json");

static SHIPPED: LazyLock<MedicationTable> = LazyLock::new(|| {
    MedicationTable::from_json(SHIPPED_JSON)
        .unwrap_or_else(|e| panic!("the shipped medication table is invalid: {e}"))
});

/// How serious an interaction or cross-reactivity is, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SafetySeverity"))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Moderate,
    Severe,
    Contraindicated,
}

/// The pharmaceutical form of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    Tablet,
    ModifiedReleaseTablet,
    GastroResistantTablet,
    DispersibleTablet,
    EffervescentTablet,
    OrodispersibleTablet,
    ChewableTablet,
    SublingualTablet,
    Capsule,
    ModifiedReleaseCapsule,
    GastroResistantCapsule,
    OralSolution,
    OralSuspension,
    OralDrops,
    OralPowder,
    Injection,
    PressurisedInhaler,
    DryPowderInhaler,
    SoftMistInhaler,
    NebuliserSolution,
    SublingualSpray,
    NasalSpray,
    TransdermalPatch,
    Gel,
    Cream,
    Suppository,
}

/// A route of administration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Oral,
    Sublingual,
    Topical,
    Transdermal,
    Inhalation,
    Nasal,
    Rectal,
    Subcutaneous,
    Intramuscular,
    Intravenous,
}

/// One source of the table, with its licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub url: String,
    pub licence: String,
    pub used_for: String,
}

/// The header of the data file: what the table is and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    pub title: String,
    pub version: String,
    pub scope: String,
    pub sources: Vec<Source>,
}

/// A therapeutic or chemical class (`penicillins`), possibly inside a wider
/// one (`beta_lactams`). An *interaction group* (`qt_prolonging`) gathers
/// substances for interaction rules only and is never an allergy code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrugClass {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub atc: Option<String>,
    #[serde(default)]
    pub synonyms: Vec<String>,
    #[serde(default)]
    pub interaction_group: bool,
}

/// A medicinal substance, or a fixed combination (`co_codamol`) whose
/// `components` are substances of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Substance {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    pub atc: String,
    pub strengths: Vec<String>,
    pub forms: Vec<Form>,
    pub routes: Vec<Route>,
}

/// An interaction between anything on side `a` and anything on side `b`
/// (substance or class keys), in either order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub a: Vec<String>,
    pub b: Vec<String>,
    pub severity: Severity,
    pub message: String,
}

/// Two members of `class` prescribed together are duplicate therapy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateGroup {
    pub class: String,
    pub message: String,
}

/// An allergy to anything in `allergy` warns on anything in `drugs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossReactivity {
    pub allergy: Vec<String>,
    pub drugs: Vec<String>,
    pub severity: Severity,
    pub message: String,
}

/// What a recorded allergy is coded to: a substance or a class key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AllergyCode {
    Substance(String),
    Class(String),
}

impl AllergyCode {
    pub fn key(&self) -> &str {
        match self {
            AllergyCode::Substance(k) | AllergyCode::Class(k) => k,
        }
    }
}

/// A recorded allergy as [`check`] receives it: its text and, when known,
/// its code. An allergy without a code is coded from its text if the text
/// names a substance or class of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AllergyInput {
    pub text: String,
    pub code: Option<AllergyCode>,
}

impl AllergyInput {
    /// An allergy known only by its text.
    pub fn text(text: impl Into<String>) -> Self {
        AllergyInput {
            text: text.into(),
            code: None,
        }
    }
}

/// What a warning is about. The order is the display order among warnings of
/// equal severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    Allergy,
    CrossReactivity,
    Interaction,
    Duplicate,
    NotChecked,
}

/// One finding of [`check`].
///
/// `drugs` holds the lines concerned as they were typed (trimmed), new lines
/// first; `allergy` the allergy's text for allergy, cross-reactivity and
/// uncoded-allergy warnings. The severity of an allergy match is
/// `contraindicated`; of a duplicate or a not-checked entry `moderate` (a
/// caution, not a finding of harm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SafetyWarning {
    pub kind: WarningKind,
    pub severity: Severity,
    pub message: String,
    pub drugs: Vec<String>,
    pub allergy: Option<String>,
}

impl SafetyWarning {
    /// Whether prescribing must stop until the prescriber overrides the
    /// warning with a recorded reason: any allergy match, and severe or
    /// contraindicated interactions and cross-reactivities. Moderate and
    /// minor ones, duplicates and not-checked entries are shown without
    /// blocking.
    pub fn blocks(&self) -> bool {
        match self.kind {
            WarningKind::Allergy => true,
            WarningKind::CrossReactivity | WarningKind::Interaction => {
                self.severity >= Severity::Severe
            }
            WarningKind::Duplicate | WarningKind::NotChecked => false,
        }
    }

    fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            self.kind,
            &self.drugs,
            &self.allergy,
            &self.message,
        )
    }
}

/// Why a table could not be loaded: every problem found, one per entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid medication table: {}", .0.join("; "))]
pub struct TableError(pub Vec<String>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    about: About,
    classes: Vec<DrugClass>,
    substances: Vec<Substance>,
    interactions: Vec<Interaction>,
    duplicate_groups: Vec<DuplicateGroup>,
    cross_reactivity: Vec<CrossReactivity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Substance(usize),
    Class(usize),
}

/// The medication reference table, with its lookups.
#[derive(Debug)]
pub struct MedicationTable {
    about: About,
    classes: Vec<DrugClass>,
    substances: Vec<Substance>,
    interactions: Vec<Interaction>,
    duplicate_groups: Vec<DuplicateGroup>,
    cross_reactivity: Vec<CrossReactivity>,
    /// Key → entry (keys are unique across substances and classes).
    keys: HashMap<String, Entry>,
    /// Normalised key, name or synonym → entry.
    names: HashMap<String, Entry>,
}

impl MedicationTable {
    /// The table shipped with the product, parsed once.
    pub fn shipped() -> &'static MedicationTable {
        &SHIPPED
    }

    /// Parses and validates a table: every key unique, every reference
    /// (parent, class, component, interaction side, duplicate group,
    /// cross-reactivity) naming something that exists, no class its own
    /// ancestor, no name or synonym shared by two entries.
    pub fn from_json(json: &str) -> Result<MedicationTable, TableError> {
        let file: TableFile =
            serde_json::from_str(json).map_err(|e| TableError(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let mut keys = HashMap::new();
        for (i, c) in file.classes.iter().enumerate() {
            check_key(&c.key, &mut problems);
            if keys.insert(c.key.clone(), Entry::Class(i)).is_some() {
                problems.push(format!("key `{}` is defined twice", c.key));
            }
        }
        for (i, s) in file.substances.iter().enumerate() {
            check_key(&s.key, &mut problems);
            if keys.insert(s.key.clone(), Entry::Substance(i)).is_some() {
                problems.push(format!("key `{}` is defined twice", s.key));
            }
        }
        let is_class = |k: &str| matches!(keys.get(k), Some(Entry::Class(_)));
        let is_substance = |k: &str| matches!(keys.get(k), Some(Entry::Substance(_)));

        for c in &file.classes {
            if let Some(p) = &c.parent {
                if !is_class(p) {
                    problems.push(format!("class `{}`: unknown parent `{p}`", c.key));
                }
            }
            // A chain longer than the number of classes has a cycle.
            let mut at = c.parent.clone();
            let mut steps = 0;
            while let Some(p) = at {
                steps += 1;
                if p == c.key || steps > file.classes.len() {
                    problems.push(format!("class `{}` is its own ancestor", c.key));
                    break;
                }
                at = match keys.get(&p) {
                    Some(Entry::Class(j)) => file.classes[*j].parent.clone(),
                    _ => None,
                };
            }
        }
        for s in &file.substances {
            if !is_atc_code(&s.atc) {
                problems.push(format!(
                    "substance `{}`: `{}` is not an ATC code",
                    s.key, s.atc
                ));
            }
            if s.routes.is_empty() {
                problems.push(format!("substance `{}` has no route", s.key));
            }
            for c in &s.classes {
                if !is_class(c) {
                    problems.push(format!("substance `{}`: unknown class `{c}`", s.key));
                }
            }
            for c in &s.components {
                match keys.get(c) {
                    Some(Entry::Substance(j)) if *c != s.key => {
                        if !file.substances[*j].components.is_empty() {
                            problems.push(format!(
                                "substance `{}`: component `{c}` is itself a combination",
                                s.key
                            ));
                        }
                    }
                    _ => problems.push(format!("substance `{}`: unknown component `{c}`", s.key)),
                }
            }
        }
        let any = |k: &str| is_class(k) || is_substance(k);
        for (n, r) in file.interactions.iter().enumerate() {
            if r.a.is_empty() || r.b.is_empty() || r.message.trim().is_empty() {
                problems.push(format!("interaction {n}: empty side or message"));
            }
            for k in r.a.iter().chain(&r.b) {
                if !any(k) {
                    problems.push(format!("interaction {n}: unknown key `{k}`"));
                }
            }
        }
        for g in &file.duplicate_groups {
            if !is_class(&g.class) {
                problems.push(format!("duplicate group: unknown class `{}`", g.class));
            }
        }
        for (n, r) in file.cross_reactivity.iter().enumerate() {
            if r.allergy.is_empty() || r.drugs.is_empty() || r.message.trim().is_empty() {
                problems.push(format!("cross-reactivity {n}: empty side or message"));
            }
            for k in r.allergy.iter().chain(&r.drugs) {
                if !any(k) {
                    problems.push(format!("cross-reactivity {n}: unknown key `{k}`"));
                }
            }
        }

        let mut names: HashMap<String, Entry> = HashMap::new();
        let mut add_name = |name: &str, entry: Entry, problems: &mut Vec<String>| {
            let n = normalize(name);
            if n.is_empty() {
                problems.push(format!("empty name in {entry:?}"));
                return;
            }
            match names.get(&n) {
                Some(other) if *other != entry => {
                    problems.push(format!("name `{name}` names two entries"))
                }
                _ => {
                    names.insert(n, entry);
                }
            }
        };
        for (i, c) in file.classes.iter().enumerate() {
            for name in [&c.key, &c.name].into_iter().chain(&c.synonyms) {
                add_name(name, Entry::Class(i), &mut problems);
            }
        }
        for (i, s) in file.substances.iter().enumerate() {
            for name in [&s.key, &s.name].into_iter().chain(&s.synonyms) {
                add_name(name, Entry::Substance(i), &mut problems);
            }
        }

        if !problems.is_empty() {
            return Err(TableError(problems));
        }
        Ok(MedicationTable {
            about: file.about,
            classes: file.classes,
            substances: file.substances,
            interactions: file.interactions,
            duplicate_groups: file.duplicate_groups,
            cross_reactivity: file.cross_reactivity,
            keys,
            names,
        })
    }

    /// The table's header: title, version, scope and sources with licences.
    pub fn about(&self) -> &About {
        &self.about
    }

    pub fn substances(&self) -> &[Substance] {
        &self.substances
    }

    pub fn classes(&self) -> &[DrugClass] {
        &self.classes
    }

    pub fn interactions(&self) -> &[Interaction] {
        &self.interactions
    }

    pub fn duplicate_groups(&self) -> &[DuplicateGroup] {
        &self.duplicate_groups
    }

    pub fn cross_reactivity(&self) -> &[CrossReactivity] {
        &self.cross_reactivity
    }

    /// The substance with this exact key.
    pub fn substance(&self, key: &str) -> Option<&Substance> {
        match self.keys.get(key) {
            Some(Entry::Substance(i)) => Some(&self.substances[*i]),
            _ => None,
        }
    }

    /// The class with this exact key.
    pub fn class(&self, key: &str) -> Option<&DrugClass> {
        match self.keys.get(key) {
            Some(Entry::Class(i)) => Some(&self.classes[*i]),
            _ => None,
        }
    }

    /// The substance a typed name means: its key, name or a synonym (brand),
    /// ignoring case, accents, surrounding whitespace, hyphens and
    /// apostrophes. `None` when the text names nothing in the table (or names
    /// a class).
    pub fn find(&self, typed: &str) -> Option<&Substance> {
        match self.names.get(&normalize(typed)) {
            Some(Entry::Substance(i)) => Some(&self.substances[*i]),
            _ => None,
        }
    }

    /// The class a typed name means (key, name or synonym), like [`find`].
    ///
    /// [`find`]: MedicationTable::find
    pub fn find_class(&self, typed: &str) -> Option<&DrugClass> {
        match self.names.get(&normalize(typed)) {
            Some(Entry::Class(i)) => Some(&self.classes[*i]),
            _ => None,
        }
    }

    /// The substance a medication line names when it may carry its strength,
    /// form, salt or frequency after the name ("Warfarin 5 mg tablets",
    /// "amlodipine besilate 10mg once daily"). Only words of that kind may
    /// follow the name: "paracetamol and codeine" is not taken for
    /// paracetamol, so a second ingredient is never silently dropped.
    pub fn find_in_text(&self, text: &str) -> Option<&Substance> {
        if let Some(s) = self.find(text) {
            return Some(s);
        }
        let normalized = normalize(text);
        let tokens: Vec<&str> = normalized.split(' ').collect();
        (1..tokens.len()).rev().find_map(|n| {
            if !tokens[n..].iter().all(|t| is_dose_word(t)) {
                return None;
            }
            match self.names.get(&tokens[..n].join(" ")) {
                Some(Entry::Substance(i)) => Some(&self.substances[*i]),
                _ => None,
            }
        })
    }

    /// A class and its ancestors, nearest first; empty for an unknown key.
    pub fn class_chain(&self, class: &str) -> Vec<&DrugClass> {
        let mut chain = Vec::new();
        let mut at = self.class(class);
        while let Some(c) = at {
            if chain.iter().any(|x: &&DrugClass| x.key == c.key) {
                break; // cannot happen in a validated table
            }
            chain.push(c);
            at = c.parent.as_deref().and_then(|p| self.class(p));
        }
        chain
    }

    /// Every class a substance belongs to, directly, through an ancestor or
    /// through a component of a combination; sorted by key.
    pub fn classes_of(&self, substance: &Substance) -> Vec<&DrugClass> {
        let keys: BTreeSet<&str> = self
            .members(substance)
            .into_iter()
            .flat_map(|m| self.closure(m))
            .collect();
        keys.into_iter().filter_map(|k| self.class(k)).collect()
    }

    /// Codes an allergy typed as text: a substance ("amoxicillin",
    /// "Augmentin") or a class ("Penicillin", "NSAIDs"). Interaction groups
    /// are never allergy codes. `None` for free text not in the table: the
    /// caller keeps it uncoded.
    pub fn code_allergy(&self, typed: &str) -> Option<AllergyCode> {
        if let Some(s) = self.find(typed) {
            return Some(AllergyCode::Substance(s.key.clone()));
        }
        self.find_class(typed)
            .filter(|c| !c.interaction_group)
            .map(|c| AllergyCode::Class(c.key.clone()))
    }

    /// The substance and the ingredients of a combination.
    fn members<'t>(&'t self, substance: &'t Substance) -> Vec<&'t Substance> {
        let mut members = vec![substance];
        members.extend(
            substance
                .components
                .iter()
                .filter_map(|c| self.substance(c)),
        );
        members
    }

    /// A substance's key with the keys of all its classes and their
    /// ancestors (not through components).
    fn closure<'t>(&'t self, substance: &'t Substance) -> BTreeSet<&'t str> {
        let mut keys = BTreeSet::from([substance.key.as_str()]);
        for c in &substance.classes {
            keys.extend(self.class_chain(c).into_iter().map(|c| c.key.as_str()));
        }
        keys
    }

    fn name_of<'a>(&'a self, key: &'a str) -> &'a str {
        match self.keys.get(key) {
            Some(Entry::Substance(i)) => &self.substances[*i].name,
            Some(Entry::Class(i)) => &self.classes[*i].name,
            None => key,
        }
    }
}

/// A medication line resolved against the table.
struct Resolved<'t> {
    typed: String,
    substance: &'t Substance,
    /// The substance and its components, each with its key closure.
    members: Vec<(&'t Substance, BTreeSet<&'t str>)>,
}

impl<'t> Resolved<'t> {
    fn new(table: &'t MedicationTable, typed: String, substance: &'t Substance) -> Self {
        let members = table
            .members(substance)
            .into_iter()
            .map(|m| (m, table.closure(m)))
            .collect();
        Resolved {
            typed,
            substance,
            members,
        }
    }

    fn keys(&self) -> BTreeSet<&'t str> {
        self.members
            .iter()
            .flat_map(|(_, k)| k.iter().copied())
            .collect()
    }

    fn has_any(&self, side: &[String]) -> bool {
        self.members
            .iter()
            .any(|(_, keys)| side.iter().any(|k| keys.contains(k.as_str())))
    }
}

/// An allergy resolved to its allergen keys.
struct Allergen<'t> {
    text: String,
    /// The substances it names (a combination and its ingredients), or empty
    /// for a class allergy.
    substances: BTreeSet<&'t str>,
    /// A class allergy's class key.
    class: Option<&'t str>,
    /// Every key the allergen stands for, with classes and ancestors: what
    /// the `allergy` side of a cross-reactivity rule is matched against.
    closure: BTreeSet<&'t str>,
}

const NO_ALLERGY: [&str; 7] = [
    "nkda",
    "nka",
    "none",
    "nil",
    "no known allergies",
    "no known drug allergies",
    "no known drug allergy",
];

/// Checks a prescription: allergies, interactions, duplicate therapy, and
/// what could not be checked. See the module documentation for the rules.
///
/// `new_lines` are the drugs of the prescription being written and `current`
/// the patient's current medications, as typed (a key, name, synonym or
/// brand, optionally followed by strength and form). With no new lines there
/// is nothing to check and the result is empty.
pub fn check(
    table: &MedicationTable,
    new_lines: &[&str],
    current: &[&str],
    allergies: &[AllergyInput],
) -> Vec<SafetyWarning> {
    if new_lines.iter().all(|l| l.trim().is_empty()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let resolve = |lines: &[&str], what: &str, unchecked: &str, out: &mut Vec<SafetyWarning>| {
        let mut resolved = Vec::new();
        for typed in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
            match table.find_in_text(typed) {
                Some(s) => resolved.push(Resolved::new(table, typed.to_string(), s)),
                None => out.push(not_checked(
                    vec![typed.to_string()],
                    None,
                    format!(
                        "{what} \u{201c}{typed}\u{201d} is not in the medication table: {unchecked}"
                    ),
                )),
            }
        }
        resolved
    };
    let new = resolve(
        new_lines,
        "New medicine",
        "allergies, interactions and duplicates were not checked for it.",
        &mut out,
    );
    let cur = resolve(
        current,
        "Current medication",
        "interactions with it were not checked.",
        &mut out,
    );

    // Allergies.
    for allergy in allergies {
        let text = allergy.text.trim();
        if allergy.code.is_none()
            && (text.is_empty() || NO_ALLERGY.contains(&normalize(text).as_str()))
        {
            continue;
        }
        let shown = if text.is_empty() {
            allergy.code.as_ref().map_or("", |c| c.key()).to_string()
        } else {
            text.to_string()
        };
        let code = allergy.code.clone().or_else(|| table.code_allergy(text));
        let Some(allergen) = code
            .as_ref()
            .and_then(|c| resolve_allergen(table, c, shown.clone()))
        else {
            let message = match &code {
                Some(c) => format!(
                    "Allergy \u{201c}{shown}\u{201d} is coded to \u{201c}{}\u{201d}, which this medication table does not know: it was not checked against this prescription.",
                    c.key()
                ),
                None => format!(
                    "Allergy \u{201c}{shown}\u{201d} is not coded to a medicine or class of the table: it was not checked against this prescription."
                ),
            };
            out.push(not_checked(Vec::new(), Some(shown), message));
            continue;
        };
        for line in &new {
            allergy_warnings(table, &allergen, line, &mut out);
        }
    }

    // Pairs: each new line with each current medication, and with each later
    // new line.
    let pairs = new.iter().enumerate().flat_map(|(i, a)| {
        cur.iter()
            .chain(new.iter().skip(i + 1))
            .map(move |b| (a, b))
    });
    for (a, b) in pairs {
        pair_warnings(table, a, b, &mut out);
    }

    out.sort_by(|x, y| x.sort_key().cmp(&y.sort_key()));
    out.dedup();
    out
}

fn not_checked(drugs: Vec<String>, allergy: Option<String>, message: String) -> SafetyWarning {
    SafetyWarning {
        kind: WarningKind::NotChecked,
        severity: Severity::Moderate,
        message,
        drugs,
        allergy,
    }
}

fn resolve_allergen<'t>(
    table: &'t MedicationTable,
    code: &AllergyCode,
    text: String,
) -> Option<Allergen<'t>> {
    match code {
        AllergyCode::Substance(k) => {
            let s = table.substance(k)?;
            let members = table.members(s);
            Some(Allergen {
                text,
                substances: members.iter().map(|m| m.key.as_str()).collect(),
                class: None,
                closure: members.into_iter().flat_map(|m| table.closure(m)).collect(),
            })
        }
        AllergyCode::Class(k) => {
            let chain = table.class_chain(k);
            let class = chain.first()?.key.as_str();
            Some(Allergen {
                text,
                substances: BTreeSet::new(),
                class: Some(class),
                closure: chain.into_iter().map(|c| c.key.as_str()).collect(),
            })
        }
    }
}

fn allergy_warnings(
    table: &MedicationTable,
    allergen: &Allergen<'_>,
    line: &Resolved<'_>,
    out: &mut Vec<SafetyWarning>,
) {
    let drug = &line.substance.name;
    // A direct match: an allergen substance among the line's members, or the
    // allergen class in a member's chain.
    let by_substance = line
        .members
        .iter()
        .find(|(m, _)| allergen.substances.contains(m.key.as_str()))
        .map(|(m, _)| m);
    let by_class = allergen.class.and_then(|c| {
        line.members
            .iter()
            .find(|(_, keys)| keys.contains(c))
            .map(|(m, _)| (*m, table.name_of(c)))
    });
    let reason = match (by_substance, by_class) {
        (Some(m), _) if m.key == line.substance.key => Some(format!("{drug} is the allergen.")),
        (Some(m), _) => Some(format!("{drug} contains {}.", m.name)),
        (None, Some((m, class))) if m.key == line.substance.key => {
            Some(format!("{drug} is one of the {class}."))
        }
        (None, Some((m, class))) => {
            Some(format!("{drug} contains {}, one of the {class}.", m.name))
        }
        (None, None) => None,
    };
    if let Some(reason) = reason {
        out.push(SafetyWarning {
            kind: WarningKind::Allergy,
            severity: Severity::Contraindicated,
            message: format!(
                "Recorded allergy \u{201c}{}\u{201d}: {reason}",
                allergen.text
            ),
            drugs: vec![line.typed.clone()],
            allergy: Some(allergen.text.clone()),
        });
        return;
    }
    // Otherwise the most severe explicit cross-reactivity rule, if any.
    let rule = table
        .cross_reactivity
        .iter()
        .filter(|r| {
            r.allergy
                .iter()
                .any(|k| allergen.closure.contains(k.as_str()))
                && line.has_any(&r.drugs)
        })
        .max_by_key(|r| r.severity);
    if let Some(r) = rule {
        out.push(SafetyWarning {
            kind: WarningKind::CrossReactivity,
            severity: r.severity,
            message: format!(
                "Recorded allergy \u{201c}{}\u{201d} and {drug}: {}",
                allergen.text, r.message
            ),
            drugs: vec![line.typed.clone()],
            allergy: Some(allergen.text.clone()),
        });
    }
}

fn pair_warnings(
    table: &MedicationTable,
    a: &Resolved<'_>,
    b: &Resolved<'_>,
    out: &mut Vec<SafetyWarning>,
) {
    let drugs = vec![a.typed.clone(), b.typed.clone()];
    let (na, nb) = (&a.substance.name, &b.substance.name);

    // Interactions, member by member (an ingredient never with itself).
    for rule in &table.interactions {
        let hit = a.members.iter().any(|(ma, ka)| {
            b.members.iter().any(|(mb, kb)| {
                let on = |side: &[String], keys: &BTreeSet<&str>| {
                    side.iter().any(|k| keys.contains(k.as_str()))
                };
                ma.key != mb.key
                    && ((on(&rule.a, ka) && on(&rule.b, kb))
                        || (on(&rule.b, ka) && on(&rule.a, kb)))
            })
        });
        if hit {
            out.push(SafetyWarning {
                kind: WarningKind::Interaction,
                severity: rule.severity,
                message: format!("{na} + {nb}: {}", rule.message),
                drugs: drugs.clone(),
                allergy: None,
            });
        }
    }

    // Duplicates: the same substance twice, else a shared duplicate group.
    let shared: Vec<&Substance> = a
        .members
        .iter()
        .filter(|(ma, _)| b.members.iter().any(|(mb, _)| ma.key == mb.key))
        .map(|(m, _)| *m)
        .collect();
    if !shared.is_empty() {
        let names: Vec<&str> = shared.iter().map(|s| s.name.as_str()).collect();
        let message = if a.substance.key == b.substance.key {
            format!("{na} twice.")
        } else {
            format!("{na} and {nb} both contain {}.", names.join(" and "))
        };
        out.push(SafetyWarning {
            kind: WarningKind::Duplicate,
            severity: Severity::Moderate,
            message,
            drugs,
            allergy: None,
        });
        return;
    }
    let (ka, kb) = (a.keys(), b.keys());
    for g in &table.duplicate_groups {
        if ka.contains(g.class.as_str()) && kb.contains(g.class.as_str()) {
            out.push(SafetyWarning {
                kind: WarningKind::Duplicate,
                severity: Severity::Moderate,
                message: format!("{na} + {nb}: {}", g.message),
                drugs: drugs.clone(),
                allergy: None,
            });
        }
    }
}

/// The form in which names are compared: lower case, accents removed
/// (é → e, ß → ss, µ → u, β → beta), hyphens and underscores as spaces,
/// apostrophes dropped, runs of spaces collapsed, no spaces around `/` and
/// `+`, no surrounding spaces.
pub fn normalize(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match fold(c) {
            Some(s) => folded.push_str(s),
            None => folded.push(c),
        }
    }
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        let joins = |c: Option<char>| matches!(c, Some('/' | '+'));
        if !out.is_empty() && !joins(out.chars().last()) && !joins(word.chars().next()) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        '-' | '_' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' => " ",
        '\'' | '\u{2019}' | '\u{2018}' | '`' => "",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'µ' | 'μ' => "u",
        'α' => "alpha",
        'β' => "beta",
        _ => return None,
    })
}

/// Words that may follow a medicine's name on a line without naming another
/// medicine: strengths, units, forms, salts, routes and frequencies.
fn is_dose_word(token: &str) -> bool {
    #[rustfmt::skip]
    const WORDS: &[&str] = &[
        // units
        "mg", "g", "mcg", "ug", "microgram", "micrograms", "ml", "l", "unit", "units", "iu",
        "mmol", "%", "dose", "doses", "puff", "puffs",
        // forms
        "tab", "tabs", "tablet", "tablets", "cap", "caps", "capsule", "capsules", "caplet",
        "caplets", "oral", "solution", "suspension", "liquid", "syrup", "sachet", "sachets",
        "powder", "drops", "mr", "sr", "xl", "la", "cr", "er", "xr", "ec", "gr", "modified",
        "prolonged", "extended", "release", "slow", "dispersible", "soluble", "effervescent",
        "chewable", "orodispersible", "gastro", "resistant", "film", "coated", "sugar", "free",
        "injection", "inhaler", "evohaler", "accuhaler", "turbohaler", "easyhaler", "nebules",
        "spray", "patch", "patches", "gel", "cream", "pessary", "suppository", "suppositories",
        // salts
        "hydrochloride", "hcl", "hyclate", "sodium", "potassium", "calcium", "magnesium",
        "besilate", "besylate", "maleate", "mesilate", "mesylate", "phosphate", "sulfate",
        "sulphate", "succinate", "tartrate", "citrate", "fumarate", "bromide", "acetate",
        "dipropionate", "propionate", "furoate", "monohydrate", "dihydrate", "trihydrate",
        "hemihydrate", "erbumine", "arginine",
        // routes and frequencies
        "po", "sc", "im", "iv", "sl", "pr", "od", "om", "on", "bd", "bid", "tds", "tid", "qds",
        "qid", "prn", "stat", "nocte", "mane", "once", "twice", "three", "four", "times", "a",
        "per", "daily", "day", "days", "weekly", "week", "every", "hourly", "hours", "hour",
        "morning", "night", "at", "as", "required", "needed", "when", "x", "one", "two", "half",
    ];
    // "mg/5ml" and "30/500" are dose words; "500mg/codeine" is not.
    token.split('/').all(|part| {
        let t = part.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '(' | ')'));
        t.is_empty() || t.chars().any(|c| c.is_ascii_digit()) || WORDS.contains(&t)
    })
}

fn check_key(key: &str, problems: &mut Vec<String>) {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        problems.push(format!("key `{key}` is not lower_snake_case"));
    }
}

/// A level-5 ATC code: letter, two digits, two letters, two digits.
fn is_atc_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 7
        && b[0].is_ascii_uppercase()
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3..5].iter().all(u8::is_ascii_uppercase)
        && b[5..7].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static MedicationTable {
        MedicationTable::shipped()
    }

    fn run(new: &[&str], current: &[&str], allergies: &[AllergyInput]) -> Vec<SafetyWarning> {
        check(table(), new, current, allergies)
    }

    fn of_kind(w: &[SafetyWarning], kind: WarningKind) -> Vec<&SafetyWarning> {
        w.iter().filter(|w| w.kind == kind).collect()
    }

    #[test]
    fn medications_the_shipped_table_parses_and_says_its_sources() {
        let t = table();
        assert!(t.substances().len() >= 100, "{}", t.substances().len());
        assert!(t.interactions().len() >= 40);
        assert!(t.duplicate_groups().len() >= 5);
        let about = t.about();
        assert!(about.scope.contains("NOT a complete compendium"));
        for needle in ["ATC/DDD", "Essential Medicines", "Phansalkar", "DailyMed"] {
            assert!(
                about.sources.iter().any(|s| s.name.contains(needle)),
                "source {needle} missing"
            );
        }
        assert!(about.sources.iter().all(|s| !s.licence.trim().is_empty()));
    }

    /// Walks the whole table independently of `from_json`'s own validation:
    /// every reference names something that exists.
    #[test]
    fn medications_every_reference_in_the_table_exists() {
        let t = table();
        let exists = |k: &str| t.substance(k).is_some() || t.class(k).is_some();
        for c in t.classes() {
            if let Some(p) = &c.parent {
                assert!(t.class(p).is_some(), "class {}: parent {p}", c.key);
            }
            let chain = t.class_chain(&c.key);
            assert_eq!(chain[0].key, c.key);
            assert!(chain.len() <= t.classes().len());
        }
        for s in t.substances() {
            assert!(is_atc_code(&s.atc), "{}: {}", s.key, s.atc);
            assert!(!s.routes.is_empty(), "{}", s.key);
            if s.components.is_empty() && s.key != "sulfamethoxazole" && s.key != "st_johns_wort" {
                assert!(!s.strengths.is_empty() && !s.forms.is_empty(), "{}", s.key);
            }
            for c in &s.classes {
                assert!(t.class(c).is_some(), "{}: class {c}", s.key);
            }
            for c in &s.components {
                assert!(t.substance(c).is_some(), "{}: component {c}", s.key);
            }
            // Every name of a substance finds it back.
            for name in [&s.key, &s.name].into_iter().chain(&s.synonyms) {
                assert_eq!(t.find(name).map(|x| &x.key), Some(&s.key), "{name}");
            }
        }
        for r in t.interactions() {
            for k in r.a.iter().chain(&r.b) {
                assert!(exists(k), "interaction key {k}");
            }
            // Each side reaches at least one substance.
            for side in [&r.a, &r.b] {
                assert!(
                    t.substances().iter().any(|s| {
                        let keys = Resolved::new(t, s.key.clone(), s).keys();
                        side.iter().any(|k| keys.contains(k.as_str()))
                    }),
                    "interaction side {side:?} reaches no substance"
                );
            }
        }
        for g in t.duplicate_groups() {
            assert!(t.class(&g.class).is_some(), "duplicate group {}", g.class);
            let members = t
                .substances()
                .iter()
                .filter(|s| t.classes_of(s).iter().any(|c| c.key == g.class))
                .count();
            assert!(
                members >= 2,
                "duplicate group {} has {members} member",
                g.class
            );
        }
        for r in t.cross_reactivity() {
            for k in r.allergy.iter().chain(&r.drugs) {
                assert!(exists(k), "cross-reactivity key {k}");
            }
        }
        // A broken reference is refused by `from_json` too.
        let broken = SHIPPED_JSON.replacen(
            "\"classes\": [\"nsaids\"]",
            "\"classes\": [\"no_such_class\"]",
            1,
        );
        let err = MedicationTable::from_json(&broken).unwrap_err();
        assert!(err.to_string().contains("no_such_class"), "{err}");
    }

    #[test]
    fn medications_lookup_by_brand_accents_case_and_whitespace() {
        let t = table();
        let key = |typed: &str| t.find(typed).map(|s| s.key.as_str());
        assert_eq!(key("Amoxil"), Some("amoxicillin"));
        assert_eq!(key("  NUROFEN  "), Some("ibuprofen"));
        assert_eq!(key("Paracétamol"), Some("paracetamol"));
        assert_eq!(key("PARACETAMOL"), Some("paracetamol"));
        assert_eq!(key("Ibuprofène"), Some("ibuprofen"));
        assert_eq!(key("acetaminophen"), Some("paracetamol"));
        assert_eq!(key("co-amoxiclav"), Some("co_amoxiclav"));
        assert_eq!(key("Co Amoxiclav"), Some("co_amoxiclav"));
        assert_eq!(key("amoxicillin / clavulanic acid"), Some("co_amoxiclav"));
        assert_eq!(key("St Johns Wort"), Some("st_johns_wort"));
        assert_eq!(key("St John’s wort"), Some("st_johns_wort"));
        assert_eq!(key("warfarin 5 mg"), None, "find is exact");
        assert_eq!(key("Penicillin"), None, "a class, not a substance");
        assert_eq!(key("the blue tablets"), None);

        let line = |typed: &str| t.find_in_text(typed).map(|s| s.key.as_str());
        assert_eq!(line("Warfarin 5 mg tablets"), Some("warfarin"));
        assert_eq!(
            line("amlodipine besilate 10mg once daily"),
            Some("amlodipine")
        );
        assert_eq!(
            line("Co-codamol 30/500 two tablets qds prn"),
            Some("co_codamol")
        );
        assert_eq!(line("Ventolin Evohaler 100 micrograms"), Some("salbutamol"));
        assert_eq!(line("paracetamol and codeine"), Some("co_codamol"));
        assert_eq!(
            line("paracetamol with caffeine"),
            None,
            "never drop an ingredient"
        );
        assert_eq!(line("Nurofen Plus"), None);
    }

    #[test]
    fn medications_class_chain_and_allergy_coding() {
        let t = table();
        let chain: Vec<&str> = t
            .class_chain("penicillins")
            .iter()
            .map(|c| c.key.as_str())
            .collect();
        assert_eq!(chain, ["penicillins", "beta_lactams"]);
        assert!(t.class_chain("no_such_class").is_empty());
        let amoxiclav = t.find("Augmentin").unwrap();
        let classes: Vec<&str> = t
            .classes_of(amoxiclav)
            .iter()
            .map(|c| c.key.as_str())
            .collect();
        assert_eq!(classes, ["beta_lactams", "penicillins"]);

        let code = |typed: &str| t.code_allergy(typed);
        assert_eq!(
            code("Penicillin"),
            Some(AllergyCode::Class("penicillins".into()))
        );
        assert_eq!(
            code("amoxicillin"),
            Some(AllergyCode::Substance("amoxicillin".into()))
        );
        assert_eq!(code("NSAIDs"), Some(AllergyCode::Class("nsaids".into())));
        assert_eq!(
            code("aspirin"),
            Some(AllergyCode::Substance("aspirin".into()))
        );
        assert_eq!(
            code(" sulfa drugs "),
            Some(AllergyCode::Class("sulfonamide_antibacterials".into()))
        );
        assert_eq!(
            code("qt_prolonging"),
            None,
            "interaction groups are not allergens"
        );
        assert_eq!(code("the blue tablets"), None);
        assert_eq!(code("peanuts"), None);
    }

    #[test]
    fn medications_penicillin_allergy_warns_on_amoxicillin_and_blocks() {
        for allergy in [
            AllergyInput::text("Penicillin"),
            AllergyInput {
                text: "PCN".into(),
                code: Some(AllergyCode::Class("penicillins".into())),
            },
        ] {
            let w = run(
                &["Amoxicillin 500 mg capsules"],
                &[],
                std::slice::from_ref(&allergy),
            );
            assert_eq!(w.len(), 1, "{w:#?}");
            assert_eq!(w[0].kind, WarningKind::Allergy);
            assert_eq!(w[0].drugs, ["Amoxicillin 500 mg capsules"]);
            assert_eq!(w[0].allergy.as_deref(), Some(allergy.text.as_str()));
            assert!(w[0].message.contains("Penicillins"), "{}", w[0].message);
            assert!(w[0].blocks());
        }
        // Through a combination's ingredient, and from an allergy recorded
        // against a combination.
        let w = run(&["Augmentin"], &[], &[AllergyInput::text("amoxicillin")]);
        assert_eq!(w[0].kind, WarningKind::Allergy);
        assert!(
            w[0].message.contains("contains Amoxicillin"),
            "{}",
            w[0].message
        );
        let w = run(&["amoxicillin"], &[], &[AllergyInput::text("co-amoxiclav")]);
        assert_eq!(w[0].kind, WarningKind::Allergy);
        let w = run(&["Septrin"], &[], &[AllergyInput::text("sulfa")]);
        assert_eq!(w[0].kind, WarningKind::Allergy);
        assert!(
            w[0].message.contains("contains Sulfamethoxazole"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn medications_cross_reactivity_only_where_modelled() {
        // One penicillin → all penicillins: blocking.
        let w = run(
            &["flucloxacillin"],
            &[],
            &[AllergyInput::text("amoxicillin")],
        );
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].kind, WarningKind::CrossReactivity);
        assert_eq!(w[0].severity, Severity::Contraindicated);
        assert!(w[0].blocks());
        // Penicillin → cephalosporin: a moderate, non-blocking caution.
        let w = run(&["cefalexin"], &[], &[AllergyInput::text("penicillin")]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(
            (w[0].kind, w[0].severity),
            (WarningKind::CrossReactivity, Severity::Moderate)
        );
        assert!(!w[0].blocks());
        // An allergy to the beta-lactam class itself covers cephalosporins.
        let w = run(&["cefalexin"], &[], &[AllergyInput::text("beta-lactams")]);
        assert_eq!(w[0].kind, WarningKind::Allergy);
        // NSAID hypersensitivity covers aspirin; no rule links penicillins
        // and macrolides.
        let w = run(&["aspirin 75mg"], &[], &[AllergyInput::text("ibuprofen")]);
        assert_eq!(w[0].kind, WarningKind::CrossReactivity);
        assert!(w[0].blocks());
        assert!(run(
            &["clarithromycin"],
            &[],
            &[AllergyInput::text("penicillin")]
        )
        .is_empty());
    }

    #[test]
    fn medications_interaction_found_in_both_orders_and_within_a_prescription() {
        let bleeding = |w: &[SafetyWarning]| {
            let i = of_kind(w, WarningKind::Interaction);
            assert_eq!(i.len(), 1, "{w:#?}");
            assert_eq!(i[0].severity, Severity::Severe);
            assert!(i[0].message.contains("bleeding"), "{}", i[0].message);
            assert!(i[0].blocks());
            i[0].drugs.clone()
        };
        // New ibuprofen, current warfarin; new warfarin, current ibuprofen.
        assert_eq!(
            bleeding(&run(&["ibuprofen"], &["warfarin"], &[])),
            ["ibuprofen", "warfarin"]
        );
        assert_eq!(
            bleeding(&run(&["warfarin"], &["ibuprofen"], &[])),
            ["warfarin", "ibuprofen"]
        );
        // Both on the same prescription, in either order; brands too.
        assert_eq!(
            bleeding(&run(&["Coumadin", "Nurofen"], &[], &[])),
            ["Coumadin", "Nurofen"]
        );
        assert_eq!(
            bleeding(&run(&["Nurofen", "Coumadin"], &[], &[])),
            ["Nurofen", "Coumadin"]
        );
        // Current medications alone are not this prescription's doing.
        assert!(run(&["paracetamol"], &["warfarin", "ibuprofen"], &[]).is_empty());

        // A few more rules from the table.
        let severity = |new: &str, cur: &str| {
            let w = run(&[new], &[cur], &[]);
            of_kind(&w, WarningKind::Interaction)
                .first()
                .map(|w| w.severity)
        };
        assert_eq!(
            severity("clarithromycin", "simvastatin 40mg"),
            Some(Severity::Contraindicated)
        );
        assert_eq!(
            severity("trimethoprim", "methotrexate"),
            Some(Severity::Severe)
        );
        assert_eq!(
            severity("co-trimoxazole", "methotrexate"),
            Some(Severity::Severe)
        );
        assert_eq!(
            severity("spironolactone", "ramipril"),
            Some(Severity::Severe)
        );
        assert_eq!(severity("tramadol", "sertraline"), Some(Severity::Severe));
        assert_eq!(
            severity("sertraline", "phenelzine"),
            Some(Severity::Contraindicated)
        );
        assert_eq!(
            severity("sildenafil", "isosorbide mononitrate"),
            Some(Severity::Contraindicated)
        );
        assert_eq!(
            severity("ciprofloxacin", "tizanidine"),
            Some(Severity::Contraindicated)
        );
        assert_eq!(
            severity("citalopram", "ondansetron"),
            Some(Severity::Severe)
        );
        assert_eq!(severity("amoxicillin", "warfarin"), None);
    }

    #[test]
    fn medications_duplicate_therapy() {
        let w = run(&["ibuprofen", "naproxen"], &[], &[]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].kind, WarningKind::Duplicate);
        assert_eq!(w[0].drugs, ["ibuprofen", "naproxen"]);
        assert!(w[0].message.contains("NSAIDs"), "{}", w[0].message);
        assert!(!w[0].blocks());
        // Against a current medication.
        let w = run(&["omeprazole"], &["Lansoprazole 30mg"], &[]);
        assert_eq!(of_kind(&w, WarningKind::Duplicate).len(), 1, "{w:#?}");
        // The same substance twice, by name and brand, or inside a
        // combination.
        let w = run(&["ibuprofen 400mg", "Nurofen"], &[], &[]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(w[0].message.contains("twice"), "{}", w[0].message);
        let w = run(&["co-codamol 30/500"], &["paracetamol"], &[]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(
            w[0].message.contains("contain Paracetamol"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn medications_uncoded_allergy_is_not_checked() {
        let w = run(
            &["paracetamol"],
            &[],
            &[AllergyInput::text("the blue tablets")],
        );
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].kind, WarningKind::NotChecked);
        assert_eq!(w[0].allergy.as_deref(), Some("the blue tablets"));
        assert!(w[0].message.contains("the blue tablets"));
        assert!(!w[0].blocks());
        // A code this table does not know is not checked either.
        let stale = AllergyInput {
            text: "Drug X".into(),
            code: Some(AllergyCode::Substance("drug_x".into())),
        };
        let w = run(&["paracetamol"], &[], &[stale]);
        assert_eq!(of_kind(&w, WarningKind::NotChecked).len(), 1, "{w:#?}");
        // "No known drug allergies" is not an allergy.
        assert!(run(&["paracetamol"], &[], &[AllergyInput::text("NKDA")]).is_empty());
    }

    #[test]
    fn medications_unknown_drug_is_not_checked() {
        let w = run(&["Zyxoprin 10 mg"], &[], &[]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].kind, WarningKind::NotChecked);
        assert_eq!(w[0].drugs, ["Zyxoprin 10 mg"]);
        assert!(w[0].message.contains("Zyxoprin"));
        // An unknown current medication too, next to the real findings.
        let w = run(&["ibuprofen"], &["warfarin", "herbal tea"], &[]);
        assert_eq!(of_kind(&w, WarningKind::Interaction).len(), 1, "{w:#?}");
        let nc = of_kind(&w, WarningKind::NotChecked);
        assert_eq!(nc.len(), 1, "{w:#?}");
        assert_eq!(nc[0].drugs, ["herbal tea"]);
    }

    #[test]
    fn medications_safe_prescription_has_no_warnings() {
        assert_eq!(run(&["paracetamol"], &[], &[]), Vec::<SafetyWarning>::new());
        assert_eq!(
            run(
                &["Paracetamol 500 mg tablets"],
                &["amlodipine", "atorvastatin"],
                &[]
            ),
            Vec::<SafetyWarning>::new()
        );
        assert_eq!(
            run(&[], &["herbal tea"], &[AllergyInput::text("?")]),
            Vec::new()
        );
    }

    #[test]
    fn medications_order_is_deterministic_and_serialises_snake_case() {
        let allergies = [AllergyInput::text("penicillin"), AllergyInput::text("cats")];
        let new = ["ibuprofen", "amoxicillin", "naproxen", "Unknownium"];
        let current = ["warfarin"];
        let w = run(&new, &current, &allergies);
        let mut reversed_new = new;
        reversed_new.reverse();
        let r = run(&reversed_new, &current, &allergies);
        // Same findings whatever the order of the lines (drugs inside a pair
        // follow the input order).
        let summary = |w: &[SafetyWarning]| {
            let mut s: Vec<_> = w
                .iter()
                .map(|w| {
                    let mut d = w.drugs.clone();
                    d.sort();
                    (w.kind, w.severity, d)
                })
                .collect();
            s.sort();
            s
        };
        assert_eq!(summary(&w), summary(&r));
        // Most severe first.
        assert!(
            w.windows(2).all(|p| p[0].severity >= p[1].severity),
            "{w:#?}"
        );
        assert_eq!(w[0].kind, WarningKind::Allergy);
        let json = serde_json::to_value(&w[0]).unwrap();
        assert_eq!(json["kind"], "allergy");
        assert_eq!(json["severity"], "contraindicated");
        let nc = w
            .iter()
            .find(|w| w.kind == WarningKind::NotChecked)
            .unwrap();
        assert_eq!(serde_json::to_value(nc).unwrap()["kind"], "not_checked");
        let code = serde_json::to_value(AllergyCode::Class("penicillins".into())).unwrap();
        assert_eq!(code, serde_json::json!({"class": "penicillins"}));
    }
}
