//! The bodies of the list calls: each pins its filter to what the caller may read (an
//! enterprise its own, a scoped bureau token its programs) and reads one page.

use tonic::Status;

use super::LedgerService;
use super::scope::{in_scope, scoped_filter};
use crate::api::status::to_status;
use crate::api::{convert, requests};
use crate::domain::model::Actor;
use crate::proto::voucher::v1 as pb;

impl LedgerService {
    pub(super) async fn list_vouchers_call(
        &self,
        actor: Actor,
        body: pb::ListVouchersRequest,
    ) -> Result<pb::ListVouchersResponse, Status> {
        let mut query = requests::list_vouchers(&body)?;
        if let Actor::Enterprise(own) = actor {
            let named = query.filter.enterprise_credit_code.unwrap_or(own);
            self.engine
                .reader()
                .check_own_enterprise(&named, actor)
                .map_err(to_status)?;
            query.filter.enterprise_credit_code = Some(own);
        }
        query.filter.program = scoped_filter(query.filter.program)?;
        let page = self
            .engine
            .reader()
            .list_vouchers(query.filter, query.after, query.limit)
            .map_err(to_status)?;
        Ok(pb::ListVouchersResponse {
            vouchers: page
                .items
                .iter()
                .filter(|voucher| in_scope(voucher.program))
                .map(convert::to_voucher)
                .collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        })
    }

    pub(super) async fn list_redemptions_call(
        &self,
        actor: Actor,
        body: pb::ListRedemptionsRequest,
    ) -> Result<pb::ListRedemptionsResponse, Status> {
        let mut query = requests::list_redemptions(&body)?;
        query.filter.program = scoped_filter(query.filter.program)?;
        let page = self
            .engine
            .reader()
            .list_redemptions(query.filter, actor, query.after, query.limit)
            .map_err(to_status)?;
        Ok(pb::ListRedemptionsResponse {
            redemptions: page
                .items
                .iter()
                .filter(|claim| in_scope(claim.program))
                .map(convert::to_redemption)
                .collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        })
    }

    pub(super) async fn list_settlements_call(
        &self,
        actor: Actor,
        body: pb::ListSettlementsRequest,
    ) -> Result<pb::ListSettlementsResponse, Status> {
        let mut query = requests::list_settlements(&body)?;
        query.filter.program = scoped_filter(query.filter.program)?;
        let page = self
            .engine
            .reader()
            .list_settlements(query.filter, actor, query.after, query.limit)
            .map_err(to_status)?;
        Ok(pb::ListSettlementsResponse {
            settlements: page
                .items
                .iter()
                .filter(|(settlement, _)| in_scope(settlement.program))
                .map(|(settlement, name)| convert::to_settlement(settlement, name, &[]))
                .collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        })
    }
}
