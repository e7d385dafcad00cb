//! Requests into commands and queries: every field of every request parsed once, into checked
//! types, with INVALID_ARGUMENT naming the first bad field. Pure functions of the request (and,
//! where a token decides something, the caller), so they can be fuzzed and tested without a
//! server.

use crate::domain::reason::ReasonCode;

use super::convert;
use super::convert::invalid;
use crate::domain::command::{Command, RedeemCommand};
use crate::domain::credit_code::CreditCode;
use crate::domain::error::LedgerError;
use crate::domain::ids::{RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::input::InputError;
use crate::domain::model::{Actor, Invoice, IssueVoucherRequest, SecretHash};
use crate::domain::policy::ProgramCode;
use crate::domain::text::RequestId;
use crate::engine::{RedemptionFilter, SettlementFilter, VoucherFilter};
use crate::proto::voucher::v1 as pb;

pub fn register_enterprise(body: &pb::RegisterEnterpriseRequest) -> Result<Command, LedgerError> {
    Ok(Command::RegisterEnterprise {
        credit_code: convert::credit_code("credit_code", &body.credit_code)?,
        name: convert::text("name", &body.name)?,
        check_digit_override_reason: convert::optional_text(
            "check_digit_override_reason",
            &body.check_digit_override_reason,
        )?,
    })
}

pub fn register_provider(body: &pb::RegisterProviderRequest) -> Result<Command, LedgerError> {
    Ok(Command::RegisterProvider {
        credit_code: convert::credit_code("credit_code", &body.credit_code)?,
        name: convert::text("name", &body.name)?,
        program: convert::program("program", body.program)?,
        check_digit_override_reason: convert::optional_text(
            "check_digit_override_reason",
            &body.check_digit_override_reason,
        )?,
    })
}

/// The command that records a token whose secret hashes to `secret_sha256`.
pub fn create_token(
    body: &pb::CreateTokenRequest,
    secret_sha256: SecretHash,
) -> Result<Command, LedgerError> {
    Ok(Command::CreateToken {
        role: convert::role("role", body.role)?,
        provider_credit_code: convert::optional_credit_code(
            "provider_credit_code",
            &body.provider_credit_code,
        )?,
        enterprise_credit_code: convert::optional_credit_code(
            "enterprise_credit_code",
            &body.enterprise_credit_code,
        )?,
        programs: body
            .programs
            .iter()
            .map(|program| convert::program("programs", *program))
            .collect::<Result<_, _>>()?,
        description: convert::optional_text("description", &body.description)?,
        secret_sha256,
    })
}

pub fn revoke_token(body: &pb::RevokeTokenRequest) -> Result<Command, LedgerError> {
    Ok(Command::RevokeToken {
        token_id: convert::id("token_id", &body.token_id, TokenId::parse)?,
    })
}

pub fn issue_voucher(body: &pb::IssueVoucherRequest) -> Result<Command, LedgerError> {
    Ok(Command::IssueVoucher(IssueVoucherRequest {
        request_id: RequestId::parse(&body.request_id)
            .map_err(|error| invalid("request_id", error))?,
        enterprise_credit_code: convert::credit_code(
            "enterprise_credit_code",
            &body.enterprise_credit_code,
        )?,
        program: convert::program("program", body.program)?,
        face_value: convert::optional_money("face_value", body.face_value.as_ref())?,
        valid_from: convert::optional_date("valid_from", &body.valid_from)?,
        valid_until: convert::optional_date("valid_until", &body.valid_until)?,
        provider_credit_codes: super::enterprise::bound_providers(
            "provider_credit_codes",
            &body.provider_credit_codes,
        )?,
    }))
}

pub fn revoke_voucher(body: &pb::RevokeVoucherRequest) -> Result<Command, LedgerError> {
    Ok(Command::RevokeVoucher {
        voucher_id: convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?,
        reason: convert::text("reason", &body.reason)?,
    })
}

/// A redemption by `actor`: a provider redeems as itself, the bureau names the provider.
pub fn redeem(body: &pb::RedeemRequest, actor: Actor) -> Result<Command, LedgerError> {
    let named_provider =
        convert::optional_credit_code("provider_credit_code", &body.provider_credit_code)?;
    Ok(Command::Redeem(RedeemCommand {
        voucher_id: convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?,
        provider_credit_code: redeeming_provider(actor, named_provider)?,
        enterprise_credit_code: convert::credit_code(
            "enterprise_credit_code",
            &body.enterprise_credit_code,
        )?,
        invoice: Invoice {
            number: convert::invoice_number("invoice_number", &body.invoice_number)?,
            date: convert::date("invoice_date", &body.invoice_date)?,
            amount: convert::money("invoice_amount", body.invoice_amount.as_ref())?,
        },
        allow_partial: body.allow_partial,
        evidence: convert::evidence(&body.evidence)?,
    }))
}

/// A provider's credit code comes from its token, never from what it types.
fn redeeming_provider(actor: Actor, named: Option<CreditCode>) -> Result<CreditCode, LedgerError> {
    match (actor, named) {
        (Actor::Provider(own), None) => Ok(own),
        (Actor::Provider(own), Some(named)) if named == own => Ok(own),
        (Actor::Provider(_), Some(_)) => Err(LedgerError::permission_denied(
            "a provider redeems only as itself",
        )),
        (Actor::Enterprise(_), _) => Err(LedgerError::permission_denied(
            "an enterprise does not redeem: its provider does",
        )),
        (Actor::Finance, _) => Err(LedgerError::permission_denied(
            "the finance bureau records payments and does not redeem",
        )),
        (Actor::Bureau | Actor::Auditor, Some(named)) => Ok(named),
        (Actor::Bureau | Actor::Auditor, None) => Err(invalid(
            "provider_credit_code",
            InputError::new(
                ReasonCode::Required,
                "the bureau must name the provider it redeems for",
            ),
        )),
    }
}

pub fn reverse_redemption(
    body: &pb::ReverseRedemptionRequest,
    actor: Actor,
) -> Result<Command, LedgerError> {
    Ok(Command::ReverseRedemption {
        redemption_id: convert::id("redemption_id", &body.redemption_id, RedemptionId::parse)?,
        reason: convert::text("reason", &body.reason)?,
        actor,
    })
}

/// A page request: which records, how many, after which id.
pub struct PageQuery<Filter, Id> {
    pub filter: Filter,
    pub limit: usize,
    pub after: Option<Id>,
}

pub fn list_vouchers(
    body: &pb::ListVouchersRequest,
) -> Result<PageQuery<VoucherFilter, VoucherId>, LedgerError> {
    Ok(PageQuery {
        filter: VoucherFilter {
            enterprise_credit_code: convert::optional_credit_code(
                "enterprise_credit_code",
                &body.enterprise_credit_code,
            )?,
            program: convert::optional_program("program", body.program)?,
        },
        limit: convert::page_size(body.page_size)?,
        after: convert::page_token(&body.page_token, VoucherId::parse)?,
    })
}

pub fn list_redemptions(
    body: &pb::ListRedemptionsRequest,
) -> Result<PageQuery<RedemptionFilter, RedemptionId>, LedgerError> {
    Ok(PageQuery {
        filter: RedemptionFilter {
            enterprise_credit_code: convert::optional_credit_code(
                "enterprise_credit_code",
                &body.enterprise_credit_code,
            )?,
            provider_credit_code: convert::optional_credit_code(
                "provider_credit_code",
                &body.provider_credit_code,
            )?,
            program: convert::optional_program("program", body.program)?,
            invoice_date_from: convert::optional_date(
                "invoice_date_from",
                &body.invoice_date_from,
            )?,
            invoice_date_to: convert::optional_date("invoice_date_to", &body.invoice_date_to)?,
            status: convert::optional_redemption_status("status", body.status)?,
        },
        limit: convert::page_size(body.page_size)?,
        after: convert::page_token(&body.page_token, RedemptionId::parse)?,
    })
}

/// Whose balance, under which program, on which day (None: today).
pub struct BalanceQuery {
    pub enterprise_credit_code: CreditCode,
    pub program: ProgramCode,
    pub on_date: Option<chrono::NaiveDate>,
}

pub fn get_balance(body: &pb::GetBalanceRequest) -> Result<BalanceQuery, LedgerError> {
    Ok(BalanceQuery {
        enterprise_credit_code: convert::credit_code(
            "enterprise_credit_code",
            &body.enterprise_credit_code,
        )?,
        program: convert::program("program", body.program)?,
        on_date: convert::optional_date("on_date", &body.on_date)?,
    })
}

/// Which program, and the cap period holding which day (None: today).
pub struct ProgramQuery {
    pub program: ProgramCode,
    pub on_date: Option<chrono::NaiveDate>,
}

pub fn list_balances(
    body: &pb::ListBalancesRequest,
) -> Result<(ProgramQuery, PageQuery<(), CreditCode>), LedgerError> {
    let program = ProgramQuery {
        program: convert::program("program", body.program)?,
        on_date: convert::optional_date("on_date", &body.on_date)?,
    };
    let page = PageQuery {
        filter: (),
        limit: convert::page_size(body.page_size)?,
        after: convert::page_token(&body.page_token, CreditCode::parse)?,
    };
    Ok((program, page))
}

pub fn program_summary(body: &pb::ProgramSummaryRequest) -> Result<ProgramQuery, LedgerError> {
    Ok(ProgramQuery {
        program: convert::program("program", body.program)?,
        on_date: convert::optional_date("on_date", &body.on_date)?,
    })
}

pub fn approve_redemption(body: &pb::ApproveRedemptionRequest) -> Result<Command, LedgerError> {
    Ok(Command::ApproveRedemption {
        redemption_id: convert::id("redemption_id", &body.redemption_id, RedemptionId::parse)?,
    })
}

pub fn reject_redemption(body: &pb::RejectRedemptionRequest) -> Result<Command, LedgerError> {
    Ok(Command::RejectRedemption {
        redemption_id: convert::id("redemption_id", &body.redemption_id, RedemptionId::parse)?,
        reason: convert::text("reason", &body.reason)?,
    })
}

pub fn create_settlement(body: &pb::CreateSettlementRequest) -> Result<Command, LedgerError> {
    Ok(Command::CreateSettlement(
        crate::domain::command::SettlementRequest {
            request_id: RequestId::parse(&body.request_id)
                .map_err(|error| invalid("request_id", error))?,
            provider_credit_code: convert::credit_code(
                "provider_credit_code",
                &body.provider_credit_code,
            )?,
            program: convert::program("program", body.program)?,
            up_to: convert::date("up_to_date", &body.up_to_date)?,
        },
    ))
}

pub fn record_settlement_payment(
    body: &pb::RecordSettlementPaymentRequest,
) -> Result<Command, LedgerError> {
    Ok(Command::RecordSettlementPayment {
        settlement_id: convert::id("settlement_id", &body.settlement_id, SettlementId::parse)?,
        bank_reference: convert::text("bank_reference", &body.bank_reference)?,
        paid_on: convert::date("paid_on", &body.paid_on)?,
    })
}

pub fn record_related_parties(
    body: &pb::RecordRelatedPartiesRequest,
) -> Result<Command, LedgerError> {
    Ok(Command::RecordRelatedParties {
        provider_credit_code: convert::credit_code(
            "provider_credit_code",
            &body.provider_credit_code,
        )?,
        enterprise_credit_code: convert::credit_code(
            "enterprise_credit_code",
            &body.enterprise_credit_code,
        )?,
        reason: convert::text("reason", &body.reason)?,
    })
}

pub fn list_settlements(
    body: &pb::ListSettlementsRequest,
) -> Result<PageQuery<SettlementFilter, SettlementId>, LedgerError> {
    Ok(PageQuery {
        filter: SettlementFilter {
            provider_credit_code: convert::optional_credit_code(
                "provider_credit_code",
                &body.provider_credit_code,
            )?,
            program: convert::optional_program("program", body.program)?,
        },
        limit: convert::page_size(body.page_size)?,
        after: convert::page_token(&body.page_token, SettlementId::parse)?,
    })
}

pub fn get_budget(body: &pb::GetBudgetRequest) -> Result<ProgramQuery, LedgerError> {
    Ok(ProgramQuery {
        program: convert::program("program", body.program)?,
        on_date: convert::optional_date("on_date", &body.on_date)?,
    })
}

pub fn suspend_provider(body: &pb::SuspendProviderRequest) -> Result<Command, LedgerError> {
    Ok(Command::SuspendProvider {
        provider_credit_code: convert::credit_code("credit_code", &body.credit_code)?,
        reason: convert::text("reason", &body.reason)?,
    })
}

pub fn reinstate_provider(body: &pb::ReinstateProviderRequest) -> Result<Command, LedgerError> {
    Ok(Command::ReinstateProvider {
        provider_credit_code: convert::credit_code("credit_code", &body.credit_code)?,
    })
}

pub fn pin_provider_certificate(
    body: &pb::ProviderCertificateRequest,
) -> Result<Command, LedgerError> {
    Ok(Command::PinProviderCertificate {
        provider_credit_code: convert::credit_code("credit_code", &body.credit_code)?,
        certificate_sha256: convert::certificate_fingerprint(
            "certificate_sha256",
            &body.certificate_sha256,
        )?,
    })
}

pub fn revoke_provider_certificate(
    body: &pb::ProviderCertificateRequest,
) -> Result<Command, LedgerError> {
    Ok(Command::RevokeProviderCertificate {
        provider_credit_code: convert::credit_code("credit_code", &body.credit_code)?,
        certificate_sha256: convert::certificate_fingerprint(
            "certificate_sha256",
            &body.certificate_sha256,
        )?,
    })
}
