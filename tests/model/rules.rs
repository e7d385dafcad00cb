//! The world the histories run in, and the rules the model holds the engine to: who is
//! registered (three enterprises, a compute provider, a robot lessor, and enterprise 2 also
//! registered as a robot lessor, so that it can try to deal with itself); the policy's numbers
//! as README.md states them, with the caps and budgets made small so that histories reach them;
//! every cap period and account there is to read; and the policy file the engine runs, which
//! says the same. The model's copy of the rules' constants is here and nowhere else.

use std::sync::{Arc, LazyLock};

use chrono::{Datelike, NaiveDate};
use voucher_ledger::domain::model::EvidenceKind;
use voucher_ledger::domain::policy::{DEFAULT_POLICY_TOML, Policy, ProgramCode};

use crate::values::{Fen, Period};

// ---------------------------------------------------------------------------------------------
// The world: three enterprises, a compute provider, a robot lessor, and enterprise 2 also
// registered as a robot lessor (so that it can try to deal with itself).
// ---------------------------------------------------------------------------------------------

pub const ENTERPRISES: [&str; 3] = [
    "914403001922038216",
    "91110108551385082Q",
    "91330100716105852F",
];
pub const COMPUTE_PROVIDER: &str = "9144030071526726XG";
pub const LESSOR: &str = "91320681MA1N7Q4R2M";
pub const ENTERPRISE_2_AS_LESSOR: &str = ENTERPRISES[2];

/// The program each seller is registered for.
pub const SELLERS: [(&str, ProgramCode); 3] = [
    (COMPUTE_PROVIDER, ProgramCode::Compute),
    (LESSOR, ProgramCode::Leasing),
    (ENTERPRISE_2_AS_LESSOR, ProgramCode::Leasing),
];

// ---------------------------------------------------------------------------------------------
// The rules, as README.md states them, with the caps made small (policy file below).
// ---------------------------------------------------------------------------------------------

pub fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a real day")
}

pub fn term() -> Period {
    Period {
        first: date(2026, 5, 14),
        last: date(2028, 5, 13),
    }
}

pub const REDEEM_GRACE_DAYS: i64 = 90;

pub fn cap_of(program: ProgramCode) -> Fen {
    match program {
        // 1000.00 per enterprise per calendar year.
        ProgramCode::Compute => Fen(100_000),
        // 500.00 per enterprise over the whole term.
        ProgramCode::Leasing => Fen(50_000),
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

fn rate_percent(program: ProgramCode) -> i64 {
    match program {
        ProgramCode::Compute => 50,
        ProgramCode::Leasing => 20,
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

/// The subsidy of an invoice amount: rate × amount, half up to the fen.
pub fn subsidy_for(program: ProgramCode, amount: Fen) -> Fen {
    Fen((amount.0 * rate_percent(program) + 50) / 100)
}

/// The program's budget for the cap period starting in `year` (small, so it is reached: a
/// few enterprises' caps pass it); 2028's compute period has none and is bound by the caps only.
pub fn budget_of(program: ProgramCode, year: i32) -> Option<Fen> {
    match (program, year) {
        (ProgramCode::Compute, 2026) => Some(Fen(150_000)),
        (ProgramCode::Compute, 2027) => Some(Fen(250_000)),
        (ProgramCode::Leasing, 2026) => Some(Fen(70_000)),
        _ => None,
    }
}

/// The documents every claim of the program must carry: leasing claims a contract and a
/// payment receipt; compute claims nothing.
pub fn required_evidence(program: ProgramCode) -> &'static [EvidenceKind] {
    match program {
        ProgramCode::Compute => &[],
        ProgramCode::Leasing => &[EvidenceKind::Contract, EvidenceKind::PaymentReceipt],
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

/// Whether the bureau may approve a claim of the program only once its enterprise confirmed
/// it (`enterprise_confirmation = "required"`): leasing's, in the test policy; compute's not,
/// so that both are exercised.
pub fn confirmation_required(program: ProgramCode) -> bool {
    match program {
        ProgramCode::Compute => false,
        ProgramCode::Leasing => true,
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    }
}

/// The most claims, and separately the most clawbacks, one statement carries.
pub const SETTLEMENT_LINES_MAX: usize = 2000;

/// The cap period holding `day`: its calendar year clipped to the term (compute), or the
/// term (leasing); none outside the term.
pub fn period_holding(program: ProgramCode, day: NaiveDate) -> Option<Period> {
    let term = term();
    if !term.contains(day) {
        return None;
    }
    Some(match program {
        ProgramCode::Compute => Period {
            first: date(day.year(), 1, 1).max(term.first),
            last: date(day.year(), 12, 31).min(term.last),
        },
        ProgramCode::Leasing => term,
        ProgramCode::Corpus => unreachable!("the test policy has no corpus program"),
    })
}

/// Every cap period there is, to read every balance after every step.
fn all_periods(program: ProgramCode) -> Vec<Period> {
    let mut periods: Vec<Period> = [date(2026, 6, 1), date(2027, 6, 1), date(2028, 3, 1)]
        .into_iter()
        .filter_map(|day| period_holding(program, day))
        .collect();
    periods.dedup();
    periods
}

/// The policy the engine runs: the compiled-in file with small caps and small budgets, so
/// they are reached, the evidence leasing claims must carry, and leasing claims confirmed by
/// their enterprise before they are approved.
pub static POLICY: LazyLock<Arc<Policy>> = LazyLock::new(|| test_policy(false));

/// The same, with `separation_of_duties = true` (issue 15): the policy of the histories that
/// separate duties.
pub static SEPARATED_POLICY: LazyLock<Arc<Policy>> = LazyLock::new(|| test_policy(true));

fn test_policy(separated: bool) -> Arc<Policy> {
    let replace = |text: &str, from: &str, to: &str| {
        assert!(text.contains(from), "the default policy has {from}");
        text.replacen(from, to, 1)
    };
    let small = replace(
        DEFAULT_POLICY_TOML,
        "cap = \"2000000.00\"",
        "cap = \"1000.00\"",
    );
    let small = replace(&small, "cap = \"1000000.00\"", "cap = \"500.00\"");
    let compute_kind = "provider_kind = \"compute provider (算力服务商)\"";
    let small = replace(
        &small,
        compute_kind,
        &format!("{compute_kind}\nbudgets = {{ \"2026\" = \"1500.00\", \"2027\" = \"2500.00\" }}"),
    );
    let leasing_kind = "provider_kind = \"embodied-robot lessor (具身机器人租赁商)\"";
    let small = replace(
        &small,
        leasing_kind,
        &format!(
            "{leasing_kind}\nbudgets = {{ \"2026\" = \"700.00\" }}\nrequired_evidence = [\"contract\", \"payment_receipt\"]\nenterprise_confirmation = \"required\""
        ),
    );
    let grace = "redeem_grace_days = 90";
    let small = if separated {
        replace(
            &small,
            grace,
            &format!("{grace}\nseparation_of_duties = true"),
        )
    } else {
        small
    };
    let policy = Policy::from_toml(&small).expect("the test policy is valid");
    assert_eq!(policy.separation_of_duties, separated);
    Arc::new(policy)
}

/// The program a credit code is registered as a provider for, if it is one.
pub fn provider_program(code: &str) -> Option<ProgramCode> {
    SELLERS
        .iter()
        .find(|(seller, _)| *seller == code)
        .map(|(_, program)| *program)
}

/// Every (program, cap period).
pub fn program_periods() -> Vec<(ProgramCode, Period)> {
    [ProgramCode::Compute, ProgramCode::Leasing]
        .into_iter()
        .flat_map(|program| {
            all_periods(program)
                .into_iter()
                .map(move |period| (program, period))
        })
        .collect()
}

/// Every (enterprise, program, cap period).
pub fn accounts() -> Vec<(usize, ProgramCode, Period)> {
    let mut accounts = Vec::new();
    for enterprise in 0..ENTERPRISES.len() {
        for program in [ProgramCode::Compute, ProgramCode::Leasing] {
            for period in all_periods(program) {
                accounts.push((enterprise, program, period));
            }
        }
    }
    accounts
}
