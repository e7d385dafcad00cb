//! The enterprise's part (see DESIGN.md, "The enterprise"): its applications (申领) and the
//! vouchers issued on them, the providers a voucher is bound to, its confirmation (企业确认) or
//! dispute of a claim made in its name, the bureau's return of a claim for correction
//! (退回补正), and the public notice (公示) of approved claims. Deciding and applying both live
//! here; a claim's own checks are in `redeem.rs`.

use std::collections::BTreeSet;

use super::decide::Decision;
use super::settle::{no_redemption, not_open};
use super::{Ledger, Target, unknown_credit_code};
use crate::domain::command::{ApplicationRequest, NoticeRequest};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::Clock;
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, VoucherId};
use crate::domain::model::{
    ApplicationStatus, IssueVoucherRequest, PublicNotice, Redemption, RedemptionStatus, Timestamp,
    VoucherApplication,
};
use crate::domain::money::{Money, Total};
use crate::domain::policy::{EnterpriseConfirmation, ProgramCode};
use crate::domain::reason::ReasonCode;
use crate::domain::text::{Reason, RequestId};

/// The most providers one voucher or application names.
pub const BOUND_PROVIDERS_MAX: usize = 16;

/// The most claims one public notice lists.
pub const NOTICE_LINES_MAX: usize = 2000;

impl Ledger {
    pub(super) fn decide_apply(&self, request: &ApplicationRequest, clock: Clock) -> Decision {
        if let Some(existing) = self.application_by_request.get(&request.request_id) {
            return self.replay_application(*existing, request);
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
        if request.amount > rules.cap {
            return Err(LedgerError::refused(
                ReasonCode::CapExceeded,
                format!(
                    "{} yuan is more than the program's cap of {} yuan for one enterprise",
                    request.amount, rules.cap
                ),
            ));
        }
        self.check_bound_providers(request.program, &request.provider_credit_codes)?;
        let contract = (request.program, request.contract_number.to_string());
        if let Some(live) = self.live_application_by_contract.get(&contract) {
            let which = self
                .applications
                .get(live)
                .filter(|application| application.enterprise_credit_code == code)
                .map_or(String::new(), |_| format!(" ({live})"));
            return Err(LedgerError::already_exists(
                ReasonCode::ContractAlreadyApplied,
                format!(
                    "contract {} already has a live application under {}{which}: one application per contract",
                    request.contract_number, request.program
                ),
            ));
        }
        let application = VoucherApplication {
            application_id: self
                .last_application_id
                .map_or(ApplicationId::FIRST, ApplicationId::next),
            request_id: request.request_id.clone(),
            enterprise_credit_code: code,
            program: request.program,
            amount: request.amount,
            provider_credit_codes: request.provider_credit_codes.clone(),
            contract_number: request.contract_number.clone(),
            contract_sha256: request.contract_sha256.clone(),
            purpose: request.purpose.clone(),
            other_subsidies: request.other_subsidies.clone(),
            status: ApplicationStatus::Pending,
            applied_at: clock.now,
            decided_at: None,
            voucher_id: None,
            rejection_reason: None,
            applied_by: Default::default(),
            decided_by: None,
        };
        let target = Target::Application(application.application_id);
        Ok((vec![Event::VoucherApplied { application }], target))
    }

    fn replay_application(
        &self,
        existing: ApplicationId,
        request: &ApplicationRequest,
    ) -> Decision {
        let application = self
            .applications
            .get(&existing)
            .expect("request index points at an application");
        let same = application.enterprise_credit_code == request.enterprise_credit_code
            && application.program == request.program
            && application.amount == request.amount
            && application.provider_credit_codes == request.provider_credit_codes
            && application.contract_number == request.contract_number
            && application.contract_sha256 == request.contract_sha256
            && application.purpose == request.purpose
            && application.other_subsidies == request.other_subsidies;
        if same {
            return Ok((Vec::new(), Target::Application(existing)));
        }
        Err(LedgerError::already_exists(
            ReasonCode::RequestIdReused,
            format!(
                "request_id {} was used for another application",
                request.request_id
            ),
        ))
    }

    /// Every provider named is registered for the program; at most [`BOUND_PROVIDERS_MAX`].
    pub(super) fn check_bound_providers(
        &self,
        program: ProgramCode,
        providers: &BTreeSet<CreditCode>,
    ) -> Result<(), LedgerError> {
        assert!(
            providers.len() <= BOUND_PROVIDERS_MAX,
            "checked at the boundary"
        );
        for code in providers {
            let provider = self
                .providers
                .get(code)
                .ok_or_else(|| unknown_credit_code(code, "provider_credit_codes", "provider"))?;
            if provider.program != program {
                return Err(LedgerError::refused(
                    ReasonCode::ProgramMismatch,
                    format!(
                        "provider {code} is registered for {}, not {program}",
                        provider.program
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Issues the application's voucher, bound to its providers, at `face_value` or the amount
    /// applied for. Approving an approved application answers with it again.
    pub(super) fn decide_approve_application(
        &self,
        application_id: ApplicationId,
        face_value: Option<Money>,
        clock: Clock,
    ) -> Decision {
        let application = self.known_application(application_id)?;
        match application.status {
            ApplicationStatus::Approved => {
                return Ok((Vec::new(), Target::Application(application_id)));
            }
            ApplicationStatus::Rejected => return Err(not_pending(application)),
            ApplicationStatus::Pending => {}
        }
        let face_value = face_value.unwrap_or(application.amount);
        if face_value > application.amount {
            return Err(LedgerError::refused(
                ReasonCode::AboveAppliedAmount,
                format!(
                    "face value {face_value} is more than the {} yuan applied for",
                    application.amount
                ),
            ));
        }
        self.check_bound_providers(application.program, &application.provider_credit_codes)?;
        let request = IssueVoucherRequest {
            request_id: application_request_id(application_id),
            enterprise_credit_code: application.enterprise_credit_code,
            program: application.program,
            face_value: Some(face_value),
            valid_from: None,
            valid_until: None,
            provider_credit_codes: application.provider_credit_codes.clone(),
        };
        let (mut events, _) = self.decide_issue_voucher(&request, clock)?;
        let Some(Event::VoucherIssued { voucher }) = events.first_mut() else {
            unreachable!("issuing a new voucher records it");
        };
        voucher.application_id = Some(application_id);
        let voucher_id = voucher.voucher_id;
        events.push(Event::ApplicationApproved {
            application_id,
            voucher_id,
            at: clock.now,
        });
        Ok((events, Target::Application(application_id)))
    }

    pub(super) fn decide_reject_application(
        &self,
        application_id: ApplicationId,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let application = self.known_application(application_id)?;
        match application.status {
            ApplicationStatus::Rejected => Ok((Vec::new(), Target::Application(application_id))),
            ApplicationStatus::Approved => Err(not_pending(application)),
            ApplicationStatus::Pending => Ok((
                vec![Event::ApplicationRejected {
                    application_id,
                    reason: reason.clone(),
                    at: clock.now,
                }],
                Target::Application(application_id),
            )),
        }
    }

    fn known_application(
        &self,
        application_id: ApplicationId,
    ) -> Result<&VoucherApplication, LedgerError> {
        self.applications.get(&application_id).ok_or_else(|| {
            LedgerError::not_found("application_id", format!("no application {application_id}"))
        })
    }

    pub(super) fn decide_change_providers(
        &self,
        voucher_id: VoucherId,
        providers: &BTreeSet<CreditCode>,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let voucher = self.known_voucher(voucher_id)?;
        if voucher.provider_credit_codes == *providers {
            return Ok((Vec::new(), Target::Voucher(voucher_id)));
        }
        self.check_bound_providers(voucher.program, providers)?;
        Ok((
            vec![Event::VoucherProvidersChanged {
                voucher_id,
                provider_credit_codes: providers.clone(),
                reason: reason.clone(),
                at: clock.now,
            }],
            Target::Voucher(voucher_id),
        ))
    }

    /// A claim made in `enterprise`'s name; another's answers as one that does not exist.
    fn claim_of(
        &self,
        redemption_id: RedemptionId,
        enterprise: CreditCode,
    ) -> Result<&Redemption, LedgerError> {
        self.redemptions
            .get(&redemption_id)
            .filter(|redemption| redemption.enterprise_credit_code == enterprise)
            .ok_or_else(|| no_redemption(redemption_id))
    }

    /// Confirming a claim again changes nothing; a closed claim cannot be confirmed.
    pub(super) fn decide_confirm(
        &self,
        redemption_id: RedemptionId,
        enterprise: CreditCode,
        clock: Clock,
    ) -> Decision {
        let redemption = self.claim_of(redemption_id, enterprise)?;
        let target = Target::Redemption(redemption_id);
        if redemption.confirmed_at.is_some() {
            return Ok((Vec::new(), target));
        }
        match redemption.status {
            RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled => {
                Ok((
                    vec![Event::RedemptionConfirmed {
                        redemption_id,
                        at: clock.now,
                    }],
                    target,
                ))
            }
            _ => Err(not_open(redemption, "confirmed")),
        }
    }

    /// The enterprise may dispute a claim until it is settled, and not once it confirmed it.
    pub(super) fn decide_dispute(
        &self,
        redemption_id: RedemptionId,
        enterprise: CreditCode,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let redemption = self.claim_of(redemption_id, enterprise)?;
        let target = Target::Redemption(redemption_id);
        match redemption.status {
            RedemptionStatus::Disputed => Ok((Vec::new(), target)),
            RedemptionStatus::Accepted | RedemptionStatus::Approved
                if redemption.confirmed_at.is_none() =>
            {
                Ok((
                    vec![Event::RedemptionDisputed {
                        redemption_id,
                        reason: reason.clone(),
                        at: clock.now,
                    }],
                    target,
                ))
            }
            _ if redemption.confirmed_at.is_some() => Err(LedgerError::refused(
                ReasonCode::RedemptionNotOpen,
                format!("{redemption_id} was confirmed by its enterprise and cannot be disputed"),
            )),
            _ => Err(not_open(redemption, "disputed")),
        }
    }

    /// The bureau returns an unsettled claim for correction; a returned claim stays returned.
    pub(super) fn decide_return(
        &self,
        redemption_id: RedemptionId,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let redemption = self.known_redemption(redemption_id)?;
        let target = Target::Redemption(redemption_id);
        match redemption.status {
            RedemptionStatus::Returned => Ok((Vec::new(), target)),
            RedemptionStatus::Accepted | RedemptionStatus::Approved => Ok((
                vec![Event::RedemptionReturned {
                    redemption_id,
                    reason: reason.clone(),
                    at: clock.now,
                }],
                target,
            )),
            _ => Err(not_open(redemption, "returned")),
        }
    }

    /// Whether the bureau must wait for the enterprise before approving `redemption`.
    pub(super) fn check_confirmed(&self, redemption: &Redemption) -> Result<(), LedgerError> {
        let rules = self.policy.program(redemption.program)?;
        if rules.enterprise_confirmation == EnterpriseConfirmation::Required
            && redemption.confirmed_at.is_none()
        {
            return Err(LedgerError::refused(
                ReasonCode::ConfirmationRequired,
                format!(
                    "{} waits for its enterprise to confirm it before it can be approved",
                    redemption.redemption_id
                ),
            ));
        }
        Ok(())
    }

    /// A notice lists approved (or since settled) claims of its program, each once.
    pub(super) fn decide_notice(&self, request: &NoticeRequest, clock: Clock) -> Decision {
        assert!(
            request.redemption_ids.len() <= NOTICE_LINES_MAX,
            "checked at the boundary"
        );
        let mut total = Total::ZERO;
        let mut listed = BTreeSet::new();
        for redemption_id in &request.redemption_ids {
            let redemption = self.known_redemption(*redemption_id)?;
            let approved = matches!(
                redemption.status,
                RedemptionStatus::Approved | RedemptionStatus::Settled
            );
            if !approved || redemption.program != request.program {
                return Err(not_open(redemption, "published in this notice"));
            }
            if listed.insert(*redemption_id) {
                total = total.plus(redemption.subsidy);
            }
        }
        if listed.is_empty() {
            return Err(LedgerError::InvalidArgument {
                field: "redemption_ids",
                reason: ReasonCode::Required,
                message: "a notice lists at least one approved claim".to_owned(),
            });
        }
        let notice = PublicNotice {
            notice_id: self.last_notice_id.map_or(NoticeId::FIRST, NoticeId::next),
            program: request.program,
            approved_in: request.approved_in,
            posted: request.posted,
            redemption_ids: listed.into_iter().collect(),
            total,
            published_at: clock.now,
        };
        let target = Target::Notice(notice.notice_id);
        Ok((vec![Event::NoticePublished { notice }], target))
    }

    pub(super) fn apply_enterprise_event(&mut self, event: &Event) {
        match event {
            Event::VoucherApplied { application } => self.apply_applied(application),
            Event::ApplicationApproved {
                application_id,
                voucher_id,
                at,
            } => self.apply_application_approved(*application_id, *voucher_id, *at),
            Event::ApplicationRejected {
                application_id,
                reason,
                at,
            } => {
                let application = self.pending_application(*application_id);
                application.status = ApplicationStatus::Rejected;
                application.rejection_reason = Some(reason.clone());
                application.decided_at = Some(*at);
                let contract = (application.program, application.contract_number.to_string());
                let freed = self.live_application_by_contract.remove(&contract);
                assert_eq!(
                    freed,
                    Some(*application_id),
                    "a pending application holds its contract"
                );
            }
            Event::VoucherProvidersChanged {
                voucher_id,
                provider_credit_codes,
                ..
            } => {
                let voucher = self
                    .vouchers
                    .get_mut(voucher_id)
                    .expect("a rebound voucher exists");
                voucher.provider_credit_codes = provider_credit_codes.clone();
            }
            Event::RedemptionConfirmed { redemption_id, at } => {
                let redemption = self
                    .redemptions
                    .get_mut(redemption_id)
                    .expect("a confirmed claim exists");
                assert!(
                    redemption.confirmed_at.is_none(),
                    "{redemption_id} confirmed twice"
                );
                redemption.confirmed_at = Some(*at);
            }
            Event::RedemptionDisputed {
                redemption_id,
                reason,
                at,
            } => self.close_claim(*redemption_id, RedemptionStatus::Disputed, reason, *at),
            Event::RedemptionReturned {
                redemption_id,
                reason,
                at,
            } => self.close_claim(*redemption_id, RedemptionStatus::Returned, reason, *at),
            Event::NoticePublished { notice } => {
                let expected = self.last_notice_id.map_or(NoticeId::FIRST, NoticeId::next);
                assert_eq!(notice.notice_id, expected, "notice ids are sequential");
                self.last_notice_id = Some(notice.notice_id);
                self.notices.insert(notice.notice_id, notice.clone());
            }
            _ => unreachable!("{} is not an enterprise event", event.name()),
        }
    }

    fn apply_applied(&mut self, application: &VoucherApplication) {
        let expected = self
            .last_application_id
            .map_or(ApplicationId::FIRST, ApplicationId::next);
        assert_eq!(
            application.application_id, expected,
            "application ids are sequential"
        );
        assert_eq!(application.status, ApplicationStatus::Pending);
        self.last_application_id = Some(application.application_id);
        self.index_application(application);
        self.applications
            .insert(application.application_id, application.clone());
    }

    /// Indexes an application by its request id and, while live, by its contract.
    pub(super) fn index_application(&mut self, application: &VoucherApplication) {
        self.application_by_request
            .insert(application.request_id.clone(), application.application_id);
        if application.is_live() {
            let contract = (application.program, application.contract_number.to_string());
            let held = self
                .live_application_by_contract
                .insert(contract, application.application_id);
            assert!(held.is_none(), "a contract has one live application");
        }
    }

    fn apply_application_approved(
        &mut self,
        application_id: ApplicationId,
        voucher_id: VoucherId,
        at: Timestamp,
    ) {
        let voucher = self
            .vouchers
            .get(&voucher_id)
            .expect("its voucher was issued first");
        assert_eq!(voucher.application_id, Some(application_id));
        let holder = voucher.enterprise_credit_code;
        let application = self.pending_application(application_id);
        assert_eq!(application.enterprise_credit_code, holder);
        application.status = ApplicationStatus::Approved;
        application.voucher_id = Some(voucher_id);
        application.decided_at = Some(at);
    }

    fn pending_application(&mut self, application_id: ApplicationId) -> &mut VoucherApplication {
        let application = self
            .applications
            .get_mut(&application_id)
            .expect("a decided application exists");
        assert_eq!(
            application.status,
            ApplicationStatus::Pending,
            "{application_id} decided twice"
        );
        application
    }

    /// Closes an open claim as disputed or returned and gives its subsidy back.
    fn close_claim(
        &mut self,
        redemption_id: RedemptionId,
        status: RedemptionStatus,
        reason: &Reason,
        at: Timestamp,
    ) {
        let redemption = self
            .redemptions
            .get_mut(&redemption_id)
            .expect("a closed claim exists");
        let was = redemption.status;
        assert!(
            matches!(was, RedemptionStatus::Accepted | RedemptionStatus::Approved),
            "{redemption_id} closed when {was:?}"
        );
        redemption.status = status;
        redemption.closing_reason = Some(reason.clone());
        redemption.closed_at = Some(at);
        let (provider, program) = (redemption.provider_credit_code, redemption.program);
        if was == RedemptionStatus::Approved {
            self.forget_settleable(provider, program, redemption_id);
        }
        self.release_rejected(redemption_id);
    }
}

/// The request id a voucher issued on an application carries. A client could send the same
/// text to `IssueVoucher`; the request index then refuses whichever comes second, so one
/// application never becomes two vouchers.
pub fn application_request_id(application_id: ApplicationId) -> RequestId {
    RequestId::from_stored(format!("application-{application_id}"))
}

fn not_pending(application: &VoucherApplication) -> LedgerError {
    LedgerError::refused(
        ReasonCode::ApplicationNotPending,
        format!(
            "{} is {} and cannot be decided again",
            application.application_id,
            format!("{:?}", application.status).to_lowercase()
        ),
    )
}
