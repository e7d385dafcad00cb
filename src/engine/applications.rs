//! The enterprise's part on the read side: applications as each role may see them, the
//! approved claims a notice gathers, and notices with their lines.

use crate::domain::credit_code::CreditCode;
use crate::domain::dates::{DateRange, china_offset};
use crate::domain::error::LedgerError;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId};
use crate::domain::ledger::NOTICE_LINES_MAX;
use crate::domain::model::{
    Actor, ApplicationStatus, PublicNotice, Redemption, RedemptionStatus, VoucherApplication,
};
use crate::domain::policy::ProgramCode;
use crate::domain::reason::ReasonCode;
use crate::store::{Page, RedemptionFilter};

use super::EngineError;
use super::reader::{PAGE_SCAN_MAX, Reader};

/// The most claims examined to gather one notice; a period holding more is refused.
const NOTICE_SCAN_MAX: usize = 1_000_000;

impl Reader {
    /// One application; an enterprise sees only its own, others' look like they do not exist.
    pub fn application(
        &self,
        application_id: &ApplicationId,
        actor: Actor,
    ) -> Result<VoucherApplication, EngineError> {
        let not_found =
            || LedgerError::not_found("application_id", format!("no application {application_id}"));
        let application = self
            .store()
            .application(application_id)?
            .ok_or_else(not_found)?;
        match actor {
            Actor::Enterprise(own) if own != application.enterprise_credit_code => {
                Err(not_found().into())
            }
            _ => Ok(application),
        }
    }

    /// Applications in id order after `after`; an enterprise's filter is pinned to itself.
    pub fn list_applications(
        &self,
        enterprise: Option<CreditCode>,
        status: Option<ApplicationStatus>,
        actor: Actor,
        after: Option<ApplicationId>,
        limit: usize,
    ) -> Result<Page<VoucherApplication>, EngineError> {
        let enterprise = match actor {
            Actor::Enterprise(own) if enterprise.is_some_and(|code| code != own) => {
                return Err(LedgerError::permission_denied(
                    "an enterprise may list only its own applications",
                )
                .into());
            }
            Actor::Enterprise(own) => Some(own),
            _ => enterprise,
        };
        Ok(self.store().list_applications(
            enterprise,
            status,
            after,
            limit,
            PAGE_SCAN_MAX.max(limit),
        )?)
    }

    /// Every claim of `program` approved on a day of `approved_in` (China time) and not since
    /// taken back (approved or settled), in id order: what a notice of that period lists.
    pub fn approved_claims(
        &self,
        program: ProgramCode,
        approved_in: DateRange,
    ) -> Result<Vec<RedemptionId>, EngineError> {
        let filter = RedemptionFilter {
            program: Some(program),
            ..RedemptionFilter::default()
        };
        let mut gathered = Vec::new();
        let mut after = None;
        let mut examined = 0;
        loop {
            let page =
                self.store()
                    .list_redemptions(filter, after, PAGE_SCAN_MAX, PAGE_SCAN_MAX)?;
            examined += PAGE_SCAN_MAX;
            gathered.extend(
                page.items
                    .iter()
                    .filter(|claim| approved_within(claim, approved_in))
                    .map(|claim| claim.redemption_id),
            );
            if gathered.len() > NOTICE_LINES_MAX || examined >= NOTICE_SCAN_MAX {
                return Err(LedgerError::refused(
                    ReasonCode::TooMany,
                    format!(
                        "a notice lists at most {NOTICE_LINES_MAX} claims: publish a shorter period"
                    ),
                )
                .into());
            }
            let Some(next) = page.next_after else {
                return Ok(gathered);
            };
            after = Some(RedemptionId::parse(&next).map_err(|error| {
                crate::store::StoreError::Corrupt(format!("page token {next}: {}", error.message))
            })?);
        }
    }

    pub fn notice(&self, notice_id: &NoticeId) -> Result<PublicNotice, EngineError> {
        self.store().notice(notice_id)?.ok_or_else(|| {
            LedgerError::not_found("notice_id", format!("no notice {notice_id}")).into()
        })
    }

    /// A notice's claims, each with its enterprise's name.
    pub fn notice_lines(
        &self,
        notice: &PublicNotice,
    ) -> Result<Vec<(Redemption, String)>, EngineError> {
        let mut lines = Vec::with_capacity(notice.redemption_ids.len());
        for redemption_id in &notice.redemption_ids {
            let redemption = self.store().redemption(redemption_id)?.ok_or_else(|| {
                crate::store::StoreError::Corrupt(format!(
                    "{} lists a missing {redemption_id}",
                    notice.notice_id
                ))
            })?;
            let name = self
                .store()
                .enterprise(&redemption.enterprise_credit_code)?
                .map(|enterprise| enterprise.name.to_string())
                .unwrap_or_default();
            lines.push((redemption, name));
        }
        Ok(lines)
    }

    pub fn list_notices(
        &self,
        after: Option<NoticeId>,
        limit: usize,
    ) -> Result<Page<PublicNotice>, EngineError> {
        Ok(self.store().list_notices(after, limit)?)
    }
}

fn approved_within(claim: &Redemption, approved_in: DateRange) -> bool {
    let approved = matches!(
        claim.status,
        RedemptionStatus::Approved | RedemptionStatus::Settled
    );
    approved
        && claim
            .approved_at
            .is_some_and(|at| approved_in.contains(at.with_timezone(&china_offset()).date_naive()))
}
