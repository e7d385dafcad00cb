//! The enterprise's requests (issue 14), checked like every other request: converted twice to
//! the same answer, fields re-encoding to the request's own text, a refusal naming a field of
//! the message (or, for a caller that is not the enterprise itself, PERMISSION_DENIED).

use voucher_ledger::api::enterprise;
use voucher_ledger::domain::command::Command;
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::model::Actor;
use voucher_ledger::proto::voucher::v1 as pb;

use crate::{date_is, invalid, money_is, optional_text_is, program_is, run, text_is, twice};

/// The enterprise whose token sends its requests.
const OWN_ENTERPRISE: &str = "91110108551385082Q";

/// The first byte picks one of the eight messages, the rest is the message. (A request added
/// later gets a selector byte of its own from 248 down, matched before this `% 8`, as
/// `request_decoding.rs` does from 250 up, so saved inputs keep their meaning.)
pub fn check(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        0 => run(body, apply_for_voucher),
        1 => run(body, approve_application),
        2 => run(body, reject_application),
        3 => run(body, change_voucher_providers),
        4 => run(body, confirm_redemption),
        5 => run(body, dispute_redemption),
        6 => run(body, return_redemption),
        _ => run(body, publish_notice),
    }
}

fn own() -> CreditCode {
    CreditCode::parse(OWN_ENTERPRISE).expect("a valid code")
}

/// The codes a request sent, as a bound list holds them: upper-cased, in order.
fn codes_are(held: &std::collections::BTreeSet<CreditCode>, sent: &[String]) {
    let mut sent: Vec<String> = sent.iter().map(|code| code.to_ascii_uppercase()).collect();
    sent.sort();
    let held: Vec<String> = held.iter().map(ToString::to_string).collect();
    assert_eq!(held, sent, "provider_credit_codes");
}

const APPLY_FIELDS: &[&str] = &[
    "request_id",
    "program",
    "amount",
    "provider_credit_codes",
    "contract_number",
    "contract_sha256",
    "purpose",
    "other_subsidies",
    "enterprise_credit_code",
];

fn apply_for_voucher(body: &pb::ApplyForVoucherRequest) {
    for actor in [Actor::Enterprise(own()), Actor::Bureau, Actor::Provider(own())] {
        let result = enterprise::apply_for_voucher(body, actor);
        twice(&result, &enterprise::apply_for_voucher(body, actor));
        match result {
            Ok(Command::ApplyForVoucher(request)) => {
                assert_eq!(actor, Actor::Enterprise(own()), "only the enterprise applies");
                assert_eq!(request.enterprise_credit_code, own());
                assert_eq!(request.request_id.as_str(), body.request_id);
                program_is(request.program, body.program);
                money_is(request.amount, body.amount.as_ref().expect("amount"));
                codes_are(&request.provider_credit_codes, &body.provider_credit_codes);
                assert!(!request.provider_credit_codes.is_empty());
                text_is(request.contract_number.as_str(), &body.contract_number);
                assert_eq!(
                    request.contract_sha256.as_str(),
                    body.contract_sha256.to_ascii_lowercase()
                );
                text_is(request.purpose.as_str(), &body.purpose);
                optional_text_is(
                    request.other_subsidies.as_ref().map(|text| text.as_str()),
                    &body.other_subsidies,
                );
            }
            Ok(other) => panic!("apply_for_voucher gave {other:?}"),
            Err(LedgerError::PermissionDenied { .. }) => {
                let named_other = !body.enterprise_credit_code.is_empty()
                    && CreditCode::parse(&body.enterprise_credit_code).ok() != Some(own());
                assert!(
                    actor != Actor::Enterprise(own()) || named_other,
                    "the enterprise denied its own application"
                );
            }
            Err(status) => invalid(&status, APPLY_FIELDS),
        }
    }
}

fn approve_application(body: &pb::ApproveApplicationRequest) {
    let result = enterprise::approve_application(body);
    twice(&result, &enterprise::approve_application(body));
    match result {
        Ok(Command::ApproveApplication {
            application_id,
            face_value,
        }) => {
            assert_eq!(application_id.to_string(), body.application_id);
            match (face_value, &body.face_value) {
                (None, None) => {}
                (Some(money), Some(wire)) => money_is(money, wire),
                (held, wire) => panic!("face_value {wire:?} read as {held:?}"),
            }
        }
        Ok(other) => panic!("approve_application gave {other:?}"),
        Err(status) => invalid(&status, &["application_id", "face_value"]),
    }
}

fn reject_application(body: &pb::RejectApplicationRequest) {
    let result = enterprise::reject_application(body);
    twice(&result, &enterprise::reject_application(body));
    match result {
        Ok(Command::RejectApplication {
            application_id,
            reason,
        }) => {
            assert_eq!(application_id.to_string(), body.application_id);
            text_is(reason.as_str(), &body.reason);
        }
        Ok(other) => panic!("reject_application gave {other:?}"),
        Err(status) => invalid(&status, &["application_id", "reason"]),
    }
}

fn change_voucher_providers(body: &pb::ChangeVoucherProvidersRequest) {
    let result = enterprise::change_voucher_providers(body);
    twice(&result, &enterprise::change_voucher_providers(body));
    match result {
        Ok(Command::ChangeVoucherProviders {
            voucher_id,
            provider_credit_codes,
            reason,
        }) => {
            assert_eq!(voucher_id.to_string(), body.voucher_id);
            codes_are(&provider_credit_codes, &body.provider_credit_codes);
            text_is(reason.as_str(), &body.reason);
        }
        Ok(other) => panic!("change_voucher_providers gave {other:?}"),
        Err(status) => invalid(
            &status,
            &["voucher_id", "provider_credit_codes", "reason"],
        ),
    }
}

fn confirm_redemption(body: &pb::ConfirmRedemptionRequest) {
    for actor in [Actor::Enterprise(own()), Actor::Bureau] {
        let result = enterprise::confirm_redemption(body, actor);
        twice(&result, &enterprise::confirm_redemption(body, actor));
        match result {
            Ok(Command::ConfirmRedemption {
                redemption_id,
                enterprise_credit_code,
            }) => {
                assert_eq!(redemption_id.to_string(), body.redemption_id);
                assert_eq!(Actor::Enterprise(enterprise_credit_code), actor);
            }
            Ok(other) => panic!("confirm_redemption gave {other:?}"),
            Err(LedgerError::PermissionDenied { .. }) => assert_eq!(actor, Actor::Bureau),
            Err(status) => invalid(&status, &["redemption_id"]),
        }
    }
}

fn dispute_redemption(body: &pb::DisputeRedemptionRequest) {
    for actor in [Actor::Enterprise(own()), Actor::Auditor] {
        let result = enterprise::dispute_redemption(body, actor);
        twice(&result, &enterprise::dispute_redemption(body, actor));
        match result {
            Ok(Command::DisputeRedemption {
                redemption_id,
                enterprise_credit_code,
                reason,
            }) => {
                assert_eq!(redemption_id.to_string(), body.redemption_id);
                assert_eq!(Actor::Enterprise(enterprise_credit_code), actor);
                text_is(reason.as_str(), &body.reason);
            }
            Ok(other) => panic!("dispute_redemption gave {other:?}"),
            Err(LedgerError::PermissionDenied { .. }) => assert_eq!(actor, Actor::Auditor),
            Err(status) => invalid(&status, &["redemption_id", "reason"]),
        }
    }
}

fn return_redemption(body: &pb::ReturnRedemptionRequest) {
    let result = enterprise::return_redemption(body);
    twice(&result, &enterprise::return_redemption(body));
    match result {
        Ok(Command::ReturnRedemption {
            redemption_id,
            reason,
        }) => {
            assert_eq!(redemption_id.to_string(), body.redemption_id);
            text_is(reason.as_str(), &body.reason);
        }
        Ok(other) => panic!("return_redemption gave {other:?}"),
        Err(status) => invalid(&status, &["redemption_id", "reason"]),
    }
}

fn publish_notice(body: &pb::PublishNoticeRequest) {
    match enterprise::publish_notice(body) {
        Ok(query) => {
            program_is(query.program, body.program);
            date_is(&query.approved_in.first, &body.approved_from);
            date_is(&query.approved_in.last, &body.approved_until);
            date_is(&query.posted.first, &body.posted_from);
            date_is(&query.posted.last, &body.posted_until);
            let ids: Vec<String> = query.redemption_ids.iter().map(ToString::to_string).collect();
            assert_eq!(ids, body.redemption_ids);
        }
        Err(status) => invalid(
            &status,
            &[
                "program",
                "approved_from",
                "approved_until",
                "posted_from",
                "posted_until",
                "redemption_ids",
            ],
        ),
    }
}
