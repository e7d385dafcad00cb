//! The bodies of the enterprise's calls that do more than parse and submit: listing
//! applications, gathering a notice's claims, answering a notice with its lines.

use tonic::Status;

use super::LedgerService;
use crate::api::requests::PageQuery;
use crate::api::status::to_status;
use crate::api::{convert, enterprise};
use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::ids::{ApplicationId, NoticeId};
use crate::domain::model::{Actor, PublicNotice, VoucherApplication};
use crate::proto::voucher::v1 as pb;

impl LedgerService {
    pub(super) async fn application_answer(
        &self,
        command: Result<Command, LedgerError>,
    ) -> Result<pb::VoucherApplication, Status> {
        let application: VoucherApplication = self.execute(command).await?;
        Ok(enterprise::to_application(&application))
    }

    pub(super) async fn list_applications_call(
        &self,
        actor: Actor,
        body: pb::ListApplicationsRequest,
    ) -> Result<pb::ListApplicationsResponse, Status> {
        let query = PageQuery {
            filter: (
                convert::optional_credit_code(
                    "enterprise_credit_code",
                    &body.enterprise_credit_code,
                )?,
                enterprise::optional_application_status(body.status)?,
            ),
            limit: convert::page_size(body.page_size)?,
            after: convert::page_token(&body.page_token, ApplicationId::parse)?,
        };
        let (named, status) = query.filter;
        let page = self
            .engine
            .reader()
            .list_applications(named, status, actor, query.after, query.limit)
            .map_err(to_status)?;
        Ok(pb::ListApplicationsResponse {
            applications: page
                .items
                .iter()
                .filter(|application| super::scope::in_scope(application.program))
                .map(enterprise::to_application)
                .collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        })
    }

    /// Gathers the period's approved claims unless the bureau named them, then publishes.
    pub(super) async fn publish_notice_call(
        &self,
        body: pb::PublishNoticeRequest,
    ) -> Result<pb::PublicNotice, Status> {
        let query = enterprise::publish_notice(&body)?;
        let claims = if query.redemption_ids.is_empty() {
            self.engine
                .reader()
                .approved_claims(query.program, query.approved_in)
                .map_err(to_status)?
        } else {
            query.redemption_ids.clone()
        };
        let notice: PublicNotice = self.execute(Ok(query.into_command(claims))).await?;
        self.notice_answer(&notice.notice_id)
    }

    pub(super) fn notice_answer(&self, notice_id: &NoticeId) -> Result<pb::PublicNotice, Status> {
        let reader = self.engine.reader();
        let notice = reader.notice(notice_id).map_err(to_status)?;
        let lines = reader.notice_lines(&notice).map_err(to_status)?;
        Ok(enterprise::to_notice(&notice, &lines))
    }

    pub(super) async fn list_notices_call(
        &self,
        body: pb::ListNoticesRequest,
    ) -> Result<pb::ListNoticesResponse, Status> {
        let limit = convert::page_size(body.page_size)?;
        let after = convert::page_token(&body.page_token, NoticeId::parse)?;
        let page = self
            .engine
            .reader()
            .list_notices(after, limit)
            .map_err(to_status)?;
        Ok(pb::ListNoticesResponse {
            notices: page
                .items
                .iter()
                .map(|notice| enterprise::to_notice(notice, &[]))
                .collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        })
    }
}
