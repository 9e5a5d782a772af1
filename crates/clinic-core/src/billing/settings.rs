//! The clinic's settings, synced to every desk (one record per tenant,
//! shared by every domain that prints or bills): currency, locale, tax
//! rates, whether prices include tax, invoice footer and payment terms, and
//! the legal details printed on every document, with each site's address.

use super::money::{check_currency, check_percent, minor_digits};
use crate::error::{ClinicResult, FieldErrors};
use crate::permissions::Permission;
use crate::sync::{Merge, RecordKind};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A named tax rate people pick from ("Standard 20%", "Exempt 0%").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TaxRate {
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub rate: Decimal,
}

/// What a site prints under the clinic's name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct SiteDetails {
    pub site_id: Uuid,
    pub address_lines: Vec<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct ClinicSettings {
    /// [`ClinicSettings::id_for`] the tenant: one record per tenant.
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// ISO 4217 code every price and invoice is in.
    pub currency: String,
    /// BCP 47 tag dates, times and money are shown in ("en-GB", "de-DE").
    pub locale: String,
    /// Whether price-list prices already include tax.
    pub prices_include_tax: bool,
    pub tax_rates: Vec<TaxRate>,
    /// The legal entity on invoices, receipts and credit notes.
    pub legal_name: String,
    /// The tax registration as printed ("VAT GB 123 4567 89").
    pub tax_id: Option<String>,
    /// Days an invoice is due after it is issued.
    pub payment_days: u16,
    /// Printed on invoices ("Payable to IBAN …").
    pub payment_terms: String,
    /// Printed at the foot of every invoice, receipt and credit note.
    pub invoice_footer: String,
    pub sites: Vec<SiteDetails>,
    pub updated_at: DateTime<Utc>,
}

impl Default for ClinicSettings {
    fn default() -> Self {
        ClinicSettings {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            currency: "EUR".into(),
            locale: "en-GB".into(),
            prices_include_tax: false,
            tax_rates: vec![
                TaxRate {
                    name: "Exempt".into(),
                    rate: Decimal::ZERO,
                },
                TaxRate {
                    name: "Standard".into(),
                    rate: Decimal::from(20),
                },
            ],
            legal_name: String::new(),
            tax_id: None,
            payment_days: 30,
            payment_terms: String::new(),
            invoice_footer: String::new(),
            sites: vec![],
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }
}

impl ClinicSettings {
    /// The id of a tenant's settings record (the same on every desk).
    pub fn id_for(tenant: Uuid) -> Uuid {
        derived_id(tenant, "clinic-settings")
    }

    /// The defaults for a tenant that has saved none yet.
    pub fn defaults_for(tenant: Uuid) -> ClinicSettings {
        ClinicSettings {
            id: Self::id_for(tenant),
            tenant_id: tenant,
            ..Default::default()
        }
    }

    pub fn minor_digits(&self) -> u32 {
        minor_digits(&self.currency)
    }

    pub fn site(&self, site: Uuid) -> Option<&SiteDetails> {
        self.sites.iter().find(|s| s.site_id == site)
    }
}

/// A record id derived from another id and a purpose: the same on every
/// desk, so two desks creating "the" record for something (the tenant's
/// settings, an appointment's invoice) name one record, and the second
/// creation meets the first instead of duplicating it.
pub fn derived_id(from: Uuid, purpose: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update(from.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl RecordKind for ClinicSettings {
    const KIND: &'static str = "clinic_settings";
    const MERGE: Merge = Merge::Document;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
    fn save_permission(&self) -> Permission {
        Permission::admin()
    }
    fn validate(&self) -> ClinicResult<()> {
        let mut errs = FieldErrors::default();
        if self.id != Self::id_for(self.tenant_id) {
            errs.add("id", "is not this tenant's settings record");
        }
        if let Err(e) = check_currency(&self.currency) {
            errs.add("currency", e);
        }
        let locale_ok = (2..=35).contains(&self.locale.len())
            && self.locale.split('-').all(|p| {
                !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !locale_ok {
            errs.add("locale", "must be a language tag like en-GB or de-DE");
        }
        if self.tax_rates.is_empty() || self.tax_rates.len() > 20 {
            errs.add("tax_rates", "must list 1 to 20 rates");
        }
        for r in &self.tax_rates {
            if r.name.trim().is_empty() || r.name.chars().count() > 40 {
                errs.add("tax_rates", "each needs a name of at most 40 characters");
            }
            if let Err(e) = check_percent(r.rate) {
                errs.add("tax_rates", e);
            }
        }
        for (field, v, max) in [
            ("legal_name", &self.legal_name, 200),
            ("payment_terms", &self.payment_terms, 500),
            ("invoice_footer", &self.invoice_footer, 500),
        ] {
            if v.chars().count() > max {
                errs.add(field, format!("must be at most {max} characters"));
            }
        }
        if self.tax_id.as_ref().is_some_and(|t| t.chars().count() > 60) {
            errs.add("tax_id", "must be at most 60 characters");
        }
        if self.payment_days > 365 {
            errs.add("payment_days", "must be at most 365");
        }
        if self.sites.len() > 200 {
            errs.add("sites", "too many sites");
        }
        for s in &self.sites {
            if s.address_lines.len() > 6 || s.address_lines.iter().any(|l| l.chars().count() > 120)
            {
                errs.add("address_lines", "at most 6 lines of 120 characters");
            }
            for v in [&s.phone, &s.email].into_iter().flatten() {
                if v.chars().count() > 120 {
                    errs.add("sites", "phone and email must be at most 120 characters");
                }
            }
        }
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_one_record_per_tenant_and_checked() {
        let t = Uuid::from_u128(7);
        let s = ClinicSettings::defaults_for(t);
        assert_eq!(s.id, ClinicSettings::id_for(t));
        assert_ne!(s.id, ClinicSettings::id_for(Uuid::from_u128(8)));
        assert!(s.validate().is_ok());
        let mut bad = s.clone();
        bad.currency = "euro".into();
        bad.locale = "en GB".into();
        bad.tax_rates[0].rate = Decimal::from(101);
        let e = bad.validate().unwrap_err();
        let fields: Vec<_> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["currency", "locale", "tax_rates"]);
        let mut other = s;
        other.id = Uuid::from_u128(1);
        assert!(other.validate().is_err());
    }
}
