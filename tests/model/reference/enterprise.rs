//! The model's answers to the enterprise's part (issue 14): an enterprise applying for a
//! voucher (申领) and the bureau approving (issuing it) or rejecting the application, an
//! enterprise confirming (企业确认) or disputing (企业异议) a claim made in its name, the bureau
//! returning a claim for correction (退回补正) and changing the providers a voucher is bound
//! to. A corrected claim is a redemption (`commands.rs`).

use voucher_ledger::domain::model::{ApplicationStatus, RedemptionStatus};
use voucher_ledger::domain::policy::ProgramCode;

use super::commands::check_providers;
use super::{Deed, Model, ModelApplication};
use crate::answers::{Answer, refused};
use crate::callers::Who;
use crate::ops::{ApplicationPayload, IssuePayload};
use crate::rules::{ENTERPRISES, cap_of};
use crate::values::{Fen, application_id_text};

impl Model {
    /// The index of claim `number` if it was made in `enterprise`'s name: to another enterprise
    /// a claim not its own does not exist (NOT_FOUND, as an unknown one).
    fn claim_of(&self, number: u64, enterprise: &str) -> Option<usize> {
        self.redemption_index(number)
            .filter(|index| self.redemptions[*index].payload.buyer == enterprise)
    }

    /// Confirming: once confirmed, confirming again answers the claim whatever became of it
    /// since; an accepted, approved or settled claim is confirmed; a closed one is not open.
    pub fn confirm(&mut self, number: u64, enterprise: &str, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(self.claim_program(number))) {
            return refusal;
        }
        let Some(index) = self.claim_of(number, enterprise) else {
            return refused("NOT_FOUND");
        };
        let redemption = &mut self.redemptions[index];
        if !redemption.confirmed {
            match redemption.status {
                RedemptionStatus::Accepted
                | RedemptionStatus::Approved
                | RedemptionStatus::Settled => {
                    redemption.confirmed = true;
                    redemption.steps.confirmed_by = Some(by);
                }
                RedemptionStatus::Rejected
                | RedemptionStatus::Reversed
                | RedemptionStatus::Disputed
                | RedemptionStatus::Returned => return refused("REDEMPTION_NOT_OPEN"),
            }
        }
        Answer::Redemption(redemption.view())
    }

    /// Disputing: a disputed claim answers itself again; an accepted or approved one the
    /// enterprise has not confirmed is closed as disputed, its subsidy released as by a
    /// rejection (an approved one leaves the settlement queue); any other is not open.
    pub fn dispute(&mut self, number: u64, enterprise: &str, why: &'static str, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(self.claim_program(number))) {
            return refusal;
        }
        let Some(index) = self.claim_of(number, enterprise) else {
            return refused("NOT_FOUND");
        };
        let redemption = &self.redemptions[index];
        match redemption.status {
            RedemptionStatus::Disputed => {}
            RedemptionStatus::Accepted | RedemptionStatus::Approved if !redemption.confirmed => {
                self.close(index, RedemptionStatus::Disputed, why, by);
            }
            _ => return refused("REDEMPTION_NOT_OPEN"),
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    /// Returning (the bureau): a returned claim answers itself again; an accepted or approved
    /// one (confirmed or not) is closed as returned, its subsidy released as by a rejection,
    /// and its invoice may be claimed once more by its provider for its enterprise; any other
    /// is not open.
    pub fn return_claim(&mut self, number: u64, why: &'static str, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(self.claim_program(number))) {
            return refusal;
        }
        let Some(index) = self.redemption_index(number) else {
            return refused("NOT_FOUND");
        };
        match self.redemptions[index].status {
            RedemptionStatus::Returned => {}
            RedemptionStatus::Accepted | RedemptionStatus::Approved => {
                self.close(index, RedemptionStatus::Returned, why, by);
            }
            _ => return refused("REDEMPTION_NOT_OPEN"),
        }
        Answer::Redemption(self.redemptions[index].view())
    }

    fn close(&mut self, index: usize, status: RedemptionStatus, why: &'static str, by: Who) {
        let redemption = &mut self.redemptions[index];
        redemption.status = status;
        redemption.steps.closed_by = Some(by);
        redemption.closing_reason = Some(why);
        self.release(index);
    }

    /// Changing a voucher's providers: an unknown voucher is NOT_FOUND; the set it has
    /// answers it unchanged; otherwise each must be a provider of its program. A closed
    /// voucher's may be changed too.
    pub fn change_providers(&mut self, number: u64, providers: &[&'static str], by: Who) -> Answer {
        let program = self.voucher(number).map(|voucher| voucher.program);
        if let Some(refusal) = self.check_duties(by, Deed::In(program)) {
            return refusal;
        }
        let Some(voucher) = self.voucher_mut(number) else {
            return refused("NOT_FOUND");
        };
        if voucher.providers != providers {
            if let Err(reason) = check_providers(voucher.program, providers) {
                return refused(reason);
            }
            voucher.providers = providers.to_vec();
        }
        Answer::Voucher(voucher.view())
    }
}

impl Model {
    fn application_index(&self, number: u64) -> Option<usize> {
        usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|index| *index < self.applications.len())
    }

    fn application_program(&self, number: u64) -> Option<ProgramCode> {
        self.application_index(number)
            .map(|index| self.applications[index].payload.program)
    }

    /// Applying: a request id seen before answers its application as it stands if the request
    /// is the same, else REQUEST_ID_REUSED; then the enterprise must be registered
    /// (NOT_FOUND), the amount within the program's cap (CAP_EXCEEDED, saying nothing of what
    /// is left), the providers of the program, and the contract held by no live application
    /// of the program, whoever's (CONTRACT_ALREADY_APPLIED).
    pub fn apply(&mut self, payload: &ApplicationPayload, by: Who) -> Answer {
        if let Some(refusal) = self.check_duties(by, Deed::In(Some(payload.program))) {
            return refusal;
        }
        if let Some(existing) = self
            .applications
            .iter()
            .find(|application| application.payload.request_id == payload.request_id)
        {
            if existing.payload == *payload {
                return Answer::Application(existing.view());
            }
            return refused("REQUEST_ID_REUSED");
        }
        if !ENTERPRISES.contains(&payload.enterprise) {
            return refused("NOT_FOUND");
        }
        if Fen::parse(payload.amount) > cap_of(payload.program) {
            return refused("CAP_EXCEEDED");
        }
        if let Err(reason) = check_providers(payload.program, &payload.providers) {
            return refused(reason);
        }
        let held = self.applications.iter().any(|application| {
            application.is_live()
                && application.payload.program == payload.program
                && application.payload.contract == payload.contract
        });
        if held {
            return refused("CONTRACT_ALREADY_APPLIED");
        }
        let number = Model::next_number(self.applications.len());
        self.applications.push(ModelApplication {
            number,
            payload: payload.clone(),
            status: ApplicationStatus::Pending,
            voucher: None,
            rejection_reason: None,
            applied_by: by,
            decided_by: None,
        });
        Answer::Application(self.applications.last().expect("just pushed").view())
    }

    /// Approving: an unknown application is NOT_FOUND; an approved one answers itself again
    /// (whatever face value is sent); a rejected one is APPLICATION_NOT_PENDING; the face
    /// value (default: the amount applied for) may not pass the amount
    /// (ABOVE_APPLIED_AMOUNT); then the voucher is issued as IssueVoucher issues one for the
    /// whole cap period holding today, bound to the application's providers, with its
    /// refusals; a refused approval leaves the application pending.
    pub fn approve_application(
        &mut self,
        number: u64,
        face_value: Option<&'static str>,
        by: Who,
    ) -> Answer {
        let program = self.application_program(number);
        if let Some(refusal) = self.check_duties(by, Deed::In(program)) {
            return refusal;
        }
        let Some(index) = self.application_index(number) else {
            return refused("NOT_FOUND");
        };
        let application = &self.applications[index];
        match application.status {
            ApplicationStatus::Approved => return Answer::Application(application.view()),
            ApplicationStatus::Rejected => return refused("APPLICATION_NOT_PENDING"),
            ApplicationStatus::Pending => {}
        }
        let payload = &application.payload;
        let face_value = face_value.unwrap_or(payload.amount);
        if Fen::parse(face_value) > Fen::parse(payload.amount) {
            return refused("ABOVE_APPLIED_AMOUNT");
        }
        if let Err(reason) = check_providers(payload.program, &payload.providers) {
            return refused(reason);
        }
        let issue = IssuePayload {
            request_id: format!("application-{}", application_id_text(number)),
            enterprise: ENTERPRISES
                .iter()
                .position(|code| *code == payload.enterprise)
                .expect("checked when it applied"),
            program: payload.program,
            face_value: Some(face_value),
            valid_from: None,
            valid_until: None,
            providers: payload.providers.clone(),
        };
        let answer = self.issue_voucher(&issue, by);
        if !matches!(answer, Answer::Voucher(_)) {
            return answer;
        }
        let voucher = self.vouchers.last_mut().expect("just issued");
        voucher.application = Some(number);
        let voucher_number = voucher.number;
        let application = &mut self.applications[index];
        application.status = ApplicationStatus::Approved;
        application.voucher = Some(voucher_number);
        application.decided_by = Some(by);
        Answer::Application(application.view())
    }

    /// Rejecting: an unknown application is NOT_FOUND; a rejected one answers itself again
    /// (with its first reason); an approved one is APPLICATION_NOT_PENDING; a pending one is
    /// rejected, and its contract may be applied for again.
    pub fn reject_application(&mut self, number: u64, why: &'static str, by: Who) -> Answer {
        let program = self.application_program(number);
        if let Some(refusal) = self.check_duties(by, Deed::In(program)) {
            return refusal;
        }
        let Some(index) = self.application_index(number) else {
            return refused("NOT_FOUND");
        };
        let application = &mut self.applications[index];
        match application.status {
            ApplicationStatus::Rejected => {}
            ApplicationStatus::Approved => return refused("APPLICATION_NOT_PENDING"),
            ApplicationStatus::Pending => {
                application.status = ApplicationStatus::Rejected;
                application.rejection_reason = Some(why);
                application.decided_by = Some(by);
            }
        }
        Answer::Application(application.view())
    }
}
