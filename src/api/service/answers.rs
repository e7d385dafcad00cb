//! The records a command's answer carries back, read after it is durable.

use tonic::Status;

use super::LedgerService;
use crate::api::convert;
use crate::api::status::to_status;
use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::ids::SettlementId;
use crate::domain::model::{Actor, Provider, Redemption, Settlement};
use crate::proto::voucher::v1 as pb;

impl LedgerService {
    /// A statement with its lines, as `actor` may see it.
    pub(super) fn settlement_answer(
        &self,
        settlement_id: &SettlementId,
        actor: Actor,
    ) -> Result<pb::Settlement, Status> {
        let (settlement, lines, name) = self
            .engine
            .reader()
            .settlement(settlement_id, actor)
            .map_err(to_status)?;
        super::check_program(settlement.program)?;
        Ok(convert::to_settlement(&settlement, &name, &lines))
    }

    /// Submits a bureau command about a statement; answers the statement with its lines.
    pub(super) async fn settle(
        &self,
        command: Result<Command, LedgerError>,
    ) -> Result<pb::Settlement, Status> {
        let settlement: Settlement = self.execute(command).await?;
        self.settlement_answer(&settlement.settlement_id, Actor::Bureau)
    }

    pub(super) async fn provider_answer(
        &self,
        command: Result<Command, LedgerError>,
    ) -> Result<pb::Provider, Status> {
        let provider: Provider = self.execute(command).await?;
        Ok(convert::to_provider(&provider))
    }

    pub(super) async fn redemption_answer(
        &self,
        command: Result<Command, LedgerError>,
    ) -> Result<pb::Redemption, Status> {
        let redemption: Redemption = self.execute(command).await?;
        Ok(convert::to_redemption(&redemption))
    }
}
