//! The state machine on its own: rules, idempotency, and replay giving back the same state.

use crate::domain::reason::ReasonCode;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};

use super::*;
use crate::domain::command::RedeemCommand;
use crate::domain::dates::{DateRange, parse_date};
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{Actor, EventCause, Invoice, IssueVoucherRequest, VoucherStatus};
use crate::domain::money::{Money, Total};
use crate::domain::policy::{Policy, ProgramCode};
use crate::domain::text::{Name, Reason, RequestId};

const ENTERPRISE: &str = "914403001922038216";
const PROVIDER: &str = "9144030071526726XG";
const LESSOR: &str = "91110108551385082Q";

fn day(text: &str) -> NaiveDate {
    parse_date(text).expect("date")
}

fn clock(today: &str) -> Clock {
    let now = DateTime::parse_from_rfc3339("2027-06-15T10:00:00+08:00").expect("instant");
    Clock::pinned(now, day(today))
}

fn yuan(text: &str) -> Money {
    Money::parse_yuan(text).expect("money")
}

fn code(text: &str) -> CreditCode {
    CreditCode::parse(text).expect("code")
}

fn registered_ledger() -> Ledger {
    let mut ledger = Ledger::new(Arc::new(Policy::default_qidong()));
    let at = clock("2027-06-15");
    let commands = [
        Command::RegisterEnterprise {
            credit_code: code(ENTERPRISE),
            name: Name::parse("启东智算科技有限公司").expect("name"),
            check_digit_override_reason: None,
        },
        Command::RegisterProvider {
            credit_code: code(PROVIDER),
            name: Name::parse("算力服务商").expect("name"),
            program: ProgramCode::Compute,
            check_digit_override_reason: None,
        },
        Command::RegisterProvider {
            credit_code: code(LESSOR),
            name: Name::parse("机器人租赁商").expect("name"),
            program: ProgramCode::Leasing,
            check_digit_override_reason: None,
        },
    ];
    for command in &commands {
        ledger.execute(command, at).expect("registration");
    }
    ledger
}

fn issue(
    ledger: &mut Ledger,
    request_id: &str,
    program: ProgramCode,
    face_value: Option<&str>,
    today: &str,
) -> Result<Voucher, LedgerError> {
    let request = IssueVoucherRequest {
        request_id: RequestId::parse(request_id).expect("request id"),
        enterprise_credit_code: code(ENTERPRISE),
        program,
        face_value: face_value.map(yuan),
        valid_from: None,
        valid_until: None,
        provider_credit_codes: Default::default(),
    };
    match ledger
        .execute(&Command::IssueVoucher(request), clock(today))?
        .outcome
    {
        Outcome::Voucher(voucher) => Ok(voucher),
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn redeem(
    ledger: &mut Ledger,
    voucher: &Voucher,
    invoice: &str,
    date: &str,
    amount: &str,
    allow_partial: bool,
) -> Result<Redemption, LedgerError> {
    let provider = if voucher.program == ProgramCode::Compute {
        PROVIDER
    } else {
        LESSOR
    };
    let command = Command::Redeem(RedeemCommand {
        voucher_id: voucher.voucher_id,
        provider_credit_code: code(provider),
        enterprise_credit_code: code(ENTERPRISE),
        invoice: Invoice {
            number: InvoiceNumber::parse(invoice).expect("invoice"),
            date: day(date),
            amount: yuan(amount),
        },
        allow_partial,
        evidence: Vec::new(),
    });
    match ledger.execute(&command, clock(date))?.outcome {
        Outcome::Redemption(redemption) => Ok(redemption),
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn refusal(result: Result<impl std::fmt::Debug, LedgerError>) -> ReasonCode {
    match result {
        Err(LedgerError::Refused(refusal)) => refusal.reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn invoice_number(serial: u32) -> String {
    format!("2432200000{serial:010}")
}

#[test]
fn a_default_voucher_takes_the_whole_cap_period_and_all_that_is_left() {
    let mut ledger = registered_ledger();
    let voucher =
        issue(&mut ledger, "a", ProgramCode::Compute, None, "2027-03-01").expect("issued");
    assert_eq!(
        voucher.validity,
        DateRange::new(day("2027-01-01"), day("2027-12-31"))
    );
    assert_eq!(voucher.face_value, yuan("2000000"));
    assert_eq!(voucher.redeem_by, day("2028-03-30"));
    let leasing =
        issue(&mut ledger, "b", ProgramCode::Leasing, None, "2027-03-01").expect("issued");
    assert_eq!(leasing.validity, ledger.policy().term);
    assert_eq!(
        refusal(issue(
            &mut ledger,
            "c",
            ProgramCode::Compute,
            Some("0.01"),
            "2027-03-01"
        )),
        ReasonCode::CapExceeded
    );
    assert!(ledger.check_invariants().is_empty());
}

#[test]
fn the_cap_holds_to_the_fen_and_allow_partial_takes_what_is_left() {
    let mut ledger = registered_ledger();
    let voucher =
        issue(&mut ledger, "a", ProgramCode::Compute, None, "2027-06-15").expect("issued");
    redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "3999999.98",
        false,
    )
    .expect("under cap");
    let over = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(2),
        "2027-06-15",
        "0.04",
        false,
    );
    assert_eq!(refusal(over), ReasonCode::CapExceeded);
    let partial = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(2),
        "2027-06-15",
        "0.04",
        true,
    )
    .expect("partial");
    assert_eq!(
        (partial.computed_subsidy, partial.subsidy),
        (yuan("0.02"), yuan("0.01"))
    );
    let nothing_left = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(3),
        "2027-06-15",
        "1",
        true,
    );
    assert_eq!(refusal(nothing_left), ReasonCode::CapExceeded);
    assert!(ledger.check_invariants().is_empty());
}

#[test]
fn a_retry_returns_the_first_redemption_and_a_conflict_is_refused() {
    let mut ledger = registered_ledger();
    let voucher = issue(
        &mut ledger,
        "a",
        ProgramCode::Compute,
        Some("100"),
        "2027-06-15",
    )
    .expect("issued");
    let first = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "10",
        false,
    )
    .expect("first");
    let again = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "10",
        false,
    )
    .expect("retry");
    assert_eq!(first, again);
    let conflict = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "11",
        false,
    );
    assert!(matches!(
        conflict,
        Err(LedgerError::AlreadyExists {
            reason: ReasonCode::InvoiceAlreadyRedeemed,
            ..
        })
    ));
    assert_eq!(
        ledger.voucher(&voucher.voucher_id).map(|v| v.redeemed),
        Some(yuan("5"))
    );
}

#[test]
fn reversal_returns_the_subsidy_and_keeps_the_invoice_used() {
    let mut ledger = registered_ledger();
    let voucher = issue(
        &mut ledger,
        "a",
        ProgramCode::Compute,
        Some("100"),
        "2027-06-15",
    )
    .expect("issued");
    let redemption = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "200",
        false,
    )
    .expect("redeemed");
    assert_eq!(
        ledger.voucher(&voucher.voucher_id).map(Voucher::remaining),
        Some(Money::ZERO)
    );
    let reverse = Command::ReverseRedemption {
        redemption_id: redemption.redemption_id,
        reason: Reason::parse("红冲").expect("reason"),
        actor: Actor::Provider(code(PROVIDER)),
    };
    ledger
        .execute(&reverse, clock("2027-06-16"))
        .expect("reversed");
    assert_eq!(
        ledger.voucher(&voucher.voucher_id).map(Voucher::remaining),
        Some(yuan("100"))
    );
    let reuse = redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "100",
        false,
    );
    assert!(matches!(reuse, Err(LedgerError::AlreadyExists { .. })));
    let stranger = Command::ReverseRedemption {
        redemption_id: redemption.redemption_id,
        reason: Reason::parse("红冲").expect("reason"),
        actor: Actor::Provider(code(LESSOR)),
    };
    // Another provider's claim is not found, exactly as one that does not exist.
    assert!(matches!(
        ledger.execute(&stranger, clock("2027-06-16")),
        Err(LedgerError::NotFound {
            field: "redemption_id",
            ..
        })
    ));
}

#[test]
fn expiry_releases_the_remainder_after_the_grace_period() {
    let mut ledger = registered_ledger();
    let voucher = issue(
        &mut ledger,
        "a",
        ProgramCode::Compute,
        Some("100"),
        "2027-06-15",
    )
    .expect("issued");
    redeem(
        &mut ledger,
        &voucher,
        &invoice_number(1),
        "2027-06-15",
        "60",
        false,
    )
    .expect("redeemed");
    assert!(
        ledger.expire_due(clock("2028-03-30")).is_empty(),
        "the last day still redeems"
    );
    let expired = ledger.expire_due(clock("2028-03-31"));
    assert_eq!(expired.len(), 1);
    let closed = ledger.voucher(&voucher.voucher_id).expect("voucher");
    assert_eq!(
        (closed.status, closed.committed()),
        (VoucherStatus::Expired, yuan("30"))
    );
    let account = ledger.cap_account(&voucher.cap_key()).expect("account");
    assert_eq!(
        (account.committed, account.redeemed),
        (yuan("30"), yuan("30"))
    );
    assert!(ledger.check_invariants().is_empty());
}

/// A ledger and every event it recorded since it adopted its policy: what a replay is given.
struct Recorded {
    live: Ledger,
    history: Vec<LoggedEvent>,
}

impl Recorded {
    /// The policy adopted and the parties of [`registered_ledger`] registered, as events.
    fn registered() -> Recorded {
        let mut live = Ledger::new(Arc::new(Policy::default_qidong()));
        let mut history: Vec<LoggedEvent> =
            live.adopt_policy(clock("2027-06-15")).into_iter().collect();
        let registered = registered_ledger();
        let registrations = registered
            .enterprises()
            .map(|e| Event::EnterpriseRegistered {
                enterprise: e.clone(),
            })
            .chain(registered.providers().map(|p| Event::ProviderRegistered {
                provider: p.clone(),
            }));
        for event in registrations.collect::<Vec<_>>() {
            live.apply(&event);
            history.push(LoggedEvent {
                event,
                cause: EventCause::Unrecorded,
            });
        }
        Recorded { live, history }
    }

    /// Executes `command` on `today` and keeps its events; a refusal records nothing.
    fn record(&mut self, command: Command, today: &str) {
        if let Ok(executed) = self.live.execute(&command, clock(today)) {
            self.history.extend(executed.events);
        }
    }
}

fn issue_command(id: &str, program: ProgramCode, face: &str) -> Command {
    Command::IssueVoucher(IssueVoucherRequest {
        request_id: RequestId::parse(id).expect("id"),
        enterprise_credit_code: code(ENTERPRISE),
        program,
        face_value: Some(yuan(face)),
        valid_from: None,
        valid_until: None,
        provider_credit_codes: Default::default(),
    })
}

fn redeem_command(serial: u32, amount: &str, voucher: &Voucher, provider: &str) -> Command {
    Command::Redeem(RedeemCommand {
        voucher_id: voucher.voucher_id,
        provider_credit_code: code(provider),
        enterprise_credit_code: code(ENTERPRISE),
        invoice: Invoice {
            number: InvoiceNumber::parse(&invoice_number(serial)).expect("invoice"),
            date: day("2027-06-01"),
            amount: yuan(amount),
        },
        allow_partial: false,
        evidence: Vec::new(),
    })
}

#[test]
fn replaying_the_events_gives_back_the_same_state() {
    let mut recorded = Recorded::registered();
    recorded.record(
        issue_command("a", ProgramCode::Leasing, "1000"),
        "2027-06-15",
    );
    recorded.record(
        issue_command("b", ProgramCode::Compute, "500"),
        "2027-06-15",
    );
    let leasing = recorded
        .live
        .voucher(&VoucherId::FIRST)
        .cloned()
        .expect("leasing voucher");
    recorded.record(redeem_command(1, "0.03", &leasing, LESSOR), "2027-06-15");
    recorded.record(redeem_command(2, "100", &leasing, LESSOR), "2027-06-15");
    recorded.record(
        Command::ReverseRedemption {
            redemption_id: RedemptionId::FIRST,
            reason: Reason::parse("红冲").expect("reason"),
            actor: Actor::Bureau,
        },
        "2027-06-16",
    );
    recorded.record(
        Command::RevokeVoucher {
            voucher_id: VoucherId::FIRST.next(),
            reason: Reason::parse("项目终止").expect("reason"),
        },
        "2027-06-16",
    );
    let Recorded {
        mut live,
        mut history,
    } = recorded;
    history.extend(live.expire_due(clock("2028-09-01")));

    assert_eq!(
        live.redemption(&RedemptionId::FIRST).map(|r| r.subsidy),
        Some(yuan("0.01"))
    );
    let replayed = Ledger::replay(Arc::new(Policy::default_qidong()), &history);
    assert_eq!(replayed, live);
    assert!(replayed.check_invariants().is_empty());
}

#[test]
fn a_program_may_commit_more_than_any_single_amount_may_hold() {
    // 5,001 enterprises at the full compute cap commit 10,002,000,000.00: past the bound of one
    // amount. The program's totals must carry it (this once stopped the writer).
    let mut ledger = Ledger::new(Arc::new(Policy::default_qidong()));
    let at = clock("2027-06-15");
    for index in 0..5001u32 {
        let code = (0..31u8)
            .map(|check| {
                format!(
                    "91320681{index:09}{}",
                    char::from(b"0123456789ABCDEFGHJKLMNPQRTUWXY"[check as usize])
                )
            })
            .find_map(|text| {
                CreditCode::parse(&text)
                    .ok()
                    .filter(CreditCode::has_valid_check_digit)
            })
            .expect("a check digit fits");
        let name = Name::parse("企业").expect("name");
        ledger
            .execute(
                &Command::RegisterEnterprise {
                    credit_code: code,
                    name,
                    check_digit_override_reason: None,
                },
                at,
            )
            .expect("registered");
        let request = IssueVoucherRequest {
            request_id: RequestId::parse(&format!("v{index}")).expect("id"),
            enterprise_credit_code: code,
            program: ProgramCode::Compute,
            face_value: None,
            valid_from: None,
            valid_until: None,
            provider_credit_codes: Default::default(),
        };
        ledger
            .execute(&Command::IssueVoucher(request), at)
            .expect("issued");
    }
    let key = crate::domain::model::ProgramPeriod {
        program: ProgramCode::Compute,
        period_start: day("2027-01-01"),
    };
    let totals = ledger.program_totals(&key).expect("totals");
    assert_eq!(totals.committed.to_string(), "10002000000.00");
    assert_eq!(totals.enterprises, 5001);
    assert!(ledger.check_invariants().is_empty());
}

#[test]
fn redeemed_by_month_follows_china_time_and_gives_back_what_a_reversal_returns() {
    let mut ledger = registered_ledger();
    let voucher = issue(
        &mut ledger,
        "m",
        ProgramCode::Compute,
        Some("1000"),
        "2027-06-15",
    )
    .expect("issued");
    let at = |instant: &str, today: &str| {
        Clock::pinned(
            DateTime::parse_from_rfc3339(instant).expect("instant"),
            day(today),
        )
    };
    let claim = |serial: u32, amount: &str| {
        Command::Redeem(RedeemCommand {
            voucher_id: voucher.voucher_id,
            provider_credit_code: code(PROVIDER),
            enterprise_credit_code: code(ENTERPRISE),
            invoice: Invoice {
                number: InvoiceNumber::parse(&invoice_number(serial)).expect("invoice"),
                date: day("2027-06-20"),
                amount: yuan(amount),
            },
            allow_partial: false,
            evidence: Vec::new(),
        })
    };
    // 23:30 on 30 June and 00:30 on 1 July in Qidong are both 30 June in UTC.
    ledger
        .execute(&claim(1, "200"), at("2027-06-30T15:30:00Z", "2027-06-30"))
        .expect("June's claim");
    let july = ledger
        .execute(&claim(2, "60"), at("2027-06-30T16:30:00Z", "2027-07-01"))
        .expect("July's claim");
    let period = voucher.program_period();
    let months = |ledger: &Ledger| {
        ledger
            .program_totals(&period)
            .map(|totals| totals.redeemed_by_month.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        months(&ledger),
        BTreeMap::from([
            (202706, Total::from(yuan("100"))),
            (202707, Total::from(yuan("30")))
        ])
    );
    let invoice_months = |ledger: &Ledger| {
        ledger
            .program_totals(&period)
            .map(|totals| totals.redeemed_by_invoice_month.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        invoice_months(&ledger),
        BTreeMap::from([(202706, Total::from(yuan("130")))]),
        "both invoices are dated in June, whenever they were claimed"
    );
    let Outcome::Redemption(july) = july.outcome else {
        panic!("a redemption")
    };
    let reverse = Command::ReverseRedemption {
        redemption_id: july.redemption_id,
        reason: Reason::parse("红冲").expect("reason"),
        actor: Actor::Bureau,
    };
    ledger
        .execute(&reverse, at("2027-08-02T02:00:00Z", "2027-08-02"))
        .expect("reversed");
    assert_eq!(
        months(&ledger),
        BTreeMap::from([(202706, Total::from(yuan("100")))]),
        "the reversal leaves July, not August"
    );
    assert_eq!(
        invoice_months(&ledger),
        BTreeMap::from([(202706, Total::from(yuan("100")))]),
        "and leaves June's invoices"
    );
    assert!(ledger.check_invariants().is_empty());
}

#[test]
fn a_statement_takes_at_most_its_bound_and_says_more_are_pending() {
    let mut ledger = registered_ledger();
    let voucher = issue(
        &mut ledger,
        "s",
        ProgramCode::Compute,
        Some("10000"),
        "2027-06-15",
    )
    .expect("issued");
    let claims = super::settle::SETTLEMENT_LINES_MAX as u32 + 1;
    for serial in 1..=claims {
        let claim = redeem(
            &mut ledger,
            &voucher,
            &invoice_number(serial),
            "2027-06-15",
            "2",
            false,
        )
        .expect("claimed");
        let approve = Command::ApproveRedemption {
            redemption_id: claim.redemption_id,
        };
        ledger
            .execute(&approve, clock("2027-06-15"))
            .expect("approved");
    }
    let settle = |request_id: &str| {
        Command::CreateSettlement(crate::domain::command::SettlementRequest {
            request_id: RequestId::parse(request_id).expect("request id"),
            provider_credit_code: code(PROVIDER),
            program: ProgramCode::Compute,
            up_to: day("2027-06-15"),
        })
    };
    let statement = |executed: Executed| match executed.outcome {
        Outcome::Settlement(settlement) => settlement,
        other => panic!("unexpected outcome {other:?}"),
    };
    let first = statement(
        ledger
            .execute(&settle("one"), clock("2027-06-15"))
            .expect("settled"),
    );
    assert_eq!(
        first.redemption_ids.len(),
        super::settle::SETTLEMENT_LINES_MAX
    );
    assert!(first.more_pending);
    assert_eq!(first.gross, Total::from(yuan("2000")));
    let second = statement(
        ledger
            .execute(&settle("two"), clock("2027-06-15"))
            .expect("settled"),
    );
    assert_eq!(second.redemption_ids.len(), 1);
    assert!(!second.more_pending);
    assert!(ledger.check_invariants().is_empty());
}
