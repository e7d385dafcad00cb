//! The enterprise's part on the wire: its requests into commands and queries (pure, like
//! `requests`), and applications and notices into their messages (like `convert`).

use std::collections::BTreeSet;

use super::convert::{self, invalid, text_of, to_money, to_timestamp};
use crate::domain::command::{ApplicationRequest, Command, NoticeRequest};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::DateRange;
use crate::domain::error::LedgerError;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, VoucherId};
use crate::domain::input::InputError;
use crate::domain::ledger::{BOUND_PROVIDERS_MAX, NOTICE_LINES_MAX};
use crate::domain::model::{
    Actor, ApplicationStatus, PublicNotice, Redemption, Sha256Hex, VoucherApplication,
};
use crate::domain::policy::ProgramCode;
use crate::domain::reason::ReasonCode;
use crate::domain::text::RequestId;
use crate::proto::voucher::v1 as pb;

/// A list of provider codes, each checked, at most [`BOUND_PROVIDERS_MAX`], none twice.
pub fn bound_providers(
    field: &'static str,
    texts: &[String],
) -> Result<BTreeSet<CreditCode>, LedgerError> {
    if texts.len() > BOUND_PROVIDERS_MAX {
        return Err(invalid(
            field,
            InputError::new(
                ReasonCode::TooMany,
                format!(
                    "at most {BOUND_PROVIDERS_MAX} providers, got {}",
                    texts.len()
                ),
            ),
        ));
    }
    let mut codes = BTreeSet::new();
    for text in texts {
        let code = convert::credit_code(field, text)?;
        if !codes.insert(code) {
            return Err(invalid(
                field,
                InputError::new(ReasonCode::NotAllowed, format!("{code} is named twice")),
            ));
        }
    }
    Ok(codes)
}

/// The enterprise a call is about: an enterprise's own (from its token), or the one named.
fn own_enterprise(actor: Actor, named: &str) -> Result<CreditCode, LedgerError> {
    let named = convert::optional_credit_code("enterprise_credit_code", named)?;
    match (actor, named) {
        (Actor::Enterprise(own), None) => Ok(own),
        (Actor::Enterprise(own), Some(named)) if named == own => Ok(own),
        _ => Err(LedgerError::permission_denied(
            "an enterprise applies only for itself",
        )),
    }
}

pub fn apply_for_voucher(
    body: &pb::ApplyForVoucherRequest,
    actor: Actor,
) -> Result<Command, LedgerError> {
    let providers = bound_providers("provider_credit_codes", &body.provider_credit_codes)?;
    if providers.is_empty() {
        return Err(invalid(
            "provider_credit_codes",
            InputError::new(
                ReasonCode::Required,
                "name the provider (or providers) the enterprise chose",
            ),
        ));
    }
    Ok(Command::ApplyForVoucher(ApplicationRequest {
        request_id: RequestId::parse(&body.request_id)
            .map_err(|error| invalid("request_id", error))?,
        enterprise_credit_code: own_enterprise(actor, &body.enterprise_credit_code)?,
        program: convert::program("program", body.program)?,
        amount: convert::money("amount", body.amount.as_ref())?,
        provider_credit_codes: providers,
        contract_number: convert::text("contract_number", &body.contract_number)?,
        contract_sha256: Sha256Hex::parse(&body.contract_sha256)
            .map_err(|error| invalid("contract_sha256", error))?,
        purpose: convert::text("purpose", &body.purpose)?,
        other_subsidies: convert::optional_text("other_subsidies", &body.other_subsidies)?,
    }))
}

pub fn application_id(text: &str) -> Result<ApplicationId, LedgerError> {
    convert::id("application_id", text, ApplicationId::parse)
}

fn redemption_id(text: &str) -> Result<RedemptionId, LedgerError> {
    convert::id("redemption_id", text, RedemptionId::parse)
}

pub fn approve_application(body: &pb::ApproveApplicationRequest) -> Result<Command, LedgerError> {
    Ok(Command::ApproveApplication {
        application_id: application_id(&body.application_id)?,
        face_value: convert::optional_money("face_value", body.face_value.as_ref())?,
    })
}

pub fn reject_application(body: &pb::RejectApplicationRequest) -> Result<Command, LedgerError> {
    Ok(Command::RejectApplication {
        application_id: application_id(&body.application_id)?,
        reason: convert::text("reason", &body.reason)?,
    })
}

pub fn change_voucher_providers(
    body: &pb::ChangeVoucherProvidersRequest,
) -> Result<Command, LedgerError> {
    Ok(Command::ChangeVoucherProviders {
        voucher_id: convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?,
        provider_credit_codes: bound_providers(
            "provider_credit_codes",
            &body.provider_credit_codes,
        )?,
        reason: convert::text("reason", &body.reason)?,
    })
}

/// Only an enterprise confirms, and only in its own name.
pub fn confirm_redemption(
    body: &pb::ConfirmRedemptionRequest,
    actor: Actor,
) -> Result<Command, LedgerError> {
    Ok(Command::ConfirmRedemption {
        redemption_id: redemption_id(&body.redemption_id)?,
        enterprise_credit_code: own_enterprise(actor, "")?,
    })
}

pub fn dispute_redemption(
    body: &pb::DisputeRedemptionRequest,
    actor: Actor,
) -> Result<Command, LedgerError> {
    Ok(Command::DisputeRedemption {
        redemption_id: redemption_id(&body.redemption_id)?,
        enterprise_credit_code: own_enterprise(actor, "")?,
        reason: convert::text("reason", &body.reason)?,
    })
}

pub fn return_redemption(body: &pb::ReturnRedemptionRequest) -> Result<Command, LedgerError> {
    Ok(Command::ReturnRedemption {
        redemption_id: redemption_id(&body.redemption_id)?,
        reason: convert::text("reason", &body.reason)?,
    })
}

/// What a notice asks for before its claims are gathered: the program, the two periods, and
/// the claims named (empty: every approved claim of the period, gathered by the reader).
pub struct NoticeQuery {
    pub program: ProgramCode,
    pub approved_in: DateRange,
    pub posted: DateRange,
    pub redemption_ids: Vec<RedemptionId>,
}

impl NoticeQuery {
    pub fn into_command(self, redemption_ids: Vec<RedemptionId>) -> Command {
        Command::PublishNotice(NoticeRequest {
            program: self.program,
            approved_in: self.approved_in,
            posted: self.posted,
            redemption_ids,
        })
    }
}

pub fn publish_notice(body: &pb::PublishNoticeRequest) -> Result<NoticeQuery, LedgerError> {
    if body.redemption_ids.len() > NOTICE_LINES_MAX {
        return Err(invalid(
            "redemption_ids",
            InputError::new(
                ReasonCode::TooMany,
                format!("a notice lists at most {NOTICE_LINES_MAX} claims"),
            ),
        ));
    }
    Ok(NoticeQuery {
        program: convert::program("program", body.program)?,
        approved_in: date_range(
            ("approved_from", &body.approved_from),
            ("approved_until", &body.approved_until),
        )?,
        posted: date_range(
            ("posted_from", &body.posted_from),
            ("posted_until", &body.posted_until),
        )?,
        redemption_ids: body
            .redemption_ids
            .iter()
            .map(|text| convert::id("redemption_ids", text, RedemptionId::parse))
            .collect::<Result<_, _>>()?,
    })
}

fn date_range(
    (first_field, first): (&'static str, &str),
    (last_field, last): (&'static str, &str),
) -> Result<DateRange, LedgerError> {
    let (first, last) = (
        convert::date(first_field, first)?,
        convert::date(last_field, last)?,
    );
    if last < first {
        return Err(invalid(
            last_field,
            InputError::new(
                ReasonCode::ValidityReversed,
                format!("{last} is before {first}"),
            ),
        ));
    }
    Ok(DateRange::new(first, last))
}

pub fn notice_id(text: &str) -> Result<NoticeId, LedgerError> {
    convert::id("notice_id", text, NoticeId::parse)
}

/// An application status filter: `APPLICATION_STATUS_UNSPECIFIED` means every status.
pub fn optional_application_status(value: i32) -> Result<Option<ApplicationStatus>, LedgerError> {
    Ok(Some(match pb::ApplicationStatus::try_from(value) {
        Ok(pb::ApplicationStatus::Unspecified) => return Ok(None),
        Ok(pb::ApplicationStatus::Pending) => ApplicationStatus::Pending,
        Ok(pb::ApplicationStatus::Approved) => ApplicationStatus::Approved,
        Ok(pb::ApplicationStatus::Rejected) => ApplicationStatus::Rejected,
        Err(_) => {
            return Err(invalid(
                "status",
                InputError::new(ReasonCode::NotAllowed, format!("{value} is not a status")),
            ));
        }
    }))
}

pub fn to_application(application: &VoucherApplication) -> pb::VoucherApplication {
    let status = match application.status {
        ApplicationStatus::Pending => pb::ApplicationStatus::Pending,
        ApplicationStatus::Approved => pb::ApplicationStatus::Approved,
        ApplicationStatus::Rejected => pb::ApplicationStatus::Rejected,
    };
    pb::VoucherApplication {
        application_id: application.application_id.to_string(),
        request_id: application.request_id.as_str().to_owned(),
        enterprise_credit_code: application.enterprise_credit_code.to_string(),
        program: convert::to_program(application.program),
        amount: Some(to_money(application.amount)),
        provider_credit_codes: application
            .provider_credit_codes
            .iter()
            .map(ToString::to_string)
            .collect(),
        contract_number: application.contract_number.to_string(),
        contract_sha256: application.contract_sha256.as_str().to_owned(),
        purpose: application.purpose.to_string(),
        other_subsidies: text_of(&application.other_subsidies),
        status: status as i32,
        applied_at: Some(to_timestamp(application.applied_at)),
        decided_at: application.decided_at.map(to_timestamp),
        voucher_id: text_of(&application.voucher_id),
        rejection_reason: text_of(&application.rejection_reason),
        applied_by: Some(convert::to_actor(&application.applied_by)),
        decided_by: convert::to_step(&application.decided_by),
    }
}

/// A notice with its lines: each claim with its enterprise's name.
pub fn to_notice(notice: &PublicNotice, lines: &[(Redemption, String)]) -> pb::PublicNotice {
    pb::PublicNotice {
        notice_id: notice.notice_id.to_string(),
        program: convert::to_program(notice.program),
        approved_from: convert::to_date(notice.approved_in.first),
        approved_until: convert::to_date(notice.approved_in.last),
        posted_from: convert::to_date(notice.posted.first),
        posted_until: convert::to_date(notice.posted.last),
        lines: lines
            .iter()
            .map(|(redemption, enterprise_name)| pb::NoticeLine {
                redemption_id: redemption.redemption_id.to_string(),
                enterprise_credit_code: redemption.enterprise_credit_code.to_string(),
                enterprise_name: enterprise_name.clone(),
                provider_credit_code: redemption.provider_credit_code.to_string(),
                subsidy: Some(to_money(redemption.subsidy)),
            })
            .collect(),
        total: Some(convert::total_to_money(notice.total)),
        published_at: Some(to_timestamp(notice.published_at)),
    }
}
