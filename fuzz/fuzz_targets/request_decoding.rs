//! Requests from outside, as the service receives them: the first byte picks one of the 14
//! request messages, the rest is decoded with `prost::Message::decode`, and a message that
//! decodes goes through the same pure function the service calls (`api::requests::*`, or
//! `api::convert` for the Get* requests), with each kind of Actor where the caller matters.
//!
//! Checks: a request that converts yields a command or query whose fields re-encode to the
//! request's own text (credit codes upper-cased, names and reasons trimmed, ids, dates,
//! invoice numbers and the Money parts unchanged, programs and roles the same enum values,
//! page_size 0 read as 100); a refusal is INVALID_ARGUMENT naming a field of that message in
//! its text, its ErrorInfo (domain voucher.qidong.gov.cn, UPPER_SNAKE reason) and its
//! BadRequest, or, only for a provider naming another provider in Redeem, PERMISSION_DENIED;
//! converting twice gives the same answer; and Redeem gives the same command whether the
//! bureau, an auditor or the named provider itself sends it. The enterprise's requests
//! (issue 14) are checked in `enterprise_requests.rs`, selector 252, whose next byte picks the message.
#![no_main]

mod enterprise_requests;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use voucher_ledger::api::{convert, requests};
use voucher_ledger::domain::command::Command;
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::model::{Actor, Role, SecretHash};
use voucher_ledger::proto::google::r#type::Money as ProtoMoney;
use voucher_ledger::proto::voucher::v1 as pb;

/// 华为技术有限公司: a provider whose token sends requests.
const OWN_PROVIDER: &str = "914403001922038216";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    // Requests added later take selectors from 250 up, so saved inputs keep their meaning.
    match selector {
        250 => return run(body, suspend_provider),
        251 => return run(body, provider_certificate),
        252 => return enterprise_requests::check(body),
        _ => {}
    }
    match selector % 14 {
        0 => run(body, register_enterprise),
        1 => run(body, get_enterprise),
        2 => run(body, register_provider),
        3 => run(body, create_token),
        4 => run(body, revoke_token),
        5 => run(body, issue_voucher),
        6 => run(body, get_voucher),
        7 => run(body, list_vouchers),
        8 => run(body, revoke_voucher),
        9 => run(body, redeem),
        10 => run(body, reverse_redemption),
        11 => run(body, get_redemption),
        12 => run(body, list_redemptions),
        _ => run(body, get_balance),
    }
});

pub(crate) fn run<M: Message + Default>(bytes: &[u8], check: fn(&M)) {
    if let Ok(message) = M::decode(bytes) {
        check(&message);
    }
}

// ---- what a refusal must look like ----

/// A refusal of a request with these `fields`: the ledger's InvalidArgument naming one of
/// them, and on the wire INVALID_ARGUMENT with the error details the service promises.
pub(crate) fn invalid(error: &LedgerError, fields: &[&str]) {
    assert!(
        matches!(error, LedgerError::InvalidArgument { field, .. } if fields.contains(field)),
        "{error:?}"
    );
    let status = &Status::from(error.clone());
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let (field, message) = status
        .message()
        .split_once(": ")
        .expect("\"field: message\"");
    assert!(
        fields.contains(&field),
        "{field:?} is not a field of the request: {status:?}"
    );
    assert!(!message.is_empty());
    let details = status.get_error_details();
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(info.domain, "voucher.qidong.gov.cn");
    assert!(
        !info.reason.is_empty()
            && info
                .reason
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
        "reason {:?}",
        info.reason
    );
    assert_eq!(info.metadata.get("field").map(String::as_str), Some(field));
    let bad_request = details.bad_request().expect("a BadRequest");
    assert_eq!(bad_request.field_violations.len(), 1);
    assert_eq!(bad_request.field_violations[0].field, field);
}

fn same_status(a: &LedgerError, b: &LedgerError) {
    assert_eq!(a, b, "not deterministic");
}

/// Converting twice gives the same answer.
pub(crate) fn twice<T: PartialEq + std::fmt::Debug>(
    first: &Result<T, LedgerError>,
    second: &Result<T, LedgerError>,
) {
    match (first, second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "not deterministic"),
        (Err(a), Err(b)) => same_status(a, b),
        _ => panic!("not deterministic: {first:?} then {second:?}"),
    }
}

// ---- how fields must re-encode ----

pub(crate) fn code_is(code: &CreditCode, text: &str) {
    assert_eq!(
        code.as_str(),
        text.to_ascii_uppercase(),
        "credit code {text:?}"
    );
}

pub(crate) fn optional_code_is(code: &Option<CreditCode>, text: &str) {
    match code {
        None => assert!(text.is_empty(), "credit code {text:?} dropped"),
        Some(code) => code_is(code, text),
    }
}

pub(crate) fn text_is(held: &str, text: &str) {
    assert_eq!(held, text.trim(), "text {text:?}");
}

pub(crate) fn optional_text_is(held: Option<&str>, text: &str) {
    match held {
        None => assert!(text.trim().is_empty(), "text {text:?} dropped"),
        Some(held) => text_is(held, text),
    }
}

pub(crate) fn date_is(date: &NaiveDate, text: &str) {
    assert_eq!(convert::to_date(*date), text, "date {text:?}");
}

fn optional_date_is(date: &Option<NaiveDate>, text: &str) {
    match date {
        None => assert!(text.is_empty(), "date {text:?} dropped"),
        Some(date) => date_is(date, text),
    }
}

pub(crate) fn program_is(program: voucher_ledger::domain::policy::ProgramCode, value: i32) {
    assert_eq!(convert::to_program(program), value, "program {value}");
}

fn optional_program_is(program: Option<voucher_ledger::domain::policy::ProgramCode>, value: i32) {
    match program {
        None => assert_eq!(value, pb::Program::Unspecified as i32),
        Some(program) => program_is(program, value),
    }
}

pub(crate) fn money_is(money: voucher_ledger::domain::money::Money, wire: &ProtoMoney) {
    assert_eq!(
        &convert::to_money(money),
        wire,
        "money {wire:?} read as {money}"
    );
    voucher_ledger_fuzz::check_money(money);
}

pub(crate) fn page_size_is(limit: usize, value: i32) {
    let expected = if value == 0 { 100 } else { value as usize };
    assert_eq!(limit, expected, "page_size {value}");
    assert!((1..=1000).contains(&limit));
}

pub(crate) fn optional_id_is<T: ToString>(id: &Option<T>, text: &str) {
    match id {
        None => assert!(text.is_empty(), "id {text:?} dropped"),
        Some(id) => assert_eq!(id.to_string(), text),
    }
}

// ---- one check per message ----

fn register_enterprise(body: &pb::RegisterEnterpriseRequest) {
    let result = requests::register_enterprise(body);
    twice(&result, &requests::register_enterprise(body));
    match result {
        Ok(Command::RegisterEnterprise {
            credit_code,
            name,
            check_digit_override_reason,
        }) => {
            code_is(&credit_code, &body.credit_code);
            text_is(name.as_str(), &body.name);
            optional_text_is(
                check_digit_override_reason.as_ref().map(|r| r.as_str()),
                &body.check_digit_override_reason,
            );
        }
        Ok(other) => panic!("register_enterprise gave {other:?}"),
        Err(status) => invalid(
            &status,
            &["credit_code", "name", "check_digit_override_reason"],
        ),
    }
}

fn get_enterprise(body: &pb::GetEnterpriseRequest) {
    match convert::credit_code("credit_code", &body.credit_code) {
        Ok(code) => code_is(&code, &body.credit_code),
        Err(status) => invalid(&status, &["credit_code"]),
    }
}

fn register_provider(body: &pb::RegisterProviderRequest) {
    let result = requests::register_provider(body);
    twice(&result, &requests::register_provider(body));
    match result {
        Ok(Command::RegisterProvider {
            credit_code,
            name,
            program,
            check_digit_override_reason,
        }) => {
            code_is(&credit_code, &body.credit_code);
            text_is(name.as_str(), &body.name);
            program_is(program, body.program);
            optional_text_is(
                check_digit_override_reason.as_ref().map(|r| r.as_str()),
                &body.check_digit_override_reason,
            );
        }
        Ok(other) => panic!("register_provider gave {other:?}"),
        Err(status) => invalid(
            &status,
            &[
                "credit_code",
                "name",
                "program",
                "check_digit_override_reason",
            ],
        ),
    }
}

fn create_token(body: &pb::CreateTokenRequest) {
    let hash = SecretHash::of("qdv_fuzz");
    let result = requests::create_token(body, hash.clone());
    twice(&result, &requests::create_token(body, hash.clone()));
    match result {
        Ok(Command::CreateToken {
            role,
            provider_credit_code,
            enterprise_credit_code,
            programs,
            description,
            secret_sha256,
        }) => {
            let wire = match role {
                Role::Bureau => pb::Role::Bureau,
                Role::Provider => pb::Role::Provider,
                Role::Auditor => pb::Role::Auditor,
                Role::Enterprise => pb::Role::Enterprise,
                Role::Finance => pb::Role::Finance,
            };
            let mut sent = body.programs.clone();
            sent.sort_unstable();
            sent.dedup();
            let held: Vec<i32> = programs.iter().map(|program| convert::to_program(*program)).collect();
            assert_eq!(held, sent, "programs");
            assert_eq!(wire as i32, body.role);
            optional_code_is(&provider_credit_code, &body.provider_credit_code);
            optional_code_is(&enterprise_credit_code, &body.enterprise_credit_code);
            optional_text_is(description.as_ref().map(|d| d.as_str()), &body.description);
            assert_eq!(secret_sha256, hash);
        }
        Ok(other) => panic!("create_token gave {other:?}"),
        Err(status) => invalid(
            &status,
            &[
                "role",
                "provider_credit_code",
                "enterprise_credit_code",
                "programs",
                "description",
            ],
        ),
    }
}

fn revoke_token(body: &pb::RevokeTokenRequest) {
    match requests::revoke_token(body) {
        Ok(Command::RevokeToken { token_id }) => assert_eq!(token_id.to_string(), body.token_id),
        Ok(other) => panic!("revoke_token gave {other:?}"),
        Err(status) => invalid(&status, &["token_id"]),
    }
}

fn issue_voucher(body: &pb::IssueVoucherRequest) {
    let result = requests::issue_voucher(body);
    twice(&result, &requests::issue_voucher(body));
    match result {
        Ok(Command::IssueVoucher(request)) => {
            assert_eq!(request.request_id.as_str(), body.request_id);
            code_is(
                &request.enterprise_credit_code,
                &body.enterprise_credit_code,
            );
            program_is(request.program, body.program);
            match (&request.face_value, &body.face_value) {
                (None, None) => {}
                (Some(money), Some(wire)) => money_is(*money, wire),
                (held, wire) => panic!("face_value {wire:?} read as {held:?}"),
            }
            optional_date_is(&request.valid_from, &body.valid_from);
            optional_date_is(&request.valid_until, &body.valid_until);
            let bound: Vec<String> = request
                .provider_credit_codes
                .iter()
                .map(ToString::to_string)
                .collect();
            let mut sent: Vec<String> = body
                .provider_credit_codes
                .iter()
                .map(|code| code.to_ascii_uppercase())
                .collect();
            sent.sort();
            assert_eq!(bound, sent, "provider_credit_codes");
        }
        Ok(other) => panic!("issue_voucher gave {other:?}"),
        Err(status) => invalid(
            &status,
            &[
                "request_id",
                "enterprise_credit_code",
                "program",
                "face_value",
                "valid_from",
                "valid_until",
                "provider_credit_codes",
            ],
        ),
    }
}

fn get_voucher(body: &pb::GetVoucherRequest) {
    use voucher_ledger::domain::ids::VoucherId;
    match convert::id("voucher_id", &body.voucher_id, VoucherId::parse) {
        Ok(id) => assert_eq!(id.to_string(), body.voucher_id),
        Err(status) => invalid(&status, &["voucher_id"]),
    }
}

fn list_vouchers(body: &pb::ListVouchersRequest) {
    match requests::list_vouchers(body) {
        Ok(query) => {
            optional_code_is(
                &query.filter.enterprise_credit_code,
                &body.enterprise_credit_code,
            );
            optional_program_is(query.filter.program, body.program);
            page_size_is(query.limit, body.page_size);
            optional_id_is(&query.after, &body.page_token);
        }
        Err(status) => invalid(
            &status,
            &[
                "enterprise_credit_code",
                "program",
                "page_size",
                "page_token",
            ],
        ),
    }
}

fn revoke_voucher(body: &pb::RevokeVoucherRequest) {
    let result = requests::revoke_voucher(body);
    twice(&result, &requests::revoke_voucher(body));
    match result {
        Ok(Command::RevokeVoucher { voucher_id, reason }) => {
            assert_eq!(voucher_id.to_string(), body.voucher_id);
            text_is(reason.as_str(), &body.reason);
        }
        Ok(other) => panic!("revoke_voucher gave {other:?}"),
        Err(status) => invalid(&status, &["voucher_id", "reason"]),
    }
}

const REDEEM_FIELDS: &[&str] = &[
    "voucher_id",
    "provider_credit_code",
    "enterprise_credit_code",
    "invoice_number",
    "invoice_date",
    "invoice_amount",
];

fn redeem(body: &pb::RedeemRequest) {
    let own = CreditCode::parse(OWN_PROVIDER).expect("a valid code");
    let named_text = &body.provider_credit_code;
    let named = CreditCode::parse(named_text)
        .ok()
        .filter(|_| !named_text.is_empty());
    let answer = |actor: Actor| {
        let result = requests::redeem(body, actor);
        twice(&result, &requests::redeem(body, actor));
        check_redeem(body, actor, named, &result);
        result
    };
    let bureau = answer(Actor::Bureau);
    let auditor = answer(Actor::Auditor);
    let own_answer = answer(Actor::Provider(own));
    assert!(
        answer(Actor::Enterprise(own)).is_err(),
        "an enterprise never redeems"
    );
    match named {
        // Whoever sends a request that names its provider, it is the same redemption.
        Some(named) => {
            let itself = answer(Actor::Provider(named));
            twice(&bureau, &auditor);
            twice(&bureau, &itself);
        }
        // A code that does not parse is refused whoever sends it; no code at all is refused
        // from the bureau, which must name the provider it redeems for.
        None => {
            assert!(
                bureau.is_err() && auditor.is_err(),
                "no provider named: {bureau:?}"
            );
            if !named_text.is_empty() {
                assert!(
                    own_answer.is_err(),
                    "bad provider code accepted: {own_answer:?}"
                );
            }
        }
    }
}

fn check_redeem(
    body: &pb::RedeemRequest,
    actor: Actor,
    named: Option<CreditCode>,
    result: &Result<Command, LedgerError>,
) {
    match result {
        Ok(Command::Redeem(command)) => {
            assert_eq!(command.voucher_id.to_string(), body.voucher_id);
            match actor {
                Actor::Provider(own) => {
                    assert_eq!(command.provider_credit_code, own);
                    assert!(
                        named.is_none_or(|named| named == own),
                        "redeemed as another"
                    );
                }
                Actor::Bureau | Actor::Auditor => {
                    code_is(&command.provider_credit_code, &body.provider_credit_code)
                }
                Actor::Enterprise(_) => panic!("an enterprise redeemed"),
                Actor::Finance => panic!("the finance bureau redeemed"),
            }
            code_is(
                &command.enterprise_credit_code,
                &body.enterprise_credit_code,
            );
            assert_eq!(command.invoice.number.as_str(), body.invoice_number);
            date_is(&command.invoice.date, &body.invoice_date);
            money_is(
                command.invoice.amount,
                body.invoice_amount.as_ref().expect("amount"),
            );
            assert_eq!(command.allow_partial, body.allow_partial);
        }
        Ok(other) => panic!("redeem gave {other:?}"),
        Err(status @ LedgerError::PermissionDenied { .. }) => {
            let denied_rightly = match actor {
                Actor::Provider(own) => named.is_some_and(|named| named != own),
                Actor::Bureau | Actor::Auditor => false,
                Actor::Enterprise(_) | Actor::Finance => true,
            };
            assert!(denied_rightly, "{actor:?} denied: {status:?}");
        }
        Err(status) => invalid(status, REDEEM_FIELDS),
    }
}

fn reverse_redemption(body: &pb::ReverseRedemptionRequest) {
    let own = CreditCode::parse(OWN_PROVIDER).expect("a valid code");
    for actor in [Actor::Bureau, Actor::Auditor, Actor::Provider(own)] {
        let result = requests::reverse_redemption(body, actor);
        twice(&result, &requests::reverse_redemption(body, actor));
        match result {
            Ok(Command::ReverseRedemption {
                redemption_id,
                reason,
                actor: held,
            }) => {
                assert_eq!(redemption_id.to_string(), body.redemption_id);
                text_is(reason.as_str(), &body.reason);
                assert_eq!(held, actor);
            }
            Ok(other) => panic!("reverse_redemption gave {other:?}"),
            Err(status) => invalid(&status, &["redemption_id", "reason"]),
        }
    }
}

fn get_redemption(body: &pb::GetRedemptionRequest) {
    use voucher_ledger::domain::ids::RedemptionId;
    match convert::id("redemption_id", &body.redemption_id, RedemptionId::parse) {
        Ok(id) => assert_eq!(id.to_string(), body.redemption_id),
        Err(status) => invalid(&status, &["redemption_id"]),
    }
}

fn list_redemptions(body: &pb::ListRedemptionsRequest) {
    match requests::list_redemptions(body) {
        Ok(query) => {
            let filter = query.filter;
            optional_code_is(&filter.enterprise_credit_code, &body.enterprise_credit_code);
            optional_code_is(&filter.provider_credit_code, &body.provider_credit_code);
            optional_program_is(filter.program, body.program);
            optional_date_is(&filter.invoice_date_from, &body.invoice_date_from);
            optional_date_is(&filter.invoice_date_to, &body.invoice_date_to);
            match filter.status {
                None => assert_eq!(body.status, 0, "status dropped"),
                Some(status) => assert_ne!(body.status, 0, "status {status:?} invented"),
            }
            page_size_is(query.limit, body.page_size);
            optional_id_is(&query.after, &body.page_token);
        }
        Err(status) => invalid(
            &status,
            &[
                "enterprise_credit_code",
                "provider_credit_code",
                "program",
                "invoice_date_from",
                "invoice_date_to",
                "page_size",
                "page_token",
                "status",
            ],
        ),
    }
}

fn get_balance(body: &pb::GetBalanceRequest) {
    match requests::get_balance(body) {
        Ok(query) => {
            code_is(&query.enterprise_credit_code, &body.enterprise_credit_code);
            program_is(query.program, body.program);
            optional_date_is(&query.on_date, &body.on_date);
        }
        Err(status) => invalid(&status, &["enterprise_credit_code", "program", "on_date"]),
    }
}

fn suspend_provider(body: &pb::SuspendProviderRequest) {
    let result = requests::suspend_provider(body);
    twice(&result, &requests::suspend_provider(body));
    match result {
        Ok(Command::SuspendProvider {
            provider_credit_code,
            reason,
        }) => {
            code_is(&provider_credit_code, &body.credit_code);
            text_is(&reason.to_string(), &body.reason);
        }
        Ok(other) => panic!("suspend_provider gave {other:?}"),
        Err(status) => invalid(&status, &["credit_code", "reason"]),
    }
}

/// Pinning and revoking take the same message and parse it the same way.
fn provider_certificate(body: &pb::ProviderCertificateRequest) {
    let pinned = requests::pin_provider_certificate(body);
    let revoked = requests::revoke_provider_certificate(body);
    match (pinned, revoked) {
        (
            Ok(Command::PinProviderCertificate {
                provider_credit_code,
                certificate_sha256,
            }),
            Ok(Command::RevokeProviderCertificate {
                provider_credit_code: revoked_code,
                certificate_sha256: revoked_certificate,
            }),
        ) => {
            code_is(&provider_credit_code, &body.credit_code);
            assert_eq!((provider_credit_code, &certificate_sha256), (revoked_code, &revoked_certificate));
            let digits: String = body
                .certificate_sha256
                .chars()
                .filter(|character| *character != ':')
                .collect();
            assert_eq!(certificate_sha256.as_str(), digits.to_ascii_lowercase());
        }
        (Err(pinned), Err(revoked)) => {
            same_status(&pinned, &revoked);
            invalid(&pinned, &["credit_code", "certificate_sha256"]);
        }
        (pinned, revoked) => panic!("pin and revoke parse apart: {pinned:?} / {revoked:?}"),
    }
}
