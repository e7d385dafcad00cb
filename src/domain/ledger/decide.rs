//! The rules: given the state, a command and the clock, which events follow, or why none may.
//!
//! Deciding never changes the state. Each command is checked in a fixed order so that the same
//! request always gets the same refusal. A redemption, as [`Ledger::decide_redeem`] runs it: a
//! replay of a used invoice number; the voucher, held by the named enterprise; the provider;
//! its program and self-dealing; its suspension; the voucher's status; related parties; the
//! dates; the evidence the policy asks for; a subsidy that rounds to zero; then the cap and the
//! voucher's balance, in `grant`.

use crate::domain::reason::ReasonCode;
use chrono::NaiveDate;
use std::collections::BTreeSet;

use super::{Ledger, Target, unknown_credit_code};
use crate::domain::command::Command;
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::{Clock, DateRange};
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::ids::{TokenId, VoucherId};
use crate::domain::model::{
    Enterprise, IssueVoucherRequest, Provider, ProviderAccess, Role, SecretHash, Token, Voucher,
    VoucherStatus,
};
use crate::domain::money::{Money, Total};
use crate::domain::policy::{ProgramCode, ProgramRules};
use crate::domain::text::{Description, Name, Reason};

pub(super) type Decision = Result<(Vec<Event>, Target), LedgerError>;

impl Ledger {
    /// Which events follow `command`, or why none may. The registry and a provider's access
    /// each have a function of their own; the commands that move money are listed here.
    pub(super) fn decide(&self, command: &Command, clock: Clock) -> Decision {
        match command {
            Command::RegisterEnterprise { .. }
            | Command::RegisterProvider { .. }
            | Command::CreateToken { .. }
            | Command::RevokeToken { .. }
            | Command::RecordRelatedParties { .. } => self.decide_registry(command, clock),
            Command::IssueVoucher(request) => self.decide_issue_voucher(request, clock),
            Command::RevokeVoucher { voucher_id, reason } => {
                self.decide_revoke_voucher(*voucher_id, reason, clock)
            }
            Command::Redeem(redeem) => self.decide_redeem(redeem, clock),
            Command::ApproveRedemption { redemption_id } => {
                self.decide_approve(*redemption_id, clock)
            }
            Command::RejectRedemption {
                redemption_id,
                reason,
            } => self.decide_reject(*redemption_id, reason, clock),
            Command::ReverseRedemption {
                redemption_id,
                reason,
                actor,
            } => self.decide_reverse(*redemption_id, reason, *actor, clock),
            Command::CreateSettlement(request) => self.decide_settlement(request, clock),
            Command::RecordSettlementPayment {
                settlement_id,
                bank_reference,
                paid_on,
            } => self.decide_payment(*settlement_id, bank_reference, *paid_on, clock),
            Command::SuspendProvider { .. }
            | Command::ReinstateProvider { .. }
            | Command::PinProviderCertificate { .. }
            | Command::RevokeProviderCertificate { .. } => self.decide_access(command, clock),
            Command::ApplyForVoucher(_)
            | Command::ApproveApplication { .. }
            | Command::RejectApplication { .. }
            | Command::ChangeVoucherProviders { .. }
            | Command::ConfirmRedemption { .. }
            | Command::DisputeRedemption { .. }
            | Command::ReturnRedemption { .. }
            | Command::PublishNotice(_) => self.decide_enterprise_part(command, clock),
        }
    }

    /// The enterprise's part: applications, bound providers, confirmation, dispute, return,
    /// notices (see `enterprise.rs`).
    fn decide_enterprise_part(&self, command: &Command, clock: Clock) -> Decision {
        match command {
            Command::ApplyForVoucher(request) => self.decide_apply(request, clock),
            Command::ApproveApplication {
                application_id,
                face_value,
            } => self.decide_approve_application(*application_id, *face_value, clock),
            Command::RejectApplication {
                application_id,
                reason,
            } => self.decide_reject_application(*application_id, reason, clock),
            Command::ChangeVoucherProviders {
                voucher_id,
                provider_credit_codes,
                reason,
            } => self.decide_change_providers(*voucher_id, provider_credit_codes, reason, clock),
            Command::ConfirmRedemption {
                redemption_id,
                enterprise_credit_code,
            } => self.decide_confirm(*redemption_id, *enterprise_credit_code, clock),
            Command::DisputeRedemption {
                redemption_id,
                enterprise_credit_code,
                reason,
            } => self.decide_dispute(*redemption_id, *enterprise_credit_code, reason, clock),
            Command::ReturnRedemption {
                redemption_id,
                reason,
            } => self.decide_return(*redemption_id, reason, clock),
            Command::PublishNotice(request) => self.decide_notice(request, clock),
            _ => unreachable!("{} is not an enterprise command", command.name()),
        }
    }

    /// Who takes part: enterprises, providers, tokens, related parties.
    fn decide_registry(&self, command: &Command, clock: Clock) -> Decision {
        match command {
            Command::RegisterEnterprise {
                credit_code,
                name,
                check_digit_override_reason,
            } => self.decide_register_enterprise(
                *credit_code,
                name,
                check_digit_override_reason,
                clock,
            ),
            Command::RegisterProvider {
                credit_code,
                name,
                program,
                check_digit_override_reason,
            } => self.decide_register_provider(
                *credit_code,
                name,
                *program,
                check_digit_override_reason,
                clock,
            ),
            Command::CreateToken {
                role,
                provider_credit_code,
                enterprise_credit_code,
                programs,
                description,
                secret_sha256,
            } => self.decide_create_token(
                *role,
                (*provider_credit_code, *enterprise_credit_code),
                programs,
                description,
                secret_sha256,
                clock,
            ),
            Command::RevokeToken { token_id } => self.decide_revoke_token(*token_id, clock),
            Command::RecordRelatedParties {
                provider_credit_code,
                enterprise_credit_code,
                reason,
            } => self.decide_related_parties(
                *provider_credit_code,
                *enterprise_credit_code,
                reason,
                clock,
            ),
            _ => unreachable!("{} is not a registry command", command.name()),
        }
    }

    /// A provider's access: its suspension and its certificates (see `access.rs`).
    fn decide_access(&self, command: &Command, clock: Clock) -> Decision {
        match command {
            Command::SuspendProvider {
                provider_credit_code,
                reason,
            } => self.decide_suspend(*provider_credit_code, reason, clock),
            Command::ReinstateProvider {
                provider_credit_code,
            } => self.decide_reinstate(*provider_credit_code, clock),
            Command::PinProviderCertificate {
                provider_credit_code,
                certificate_sha256,
            } => self.decide_pin_certificate(*provider_credit_code, certificate_sha256, clock),
            Command::RevokeProviderCertificate {
                provider_credit_code,
                certificate_sha256,
            } => self.decide_revoke_certificate(*provider_credit_code, certificate_sha256, clock),
            _ => unreachable!("{} is not a provider access command", command.name()),
        }
    }

    fn decide_register_enterprise(
        &self,
        credit_code: CreditCode,
        name: &Name,
        override_reason: &Option<Reason>,
        clock: Clock,
    ) -> Decision {
        if let Some(existing) = self.enterprises.get(&credit_code) {
            if existing.name == *name && existing.check_digit_override_reason == *override_reason {
                return Ok((Vec::new(), Target::Enterprise(credit_code)));
            }
            return Err(LedgerError::already_exists(
                ReasonCode::EnterpriseExists,
                format!(
                    "enterprise {credit_code} is already registered as {}",
                    existing.name
                ),
            ));
        }
        require_check_digit_or_override(&credit_code, override_reason, "credit_code")?;
        let enterprise = Enterprise {
            credit_code,
            name: name.clone(),
            check_digit_override_reason: override_reason.clone(),
            registered_at: clock.now,
        };
        Ok((
            vec![Event::EnterpriseRegistered { enterprise }],
            Target::Enterprise(credit_code),
        ))
    }

    fn decide_register_provider(
        &self,
        credit_code: CreditCode,
        name: &Name,
        program: ProgramCode,
        override_reason: &Option<Reason>,
        clock: Clock,
    ) -> Decision {
        self.policy.program(program)?;
        if let Some(existing) = self.providers.get(&credit_code) {
            let same = existing.name == *name
                && existing.program == program
                && existing.check_digit_override_reason == *override_reason;
            if same {
                return Ok((Vec::new(), Target::Provider(credit_code)));
            }
            return Err(LedgerError::already_exists(
                ReasonCode::ProviderExists,
                format!(
                    "provider {credit_code} is already registered as {} for program {}",
                    existing.name, existing.program
                ),
            ));
        }
        require_check_digit_or_override(&credit_code, override_reason, "credit_code")?;
        let provider = Provider {
            credit_code,
            name: name.clone(),
            program,
            check_digit_override_reason: override_reason.clone(),
            registered_at: clock.now,
            access: ProviderAccess::default(),
        };
        Ok((
            vec![Event::ProviderRegistered { provider }],
            Target::Provider(credit_code),
        ))
    }

    /// `bound` is the provider and the enterprise the token names: a provider token names its
    /// provider, an enterprise token its enterprise, and no token names anything else.
    fn decide_create_token(
        &self,
        role: Role,
        bound: (Option<CreditCode>, Option<CreditCode>),
        programs: &BTreeSet<ProgramCode>,
        description: &Option<Description>,
        secret_sha256: &SecretHash,
        clock: Clock,
    ) -> Decision {
        let (provider_credit_code, enterprise_credit_code) = bound;
        self.check_token_enterprise(role, enterprise_credit_code)?;
        if role != Role::Bureau && !programs.is_empty() {
            return Err(LedgerError::InvalidArgument {
                field: "programs",
                reason: ReasonCode::NotAllowed,
                message: "only a bureau token is scoped to programs".to_owned(),
            });
        }
        for program in programs {
            self.policy.program(*program)?;
        }
        match (role, provider_credit_code) {
            (Role::Provider, None) => {
                return Err(LedgerError::InvalidArgument {
                    field: "provider_credit_code",
                    reason: ReasonCode::Required,
                    message: "a provider token must name its provider".to_owned(),
                });
            }
            (Role::Provider, Some(code)) if !self.providers.contains_key(&code) => {
                return Err(unknown_credit_code(
                    &code,
                    "provider_credit_code",
                    "provider",
                ));
            }
            (Role::Bureau | Role::Auditor | Role::Enterprise, Some(_)) => {
                return Err(LedgerError::InvalidArgument {
                    field: "provider_credit_code",
                    reason: ReasonCode::NotAllowed,
                    message: "only a provider token names a provider".to_owned(),
                });
            }
            _ => {}
        }
        assert!(
            !self.token_by_secret.contains_key(secret_sha256),
            "token secrets are random"
        );
        let token_id = self.last_token_id.map_or(TokenId::FIRST, TokenId::next);
        let token = Token {
            token_id,
            role,
            provider_credit_code,
            enterprise_credit_code,
            programs: programs.clone(),
            description: description.clone(),
            secret_sha256: secret_sha256.clone(),
            created_at: clock.now,
            revoked_at: None,
        };
        Ok((vec![Event::TokenCreated { token }], Target::Token(token_id)))
    }

    fn check_token_enterprise(
        &self,
        role: Role,
        enterprise_credit_code: Option<CreditCode>,
    ) -> Result<(), LedgerError> {
        match (role, enterprise_credit_code) {
            (Role::Enterprise, None) => Err(LedgerError::InvalidArgument {
                field: "enterprise_credit_code",
                reason: ReasonCode::Required,
                message: "an enterprise token must name its enterprise".to_owned(),
            }),
            (Role::Enterprise, Some(code)) if !self.enterprises.contains_key(&code) => Err(
                unknown_credit_code(&code, "enterprise_credit_code", "enterprise"),
            ),
            (Role::Bureau | Role::Auditor | Role::Provider, Some(_)) => {
                Err(LedgerError::InvalidArgument {
                    field: "enterprise_credit_code",
                    reason: ReasonCode::NotAllowed,
                    message: "only an enterprise token names an enterprise".to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    fn decide_revoke_token(&self, token_id: TokenId, clock: Clock) -> Decision {
        let token = self
            .tokens
            .get(&token_id)
            .ok_or_else(|| LedgerError::not_found("token_id", format!("no token {token_id}")))?;
        if !token.is_active() {
            return Ok((Vec::new(), Target::Token(token_id)));
        }
        let other_bureau_tokens = self
            .tokens
            .values()
            .filter(|other| {
                other.role == Role::Bureau && other.is_active() && other.token_id != token_id
            })
            .count();
        if token.role == Role::Bureau && other_bureau_tokens == 0 {
            return Err(LedgerError::refused(
                ReasonCode::LastBureauToken,
                "this is the last active bureau token: create another before revoking it",
            ));
        }
        Ok((
            vec![Event::TokenRevoked {
                token_id,
                at: clock.now,
            }],
            Target::Token(token_id),
        ))
    }

    pub(super) fn decide_issue_voucher(
        &self,
        request: &IssueVoucherRequest,
        clock: Clock,
    ) -> Decision {
        if let Some(voucher_id) = self.voucher_by_request.get(&request.request_id) {
            return self.replay_issue(*voucher_id, request);
        }
        let code = request.enterprise_credit_code;
        if !self.enterprises.contains_key(&code) {
            return Err(unknown_credit_code(
                &code,
                "enterprise_credit_code",
                "enterprise",
            ));
        }
        let rules = self.policy.program(request.program)?;
        let (validity, cap_period) = self.voucher_validity(rules, request, clock.today)?;
        let redeem_by = self.policy.redeem_by(validity.last);
        if redeem_by < clock.today {
            return Err(LedgerError::refused(
                ReasonCode::RedeemDeadlinePassed,
                format!(
                    "a voucher valid until {} could be redeemed only until {redeem_by}, which has passed",
                    validity.last
                ),
            ));
        }
        self.check_bound_providers(request.program, &request.provider_credit_codes)?;
        let face_value = self.face_value_within_cap(rules, code, cap_period, request.face_value)?;
        let voucher = Voucher {
            voucher_id: self
                .last_voucher_id
                .map_or(VoucherId::FIRST, VoucherId::next),
            enterprise_credit_code: code,
            program: request.program,
            face_value,
            redeemed: Money::ZERO,
            validity,
            redeem_by,
            cap_period,
            status: VoucherStatus::Active,
            issued_at: clock.now,
            request: request.clone(),
            revocation_reason: None,
            closed_at: None,
            provider_credit_codes: request.provider_credit_codes.clone(),
            application_id: None,
            issued_by: Default::default(),
            closed_by: None,
        };
        let target = Target::Voucher(voucher.voucher_id);
        Ok((vec![Event::VoucherIssued { voucher }], target))
    }

    fn replay_issue(&self, voucher_id: VoucherId, request: &IssueVoucherRequest) -> Decision {
        let voucher = self
            .vouchers
            .get(&voucher_id)
            .expect("request index points at a voucher");
        if voucher.request == *request {
            return Ok((Vec::new(), Target::Voucher(voucher_id)));
        }
        Err(LedgerError::already_exists(
            ReasonCode::RequestIdReused,
            format!(
                "request_id {} was used for voucher {voucher_id} with another request",
                request.request_id
            ),
        ))
    }

    /// The validity window and the cap period holding it, with the defaults filled in: the
    /// cap period of valid_from, of valid_until, or of today, in that order of preference.
    fn voucher_validity(
        &self,
        rules: &ProgramRules,
        request: &IssueVoucherRequest,
        today: NaiveDate,
    ) -> Result<(DateRange, DateRange), LedgerError> {
        let (anchor, anchor_field) = match (request.valid_from, request.valid_until) {
            (Some(from), _) => (from, "valid_from"),
            (None, Some(until)) => (until, "valid_until"),
            (None, None) => (today, "valid_from"),
        };
        let period = self
            .policy
            .cap_period_containing(rules, anchor)
            .ok_or_else(|| outside_term(anchor_field, anchor, self.policy.term))?;
        let valid_from = request.valid_from.unwrap_or(period.first);
        let valid_until = request.valid_until.unwrap_or(period.last);
        if valid_until < valid_from {
            return Err(LedgerError::InvalidArgument {
                field: "valid_until",
                reason: ReasonCode::ValidityReversed,
                message: format!("valid_until {valid_until} is before valid_from {valid_from}"),
            });
        }
        if !self.policy.term.contains(valid_until) {
            return Err(outside_term("valid_until", valid_until, self.policy.term));
        }
        if !period.contains(valid_until) {
            return Err(LedgerError::InvalidArgument {
                field: "valid_until",
                reason: ReasonCode::ValidityCrossesCapPeriod,
                message: format!(
                    "a {} voucher's validity must lie inside one cap period ({} to {})",
                    rules.code, period.first, period.last
                ),
            });
        }
        Ok((DateRange::new(valid_from, valid_until), period))
    }

    /// The face value to commit: as asked, or all that is left; never past the enterprise's
    /// cap (checked first) nor the program's budget for the period.
    fn face_value_within_cap(
        &self,
        rules: &ProgramRules,
        enterprise: CreditCode,
        cap_period: DateRange,
        requested: Option<Money>,
    ) -> Result<Money, LedgerError> {
        let key = crate::domain::model::CapKey {
            enterprise_credit_code: enterprise,
            program: rules.code,
            period_start: cap_period.first,
        };
        let committed = self
            .cap_accounts
            .get(&key)
            .map_or(Money::ZERO, |account| account.committed);
        let available = rules.cap.saturating_sub(committed);
        let budget_left = self.budget_left(rules, cap_period);
        let cap_refusal = || {
            LedgerError::refused_with_remaining(
                ReasonCode::CapExceeded,
                format!(
                    "{} cap {} for {} to {}: {} is committed, {} is left to issue",
                    rules.name,
                    rules.cap.to_grouped_string(),
                    cap_period.first,
                    cap_period.last,
                    committed.to_grouped_string(),
                    available.to_grouped_string()
                ),
                available,
            )
        };
        let budget_refusal = |left: Money| {
            LedgerError::refused_with_remaining(
                ReasonCode::BudgetExceeded,
                format!(
                    "{} budget for {} to {}: {} is left to commit",
                    rules.name,
                    cap_period.first,
                    cap_period.last,
                    left.to_grouped_string()
                ),
                left,
            )
        };
        let face_value = match requested {
            Some(asked) if asked > available => return Err(cap_refusal()),
            Some(asked) => asked,
            None if available.is_zero() => return Err(cap_refusal()),
            None => budget_left.map_or(available, |left| available.min(left)),
        };
        match budget_left {
            Some(left) if face_value.is_zero() || face_value > left => Err(budget_refusal(left)),
            _ => Ok(face_value),
        }
    }

    /// What the program's budget still allows to commit in the period, if it has a budget.
    fn budget_left(&self, rules: &ProgramRules, cap_period: DateRange) -> Option<Money> {
        let budget = rules.budget_for(cap_period.first)?;
        let key = crate::domain::model::ProgramPeriod {
            program: rules.code,
            period_start: cap_period.first,
        };
        let committed = self
            .program_totals
            .get(&key)
            .map_or(Total::ZERO, |totals| totals.committed);
        let left = budget.as_decimal() - committed.as_decimal();
        Some(Money::from_decimal(left.max(rust_decimal::Decimal::ZERO)).unwrap_or(Money::ZERO))
    }

    fn decide_revoke_voucher(
        &self,
        voucher_id: VoucherId,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let voucher = self.known_voucher(voucher_id)?;
        match voucher.status {
            VoucherStatus::Revoked => Ok((Vec::new(), Target::Voucher(voucher_id))),
            VoucherStatus::Expired => Err(not_active(voucher)),
            VoucherStatus::Active => Ok((
                vec![Event::VoucherRevoked {
                    voucher_id,
                    reason: reason.clone(),
                    at: clock.now,
                }],
                Target::Voucher(voucher_id),
            )),
        }
    }

    pub(super) fn known_voucher(&self, voucher_id: VoucherId) -> Result<&Voucher, LedgerError> {
        self.vouchers
            .get(&voucher_id)
            .ok_or_else(|| LedgerError::not_found("voucher_id", format!("no voucher {voucher_id}")))
    }
}

fn require_check_digit_or_override(
    code: &CreditCode,
    override_reason: &Option<Reason>,
    field: &'static str,
) -> Result<(), LedgerError> {
    match (code.require_valid_check_digit(), override_reason) {
        (Ok(()), _) | (Err(_), Some(_)) => Ok(()),
        (Err(check_digit_error), None) => Err(check_digit_error.in_field(field)),
    }
}

/// A voucher takes claims while it is active and `redeem_by` has not passed (the expiry sweep
/// may not have run yet).
pub(super) fn check_active(voucher: &Voucher, today: NaiveDate) -> Result<(), LedgerError> {
    if !voucher.is_active() || today > voucher.redeem_by {
        return Err(not_active(voucher));
    }
    Ok(())
}

pub(super) fn not_active(voucher: &Voucher) -> LedgerError {
    let why = match voucher.status {
        VoucherStatus::Revoked => "was revoked".to_owned(),
        VoucherStatus::Expired => format!("expired after {}", voucher.redeem_by),
        VoucherStatus::Active => format!("could be redeemed only until {}", voucher.redeem_by),
    };
    LedgerError::refused(
        ReasonCode::VoucherNotActive,
        format!("voucher {} {why}", voucher.voucher_id),
    )
}

pub(super) fn outside_term(field: &str, date: NaiveDate, term: DateRange) -> LedgerError {
    LedgerError::refused(
        ReasonCode::OutsidePolicyTerm,
        format!(
            "{field} {date} is outside the policy term {} to {}",
            term.first, term.last
        ),
    )
}
