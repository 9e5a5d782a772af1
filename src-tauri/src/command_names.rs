//! Every command the UI may call, listed once, by domain (also read by
//! `build.rs`, which declares them so the capability file can grant them).
//! `commands::handler` registers the same list, and a test ties it to the
//! capability file, the UI's `api.ts` and `ui/CONTRACT.md`.

/// Calls `$then!` with the list: `domain: command, …;` per domain.
macro_rules! desktop_commands {
    ($then:ident) => {
        $then! {
            session: app_state, create_store, enroll, unlock, unlock_as, sign_in, change_password, sign_out, lock, settings;
            patients: search_patients, patient_summary, check_duplicates, register_patient, update_patient;
            scheduling: calendar, find_slots, book_appointment, move_appointment, set_appointment_status,
                resolve_booking, setup_view, save_hours, add_leave, remove_leave, save_room, save_type;
            clinical: clinician_day, chart, start_encounter, note, save_draft, save_note, record_vitals,
                change_diagnoses, sign_note, add_addendum, resolve_sibling, check_prescription, prescribe,
                end_prescription;
            billing: billing_home, invoice, patient_account, create_invoice, invoice_for_appointment, invoice_for_encounter,
                edit_invoice, discard_invoice, issue_invoice, void_invoice, take_payment, refund_payment,
                credit_invoice, resolve_money_conflict, print_document, claims, add_claim, decide_claim, add_plan,
                cash_up, close_cash_up, period_lock, preview_close, close_period;
            inventory: stock_list, stock_item, dispense_plan, dispense_stock, prescriptions_to_fill, receive_stock,
                adjust_stock, reallocate_stock, stock_alerts, stock_alert_counts, purchase_orders, purchase_order,
                create_purchase_order, order_step, receive_order, stocktakes, start_stocktake, stocktake, count_stock,
                post_stocktake;
            sync: sync_status, sync_now, conflicts, reapply_refused, dismiss_refused;
            directory: users, add_user, set_user_disabled, set_user_roles, devices, revoke_device, roles;
        }
    };
}

macro_rules! command_names {
    ($($module:ident: $($command:ident),*;)*) => {
        pub const COMMANDS: &[&str] = &[$($(stringify!($command)),*),*];
    };
}
desktop_commands!(command_names);

#[cfg(test)]
mod tests {
    use super::COMMANDS;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn read(rel: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn listed() -> BTreeSet<String> {
        COMMANDS.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_capability_grants_exactly_the_commands() {
        let cap: serde_json::Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
        let granted: BTreeSet<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect();
        assert_eq!(
            granted,
            listed(),
            "capabilities/main.json and COMMANDS differ"
        );
        assert_eq!(COMMANDS.len(), listed().len(), "a command is listed twice");
    }

    #[test]
    fn the_ui_calls_exactly_the_commands() {
        let api = read("../ui/src/lib/api.ts");
        let called: BTreeSet<String> = api
            .split("call<")
            .skip(1)
            .filter_map(|rest| {
                let name = rest.split_once(">('")?.1;
                Some(name.split('\'').next()?.to_string())
            })
            .collect();
        assert_eq!(called, listed(), "ui/src/lib/api.ts and COMMANDS differ");
    }

    #[test]
    fn the_contract_documents_exactly_the_commands() {
        let contract = read("../ui/CONTRACT.md");
        let documented: BTreeSet<String> = contract
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(" |").next())
            .map(str::trim)
            .filter(|c| *c != "command")
            .filter(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') && !c.is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(documented, listed(), "ui/CONTRACT.md and COMMANDS differ");
    }
}
