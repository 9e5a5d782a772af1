//! Roles and the permission matrix: module × (view, create, edit, delete),
//! plus flags that reveal sensitive groups of patient fields.

use crate::error::{ClinicError, ClinicResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Patients,
    Appointments,
    Clinical,
    Prescriptions,
    Billing,
    Inventory,
    Reports,
    Admin,
    /// One's own account (its password): every signed-in user holds it;
    /// the rules make sure it is their own. Not part of any role's matrix.
    Account,
}

impl Module {
    pub const ALL: [Module; 8] = [
        Module::Patients,
        Module::Appointments,
        Module::Clinical,
        Module::Prescriptions,
        Module::Billing,
        Module::Inventory,
        Module::Reports,
        Module::Admin,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    View,
    Create,
    Edit,
    /// Archive / void. Medical and financial records are never hard-deleted.
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::View, Action::Create, Action::Edit, Action::Delete];
}

/// Field-level flags: groups of patient data a role may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SensitiveFlag {
    /// Gender identity and risk level (national identifier and sex at birth
    /// are identifying demographics the front desk needs, so not flagged).
    SensitiveInfo,
    /// Insurance coverages and (later) balances.
    FinancialData,
    /// Allergies, conditions, medications, blood group, lifestyle, family history.
    MedicalHistory,
}

impl SensitiveFlag {
    pub const ALL: [SensitiveFlag; 3] = [
        SensitiveFlag::SensitiveInfo,
        SensitiveFlag::FinancialData,
        SensitiveFlag::MedicalHistory,
    ];
}

/// Allowed actions for one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModuleGrant {
    pub view: bool,
    pub create: bool,
    pub edit: bool,
    pub delete: bool,
}

impl ModuleGrant {
    pub const NONE: ModuleGrant = ModuleGrant {
        view: false,
        create: false,
        edit: false,
        delete: false,
    };
    pub const VIEW: ModuleGrant = ModuleGrant {
        view: true,
        create: false,
        edit: false,
        delete: false,
    };
    pub const VCE: ModuleGrant = ModuleGrant {
        view: true,
        create: true,
        edit: true,
        delete: false,
    };
    pub const VE: ModuleGrant = ModuleGrant {
        view: true,
        create: false,
        edit: true,
        delete: false,
    };
    pub const ALL: ModuleGrant = ModuleGrant {
        view: true,
        create: true,
        edit: true,
        delete: true,
    };

    pub fn allows(&self, action: Action) -> bool {
        match action {
            Action::View => self.view,
            Action::Create => self.create,
            Action::Edit => self.edit,
            Action::Delete => self.delete,
        }
    }
}

/// What one change needs: an action on a module, and the field groups it
/// reads or writes. Every mutation declares it; both sides check it
/// against the author's [`PermissionMatrix`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub module: Module,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<SensitiveFlag>,
}

impl Permission {
    pub fn new(module: Module, action: Action) -> Self {
        Permission {
            module,
            action,
            flags: vec![],
        }
    }
    /// The same permission, also needing these field groups.
    pub fn with_flags(mut self, flags: impl IntoIterator<Item = SensitiveFlag>) -> Self {
        for f in flags {
            if !self.flags.contains(&f) {
                self.flags.push(f);
            }
        }
        self
    }
    /// Full administration of the tenant (staff, sites, rooms): the
    /// administration module and every field group, which only a full
    /// administrator holds.
    pub fn admin() -> Self {
        Permission::new(Module::Admin, Action::Edit).with_flags(SensitiveFlag::ALL)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PermissionMatrix {
    pub modules: BTreeMap<Module, ModuleGrant>,
    pub flags: Vec<SensitiveFlag>,
}

impl PermissionMatrix {
    pub fn allows(&self, module: Module, action: Action) -> bool {
        module == Module::Account || self.modules.get(&module).is_some_and(|g| g.allows(action))
    }
    pub fn has_flag(&self, flag: SensitiveFlag) -> bool {
        self.flags.contains(&flag)
    }
    pub fn require(&self, module: Module, action: Action) -> ClinicResult<()> {
        if self.allows(module, action) {
            Ok(())
        } else {
            Err(ClinicError::forbidden(format!(
                "Your role does not allow you to {} {}.",
                action_verb(action),
                module_noun(module)
            )))
        }
    }
    pub fn require_flag(&self, flag: SensitiveFlag) -> ClinicResult<()> {
        if self.has_flag(flag) {
            Ok(())
        } else {
            Err(ClinicError::forbidden(format!(
                "Your role does not allow access to {}.",
                flag_noun(flag)
            )))
        }
    }
    /// Refuses unless this matrix grants `p` whole (module action and flags).
    pub fn check(&self, p: &Permission) -> ClinicResult<()> {
        self.require(p.module, p.action)?;
        p.flags.iter().try_for_each(|f| self.require_flag(*f))
    }
    /// Whether this matrix allows everything `other` allows (so a holder of
    /// this one may hand `other` to someone without escalating anyone).
    pub fn covers(&self, other: &PermissionMatrix) -> bool {
        other.modules.iter().all(|(m, g)| {
            Action::ALL
                .into_iter()
                .all(|a| !g.allows(a) || self.allows(*m, a))
        }) && other.flags.iter().all(|f| self.has_flag(*f))
    }

    /// Full access to every module and every field group (what backups and
    /// key management need, since they touch all data at once).
    pub fn is_full_admin(&self) -> bool {
        self.covers(&BuiltinRole::Admin.matrix())
    }

    /// The union of several roles' permissions (a user may hold more than one role).
    pub fn union(matrices: &[PermissionMatrix]) -> PermissionMatrix {
        let mut out = PermissionMatrix::default();
        for m in matrices {
            for (module, g) in &m.modules {
                let e = out.modules.entry(*module).or_default();
                e.view |= g.view;
                e.create |= g.create;
                e.edit |= g.edit;
                e.delete |= g.delete;
            }
            for f in &m.flags {
                if !out.flags.contains(f) {
                    out.flags.push(*f);
                }
            }
        }
        out.flags.sort();
        out
    }
}

fn action_verb(a: Action) -> &'static str {
    match a {
        Action::View => "view",
        Action::Create => "create",
        Action::Edit => "change",
        Action::Delete => "archive",
    }
}

fn module_noun(m: Module) -> &'static str {
    match m {
        Module::Patients => "patients",
        Module::Appointments => "appointments",
        Module::Clinical => "clinical records",
        Module::Prescriptions => "prescriptions",
        Module::Billing => "billing",
        Module::Inventory => "inventory",
        Module::Reports => "reports",
        Module::Admin => "administration (users, roles, devices)",
        Module::Account => "your own account",
    }
}

fn flag_noun(f: SensitiveFlag) -> &'static str {
    match f {
        SensitiveFlag::SensitiveInfo => "sensitive patient information",
        SensitiveFlag::FinancialData => "financial data",
        SensitiveFlag::MedicalHistory => "medical history",
    }
}

/// The roles every tenant starts with. Tenants may add custom roles.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_is_the_no_escalation_rule() {
        let admin = BuiltinRole::Admin.matrix();
        let manager = BuiltinRole::Manager.matrix();
        for r in BuiltinRole::ALL {
            assert!(admin.covers(&r.matrix()), "{r:?}");
            assert!(r.matrix().covers(&r.matrix()));
        }
        assert!(!manager.covers(&admin));
        assert!(
            !manager.covers(&BuiltinRole::Clinician.matrix()),
            "clinical access is not the manager's to give"
        );
        assert!(manager.covers(&BuiltinRole::BillingClerk.matrix()));
        assert!(admin.is_full_admin() && !manager.is_full_admin());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    Admin,
    Manager,
    Clinician,
    Receptionist,
    Pharmacist,
    BillingClerk,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 6] = [
        BuiltinRole::Admin,
        BuiltinRole::Manager,
        BuiltinRole::Clinician,
        BuiltinRole::Receptionist,
        BuiltinRole::Pharmacist,
        BuiltinRole::BillingClerk,
    ];

    pub fn key(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "admin",
            BuiltinRole::Manager => "manager",
            BuiltinRole::Clinician => "clinician",
            BuiltinRole::Receptionist => "receptionist",
            BuiltinRole::Pharmacist => "pharmacist",
            BuiltinRole::BillingClerk => "billing_clerk",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "Administrator",
            BuiltinRole::Manager => "Clinic manager",
            BuiltinRole::Clinician => "Clinician",
            BuiltinRole::Receptionist => "Receptionist",
            BuiltinRole::Pharmacist => "Pharmacist / inventory clerk",
            BuiltinRole::BillingClerk => "Billing clerk",
        }
    }

    pub fn from_key(key: &str) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The grant of this role for each module, in [`Module::ALL`] order.
    /// This table is the single source of truth for built-in permissions.
    pub fn matrix(self) -> PermissionMatrix {
        use ModuleGrant as G;
        use SensitiveFlag::*;
        let (grants, flags): ([G; 8], &[SensitiveFlag]) = match self {
            //                      patients  appts   clinical presc   billing inventory reports  admin
            BuiltinRole::Admin => (
                [
                    G::ALL,
                    G::ALL,
                    G::ALL,
                    G::ALL,
                    G::ALL,
                    G::ALL,
                    G::ALL,
                    G::ALL,
                ],
                &[SensitiveInfo, FinancialData, MedicalHistory],
            ),
            BuiltinRole::Manager => (
                [
                    G::VCE,
                    G::ALL,
                    G::NONE,
                    G::NONE,
                    G::ALL,
                    G::ALL,
                    G::VIEW,
                    G::VCE,
                ],
                &[FinancialData],
            ),
            BuiltinRole::Clinician => (
                [
                    G::VCE,
                    G::VCE,
                    G::ALL,
                    G::ALL,
                    G::VIEW,
                    G::VIEW,
                    G::VIEW,
                    G::NONE,
                ],
                &[SensitiveInfo, MedicalHistory],
            ),
            BuiltinRole::Receptionist => (
                [
                    G::VCE,
                    G::ALL,
                    G::NONE,
                    G::NONE,
                    G::VCE,
                    G::NONE,
                    G::VIEW,
                    G::NONE,
                ],
                &[FinancialData],
            ),
            BuiltinRole::Pharmacist => (
                [
                    G::VIEW,
                    G::VIEW,
                    G::NONE,
                    G::VE,
                    G::VIEW,
                    G::ALL,
                    G::VIEW,
                    G::NONE,
                ],
                &[MedicalHistory],
            ),
            BuiltinRole::BillingClerk => (
                [
                    G::VE,
                    G::VIEW,
                    G::NONE,
                    G::NONE,
                    G::ALL,
                    G::NONE,
                    G::VIEW,
                    G::NONE,
                ],
                &[FinancialData],
            ),
        };
        PermissionMatrix {
            modules: Module::ALL.into_iter().zip(grants).collect(),
            flags: flags.to_vec(),
        }
    }
}
