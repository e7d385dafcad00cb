//! The sled store and the memory store, side by side on the same random history: every read
//! the seam offers must give the same answer from both, both must verify, and both must give
//! back the same ledger when opened again.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::verify::verify;
use super::{
    MemoryTree, OpenedStore, Page, ReadStore, RedemptionFilter, StoreOptions, VoucherFilter,
    open_ledger, open_memory,
};
use crate::domain::command::{Command, RedeemCommand, SettlementRequest};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::{Clock, china_offset};
use crate::domain::ids::{RedemptionId, SettlementId, VoucherId};
use crate::domain::invoice::InvoiceNumber;
use crate::domain::ledger::Ledger;
use crate::domain::model::{
    Actor, CapKey, Invoice, IssueVoucherRequest, ProgramPeriod, Redemption, Role, SecretHash,
    Voucher,
};
use crate::domain::money::Money;
use crate::domain::policy::{Policy, ProgramCode};
use crate::domain::text::{BoundedText, RequestId};

const ENTERPRISES: [&str; 3] = [
    "914403001922038216",
    "91110108551385082Q",
    "91330100716105852F",
];
const COMPUTE_PROVIDER: &str = "9144030071526726XG";
const LEASING_PROVIDER: &str = "91320681MA1N7Q4R2M";
const COMMANDS: usize = 600;

fn code(text: &str) -> CreditCode {
    CreditCode::parse(text).expect("a valid code")
}

fn clock() -> Clock {
    Clock {
        now: china_offset()
            .with_ymd_and_hms(2027, 6, 15, 10, 0, 0)
            .single()
            .expect("an instant"),
        today: NaiveDate::from_ymd_opt(2027, 6, 15).expect("a day"),
    }
}

/// The world every history starts from: three enterprises and a provider per program.
fn set_up() -> Vec<Command> {
    let mut commands: Vec<Command> = ENTERPRISES
        .iter()
        .map(|enterprise| Command::RegisterEnterprise {
            credit_code: code(enterprise),
            name: BoundedText::parse(&format!("企业 {enterprise}")).expect("name"),
            check_digit_override_reason: None,
        })
        .collect();
    for (provider, program) in [
        (COMPUTE_PROVIDER, ProgramCode::Compute),
        (LEASING_PROVIDER, ProgramCode::Leasing),
    ] {
        commands.push(Command::RegisterProvider {
            credit_code: code(provider),
            name: BoundedText::parse("服务商").expect("name"),
            program,
            check_digit_override_reason: None,
        });
    }
    commands
}

/// A random command over what exists so far (many are refused: that is part of the history).
fn random_command(rng: &mut StdRng, serial: usize, ledger: &Ledger) -> Command {
    let vouchers = ledger.vouchers().count() as u64;
    let redemptions = ledger.redemptions().count() as u64;
    let pick_voucher =
        |rng: &mut StdRng| VoucherId::from_number(rng.random_range(1..=vouchers.max(1)));
    let pick_claim =
        |rng: &mut StdRng| RedemptionId::from_number(rng.random_range(1..=redemptions.max(1)));
    let program = if rng.random_bool(0.7) {
        ProgramCode::Compute
    } else {
        ProgramCode::Leasing
    };
    let provider = code(match program {
        ProgramCode::Leasing => LEASING_PROVIDER,
        _ => COMPUTE_PROVIDER,
    });
    let reason = BoundedText::parse("复核").expect("reason");
    let claim_enterprise = |rng: &mut StdRng| {
        let id = pick_claim(rng).unwrap_or(RedemptionId::FIRST);
        let enterprise = ledger
            .redemption(&id)
            .map_or(code(ENTERPRISES[0]), |claim| claim.enterprise_credit_code);
        (id, enterprise)
    };
    match rng.random_range(0..23) {
        // The enterprise's part: a return for correction (the invoice may then be claimed
        // again by `claim_again`), a confirmation, a dispute.
        20 => Command::ReturnRedemption {
            redemption_id: pick_claim(rng).unwrap_or(RedemptionId::FIRST),
            reason,
        },
        21 => {
            let (redemption_id, enterprise_credit_code) = claim_enterprise(rng);
            Command::ConfirmRedemption {
                redemption_id,
                enterprise_credit_code,
            }
        }
        22 => {
            let (redemption_id, enterprise_credit_code) = claim_enterprise(rng);
            Command::DisputeRedemption {
                redemption_id,
                enterprise_credit_code,
                reason,
            }
        }
        0..=2 => random_issue(rng, serial, program),
        // An invoice again: the same request retried, or another claim on a used invoice.
        3 => match pick_claim(rng).and_then(|id| ledger.redemption(&id)) {
            Some(claimed) => claim_again(rng, claimed),
            None => Command::RevokeToken {
                token_id: crate::domain::ids::TokenId::FIRST,
            },
        },
        4..=10 => match pick_voucher(rng).and_then(|id| ledger.voucher(&id)) {
            Some(voucher) => new_claim(rng, serial, voucher),
            None => Command::RevokeToken {
                token_id: crate::domain::ids::TokenId::FIRST,
            },
        },
        11..=12 => Command::ReverseRedemption {
            redemption_id: pick_claim(rng).unwrap_or(RedemptionId::FIRST),
            reason,
            actor: if rng.random_bool(0.5) {
                Actor::Bureau
            } else {
                Actor::Provider(provider)
            },
        },
        13..=15 => Command::ApproveRedemption {
            redemption_id: pick_claim(rng).unwrap_or(RedemptionId::FIRST),
        },
        16 => Command::RejectRedemption {
            redemption_id: pick_claim(rng).unwrap_or(RedemptionId::FIRST),
            reason,
        },
        17 => Command::CreateSettlement(SettlementRequest {
            request_id: RequestId::parse(&format!("settle-{serial}")).expect("id"),
            provider_credit_code: provider,
            program,
            up_to: clock().today,
        }),
        18 => Command::RevokeVoucher {
            voucher_id: pick_voucher(rng).unwrap_or(VoucherId::FIRST),
            reason,
        },
        _ => Command::CreateToken {
            role: Role::Provider,
            provider_credit_code: Some(provider),
            enterprise_credit_code: None,
            programs: Default::default(),
            description: None,
            secret_sha256: SecretHash::of(&format!("secret-{serial}")),
        },
    }
}

/// A voucher for one of the enterprises, of the default face value half the time.
fn random_issue(rng: &mut StdRng, serial: usize, program: ProgramCode) -> Command {
    Command::IssueVoucher(IssueVoucherRequest {
        request_id: RequestId::parse(&format!("issue-{serial}")).expect("id"),
        enterprise_credit_code: code(ENTERPRISES[rng.random_range(0..ENTERPRISES.len())]),
        program,
        face_value: rng
            .random_bool(0.5)
            .then(|| money(rng.random_range(1_000..5_000_000))),
        valid_from: None,
        valid_until: None,
        provider_credit_codes: Default::default(),
    })
}

/// A claim on an invoice already claimed: the same request retried, or half the time
/// another amount on the used invoice.
fn claim_again(rng: &mut StdRng, claimed: &Redemption) -> Command {
    let mut invoice = claimed.invoice.clone();
    if rng.random_bool(0.5) {
        invoice.amount = money(rng.random_range(100..2_000_000));
    }
    Command::Redeem(RedeemCommand {
        voucher_id: claimed.voucher_id,
        provider_credit_code: claimed.provider_credit_code,
        enterprise_credit_code: claimed.enterprise_credit_code,
        invoice,
        allow_partial: claimed.allow_partial,
        evidence: claimed.evidence.clone(),
    })
}

/// A claim on a new invoice against `voucher`, by its program's provider.
fn new_claim(rng: &mut StdRng, serial: usize, voucher: &Voucher) -> Command {
    Command::Redeem(RedeemCommand {
        voucher_id: voucher.voucher_id,
        provider_credit_code: code(match voucher.program {
            ProgramCode::Leasing => LEASING_PROVIDER,
            _ => COMPUTE_PROVIDER,
        }),
        enterprise_credit_code: voucher.enterprise_credit_code,
        invoice: Invoice {
            number: InvoiceNumber::parse(&format!("2632{serial:016}")).expect("invoice"),
            date: NaiveDate::from_ymd_opt(2027, 6, 1).expect("a day"),
            amount: money(rng.random_range(100..2_000_000)),
        },
        allow_partial: rng.random_bool(0.3),
        evidence: Vec::new(),
    })
}

fn money(fen: i64) -> Money {
    Money::from_units_and_nanos(
        "CNY",
        fen / 100,
        i32::try_from(fen % 100).expect("fen") * 10_000_000,
    )
    .expect("an amount")
}

/// Runs one random history into both stores, batch by batch, as the writer would: each
/// store's own ledger keeps only its resident state and recalls history from its store, and
/// must decide every command exactly as a ledger that remembers everything (returned).
struct RandomHistory {
    seed: u64,
    rng: StdRng,
    /// The ledger that remembers everything: what each store's ledger must agree with.
    ledger: Ledger,
    serial: usize,
}

impl RandomHistory {
    fn new(seed: u64, policy: &Arc<Policy>) -> RandomHistory {
        RandomHistory {
            seed,
            rng: StdRng::seed_from_u64(seed),
            ledger: Ledger::new(policy.clone()),
            serial: 0,
        }
    }
}

fn run_history(
    history: &mut RandomHistory,
    sled: &mut OpenedStore,
    memory: &mut OpenedStore,
    until_serial: usize,
) {
    let RandomHistory {
        seed,
        rng,
        ledger,
        serial,
    } = history;
    let (seed, rng, ledger) = (*seed, rng, ledger);
    let mut commands = set_up().into_iter().skip(*serial);
    while *serial < until_serial {
        let batch_size = rng.random_range(1..8);
        let mut events = Vec::new();
        for _ in 0..batch_size {
            *serial += 1;
            let command = commands
                .next()
                .unwrap_or_else(|| random_command(rng, *serial, ledger));
            let expected = ledger.execute(&command, clock());
            for store in [&mut *sled, &mut *memory] {
                let recalled = store
                    .ledger
                    .execute_recalled(
                        &command,
                        &crate::domain::model::Caller::ledger(),
                        clock(),
                        store.journal.history(),
                    )
                    .expect("history is readable");
                assert_eq!(
                    recalled, expected,
                    "seed {seed}, command {serial}: a ledger that recalls history decides as one that keeps it"
                );
            }
            if let Ok(executed) = expected {
                events.extend(executed.events);
            }
        }
        if events.is_empty() {
            continue;
        }
        for (name, store) in [("sled", &mut *sled), ("memory", &mut *memory)] {
            store
                .journal
                .commit(&events, &store.ledger)
                .expect("commit");
            store.ledger.forget_history();
            assert!(
                store.ledger.resident_equals(ledger),
                "seed {seed}, command {serial}, {name}: the resident state is the full ledger's"
            );
        }
    }
}

/// Every page of a listing, walked with a small page size so that page tokens are exercised.
fn all_pages<T>(mut read: impl FnMut(Option<String>) -> Page<T>) -> Vec<T> {
    let mut items = Vec::new();
    let mut after = None;
    for _ in 0..10_000 {
        let page = read(after);
        items.extend(page.items);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return items,
        }
    }
    panic!("a listing that never ends");
}

/// Every read the seam offers, asked of a store, in a form that can be compared.
fn everything_read(store: &dyn ReadStore, ledger: &Ledger) -> Vec<String> {
    let mut seen = Vec::new();
    read_by_id(store, ledger, &mut seen);
    let periods: Vec<ProgramPeriod> = ledger.all_program_totals().map(|(key, _)| *key).collect();
    for enterprise in ENTERPRISES
        .iter()
        .chain([&COMPUTE_PROVIDER, &LEASING_PROVIDER])
    {
        read_party(store, code(enterprise), &periods, &mut seen);
    }
    read_periods(store, &periods, &mut seen);
    read_lists_and_log(store, &mut seen);
    seen
}

/// A read's answer, in a form that can be compared.
fn read(result: &dyn std::fmt::Debug) -> String {
    format!("{result:?}")
}

/// Each voucher, claim and statement by its id (one past the last too), each token by its id
/// and by its secret.
fn read_by_id(store: &dyn ReadStore, ledger: &Ledger, seen: &mut Vec<String>) {
    let vouchers = ledger.vouchers().count() as u64 + 1;
    let claims = ledger.redemptions().count() as u64 + 1;
    for number in 1..=vouchers {
        let id = VoucherId::from_number(number).expect("id");
        seen.push(read(&store.voucher(&id).expect("voucher")));
    }
    for number in 1..=claims {
        let id = RedemptionId::from_number(number).expect("id");
        seen.push(read(&store.redemption(&id).expect("redemption")));
    }
    for number in 1..=ledger.settlements().count() as u64 + 1 {
        let id = SettlementId::from_number(number).expect("id");
        seen.push(read(&store.settlement(&id).expect("settlement")));
    }
    for token in ledger.tokens() {
        seen.push(read(&store.token(&token.token_id).expect("token")));
        seen.push(read(
            &store
                .token_by_secret(&token.secret_sha256.0)
                .expect("token"),
        ));
    }
}

/// What the store holds about one credit code: as an enterprise and as a provider, its cap
/// accounts, and its vouchers, claims and statements as listed, all and by program.
fn read_party(
    store: &dyn ReadStore,
    code: CreditCode,
    periods: &[ProgramPeriod],
    seen: &mut Vec<String>,
) {
    seen.push(read(&store.enterprise(&code).expect("enterprise")));
    seen.push(read(&store.provider(&code).expect("provider")));
    for period in periods {
        let key = CapKey {
            enterprise_credit_code: code,
            program: period.program,
            period_start: period.period_start,
        };
        seen.push(read(&store.cap_account(&key).expect("cap account")));
    }
    for program in [None, Some(ProgramCode::Compute)] {
        let filter = VoucherFilter {
            enterprise_credit_code: Some(code),
            program,
        };
        seen.push(read(&all_pages(|after| {
            let after = after.map(|id| VoucherId::parse(&id).expect("id"));
            store.list_vouchers(filter, after, 3, 50).expect("vouchers")
        })));
        let filter = RedemptionFilter {
            enterprise_credit_code: Some(code),
            program,
            ..RedemptionFilter::default()
        };
        seen.push(read(&all_pages(|after| {
            let after = after.map(|id| RedemptionId::parse(&id).expect("id"));
            store
                .list_redemptions(filter, after, 7, 50)
                .expect("redemptions")
        })));
        seen.push(read(&all_pages(|after| {
            let after = after.map(|id| SettlementId::parse(&id).expect("id"));
            store
                .list_settlements(Some(code), program, after, 2, 50)
                .expect("settlements")
        })));
    }
}

/// Each period's program totals, providers' totals and cap accounts.
fn read_periods(store: &dyn ReadStore, periods: &[ProgramPeriod], seen: &mut Vec<String>) {
    for period in periods {
        seen.push(read(&store.program_totals(period).expect("totals")));
        seen.push(read(
            &store
                .provider_totals_of(period, 10)
                .expect("provider totals"),
        ));
        seen.push(read(&all_pages(|after| {
            let after = after.map(|text| code(&text));
            store.cap_accounts_of(period, after, 2).expect("accounts")
        })));
    }
}

/// The registry's listings, every event, the head and the store's markers.
fn read_lists_and_log(store: &dyn ReadStore, seen: &mut Vec<String>) {
    seen.push(read(&all_pages(|after| {
        let after = after.map(|text| code(&text));
        store
            .list_enterprises(after, 1, 10, &|enterprise| {
                enterprise.name.as_str().contains("企业")
            })
            .expect("enterprises")
    })));
    seen.push(read(&all_pages(|after| {
        let after = after.map(|text| code(&text));
        store.list_providers(after, 1).expect("providers")
    })));
    let mut events = Vec::new();
    store
        .visit_events(1, u64::MAX, &mut |sequence, bytes| {
            events.push((sequence, bytes.to_vec()));
            true
        })
        .expect("events");
    seen.push(read(&events));
    seen.push(read(&store.stored_head().expect("head")));
    seen.push(read(&store.has_tokens().expect("tokens")));
    seen.push(read(&store.records_format().expect("format")));
}

/// Opens the sled store in `directory` once the last one to open it has let go: sled releases
/// its file lock from a background thread, a moment after it is dropped.
fn open_when_released(directory: &std::path::Path, policy: &Arc<Policy>) -> OpenedStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open_ledger(directory, policy.clone(), "", StoreOptions::default()) {
            Ok(opened) => return opened,
            Err(error)
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => panic!("sled: {error}"),
        }
    }
}

#[test]
fn sled_and_memory_stores_agree_on_random_histories() {
    let policy = Arc::new(Policy::default_qidong());
    for seed in 0..4u64 {
        let directory = tempfile::tempdir().expect("tempdir");
        let ledger_directory = directory.path().join("ledger");
        let tree = Arc::new(MemoryTree::default());
        let open_both = || {
            let sled = open_when_released(&ledger_directory, &policy);
            (
                sled,
                open_memory(tree.clone(), policy.clone()).expect("memory"),
            )
        };
        let mut history = RandomHistory::new(seed, &policy);
        // Restarts along the way (early, before most totals have moved from zero, and later):
        // what is written after a restart comes from state loaded from the records, and must
        // still be exactly the replay's.
        for until_serial in [12, 40, COMMANDS / 2, COMMANDS] {
            let (mut sled, mut memory) = open_both();
            run_history(&mut history, &mut sled, &mut memory, until_serial);
        }
        let (sled, memory) = open_both();
        let ledger = history.ledger;
        assert!(
            ledger.redemptions().count() > 20,
            "seed {seed}: the history did something"
        );

        let from_sled = everything_read(&*sled.reader, &ledger);
        let from_memory = everything_read(&*memory.reader, &ledger);
        assert_eq!(from_sled.len(), from_memory.len());
        for (index, (left, right)) in from_sled.iter().zip(&from_memory).enumerate() {
            assert_eq!(left, right, "seed {seed}: read {index} differs");
        }
        for (name, store) in [("sled", &*sled.reader), ("memory", &*memory.reader)] {
            let (report, replayed) = verify(store, policy.clone()).expect("verify");
            assert!(
                report.is_sound(),
                "seed {seed}, {name}: {}",
                report.render()
            );
            assert_eq!(
                replayed, ledger,
                "seed {seed}, {name}: the replay is the live ledger"
            );
        }
        drop(sled);
        drop(memory);
        let reopened_memory = open_memory(tree, policy.clone()).expect("memory again");
        let reopened_sled = open_when_released(&ledger_directory, &policy);
        for (name, reopened) in [("memory", reopened_memory), ("sled", reopened_sled)] {
            assert!(
                !reopened.ledger.history_complete(),
                "seed {seed}, {name}: a restart loads the resident state, not the history"
            );
            assert!(
                reopened.ledger.resident_equals(&ledger),
                "seed {seed}, {name}: reopened, the resident state is the full ledger's"
            );
            assert_eq!(reopened.ledger.check_invariants(), Vec::new());
        }
    }
}
