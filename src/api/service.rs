//! The `VoucherLedger` service: each handler authenticates, checks the role, parses the
//! request into a command or a query, and hands it to the engine. No rule lives here.

use std::sync::Arc;

use crate::attempts::FailedAttempts;
use tonic::{Request, Response, Status};

use super::auth::{authorize, generate_secret};
use super::observe::Call;
use super::status::to_status;
use super::{audit, convert, requests};
use crate::domain::command::Command;
use crate::domain::ids::{RedemptionId, SettlementId, VoucherId};
use crate::domain::ledger::Outcome;
use crate::domain::model::{Actor, Role, SecretHash};
use crate::engine::Engine;
use crate::proto::voucher::v1 as pb;
use crate::proto::voucher::v1::voucher_ledger_server::VoucherLedger;

const BUREAU: &[Role] = &[Role::Bureau];
const BUREAU_AUDITOR: &[Role] = &[Role::Bureau, Role::Auditor];
const BUREAU_PROVIDER: &[Role] = &[Role::Bureau, Role::Provider];
const ANY_ROLE: &[Role] = &[Role::Bureau, Role::Auditor, Role::Provider];

pub struct LedgerService {
    engine: Engine,
    streams: audit::OpenStreams,
    /// Verifications waited for, by token: one each (they share runs, so one is enough).
    verifications: audit::OpenStreams,
    /// Failed authentications per caller address, shared with the console.
    attempts: Arc<FailedAttempts>,
}

impl LedgerService {
    pub fn new(engine: Engine, attempts: Arc<FailedAttempts>) -> LedgerService {
        LedgerService {
            engine,
            streams: audit::OpenStreams::default(),
            verifications: audit::OpenStreams::new(VERIFICATIONS_WAITING_MAX, 1, "verifications"),
            attempts,
        }
    }

    /// A place for a new event or backup stream of the caller (authorized on `call`).
    fn stream_place(&self, call: &Call) -> Result<audit::StreamPlace, Status> {
        self.streams.open(caller_key(call))
    }

    fn authorize<T>(
        &self,
        request: &Request<T>,
        call: &Call,
        allowed: &[Role],
    ) -> Result<Actor, Status> {
        authorize(self.engine.reader(), &self.attempts, request, allowed, call)
    }

    async fn submit(&self, command: Command) -> Result<Outcome, Status> {
        self.engine.submit(command).await.map_err(to_status)
    }
}

/// Who a per-caller bound counts against: the token, or a provider's certificate.
fn caller_key(call: &Call) -> String {
    call.token()
        .map_or_else(|| "certificate".to_owned(), |token| token.to_string())
}

/// Callers waiting for a verification at once, in the whole server (each token one).
const VERIFICATIONS_WAITING_MAX: usize = 64;

fn unexpected(outcome: Outcome) -> Status {
    tracing::error!(
        ?outcome,
        "the engine answered with another record than asked"
    );
    Status::internal("internal error")
}

#[tonic::async_trait]
impl VoucherLedger for LedgerService {
    async fn register_enterprise(
        &self,
        request: Request<pb::RegisterEnterpriseRequest>,
    ) -> Result<Response<pb::Enterprise>, Status> {
        let call = Call::start("RegisterEnterprise");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::register_enterprise(request.get_ref())?)
                .await?
            {
                Outcome::Enterprise(enterprise) => {
                    Ok(Response::new(convert::to_enterprise(&enterprise)))
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn get_enterprise(
        &self,
        request: Request<pb::GetEnterpriseRequest>,
    ) -> Result<Response<pb::Enterprise>, Status> {
        let call = Call::start("GetEnterprise");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let code = convert::credit_code("credit_code", &request.get_ref().credit_code)?;
            let enterprise = self.engine.reader().enterprise(&code).map_err(to_status)?;
            Ok(Response::new(convert::to_enterprise(&enterprise)))
        }
        .await;
        call.finish(result)
    }

    async fn register_provider(
        &self,
        request: Request<pb::RegisterProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let call = Call::start("RegisterProvider");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::register_provider(request.get_ref())?)
                .await?
            {
                Outcome::Provider(provider) => Ok(Response::new(convert::to_provider(&provider))),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let call = Call::start("GetProvider");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let code = convert::credit_code("credit_code", &request.get_ref().credit_code)?;
            let provider = self.engine.reader().provider(&code).map_err(to_status)?;
            Ok(Response::new(convert::to_provider(&provider)))
        }
        .await;
        call.finish(result)
    }

    async fn suspend_provider(
        &self,
        request: Request<pb::SuspendProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let command = requests::suspend_provider(request.get_ref());
        self.change_provider("SuspendProvider", &request, command)
            .await
    }

    async fn reinstate_provider(
        &self,
        request: Request<pb::ReinstateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let command = requests::reinstate_provider(request.get_ref());
        self.change_provider("ReinstateProvider", &request, command)
            .await
    }

    async fn pin_provider_certificate(
        &self,
        request: Request<pb::ProviderCertificateRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let command = requests::pin_provider_certificate(request.get_ref());
        self.change_provider("PinProviderCertificate", &request, command)
            .await
    }

    async fn revoke_provider_certificate(
        &self,
        request: Request<pb::ProviderCertificateRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let command = requests::revoke_provider_certificate(request.get_ref());
        self.change_provider("RevokeProviderCertificate", &request, command)
            .await
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let call = Call::start("CreateToken");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            let secret = generate_secret();
            match self
                .submit(requests::create_token(
                    request.get_ref(),
                    SecretHash::of(&secret),
                )?)
                .await?
            {
                Outcome::Token(token) => Ok(Response::new(pb::CreateTokenResponse {
                    token_id: token.token_id.to_string(),
                    token: secret,
                })),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        let call = Call::start("RevokeToken");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::revoke_token(request.get_ref())?)
                .await?
            {
                Outcome::Token(_) => Ok(Response::new(pb::RevokeTokenResponse {})),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn issue_voucher(
        &self,
        request: Request<pb::IssueVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        let call = Call::start("IssueVoucher");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::issue_voucher(request.get_ref())?)
                .await?
            {
                Outcome::Voucher(voucher) => Ok(Response::new(convert::to_voucher(&voucher))),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn get_voucher(
        &self,
        request: Request<pb::GetVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        let call = Call::start("GetVoucher");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let voucher_id = convert::id(
                "voucher_id",
                &request.get_ref().voucher_id,
                VoucherId::parse,
            )?;
            let voucher = self
                .engine
                .reader()
                .voucher(&voucher_id)
                .map_err(to_status)?;
            Ok(Response::new(convert::to_voucher(&voucher)))
        }
        .await;
        call.finish(result)
    }

    async fn list_vouchers(
        &self,
        request: Request<pb::ListVouchersRequest>,
    ) -> Result<Response<pb::ListVouchersResponse>, Status> {
        let call = Call::start("ListVouchers");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let query = requests::list_vouchers(request.get_ref())?;
            let page = self
                .engine
                .reader()
                .list_vouchers(query.filter, query.after, query.limit)
                .map_err(to_status)?;
            Ok(Response::new(pb::ListVouchersResponse {
                vouchers: page.items.iter().map(convert::to_voucher).collect(),
                next_page_token: page.next_after.unwrap_or_default(),
            }))
        }
        .await;
        call.finish(result)
    }

    async fn revoke_voucher(
        &self,
        request: Request<pb::RevokeVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        let call = Call::start("RevokeVoucher");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::revoke_voucher(request.get_ref())?)
                .await?
            {
                Outcome::Voucher(voucher) => Ok(Response::new(convert::to_voucher(&voucher))),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn redeem(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let call = Call::start("Redeem");
        let result = async {
            let actor = self.authorize(&request, &call, BUREAU_PROVIDER)?;
            match self
                .submit(requests::redeem(request.get_ref(), actor)?)
                .await?
            {
                Outcome::Redemption(redemption) => {
                    Ok(Response::new(convert::to_redemption(&redemption)))
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn reverse_redemption(
        &self,
        request: Request<pb::ReverseRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let call = Call::start("ReverseRedemption");
        let result = async {
            let actor = self.authorize(&request, &call, BUREAU_PROVIDER)?;
            match self
                .submit(requests::reverse_redemption(request.get_ref(), actor)?)
                .await?
            {
                Outcome::Redemption(redemption) => {
                    Ok(Response::new(convert::to_redemption(&redemption)))
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn get_redemption(
        &self,
        request: Request<pb::GetRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let call = Call::start("GetRedemption");
        let result = async {
            let actor = self.authorize(&request, &call, ANY_ROLE)?;
            let redemption_id = convert::id(
                "redemption_id",
                &request.get_ref().redemption_id,
                RedemptionId::parse,
            )?;
            let redemption = self
                .engine
                .reader()
                .redemption(&redemption_id, actor)
                .map_err(to_status)?;
            Ok(Response::new(convert::to_redemption(&redemption)))
        }
        .await;
        call.finish(result)
    }

    async fn list_redemptions(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        let call = Call::start("ListRedemptions");
        let result = async {
            let actor = self.authorize(&request, &call, ANY_ROLE)?;
            let query = requests::list_redemptions(request.get_ref())?;
            let page = self
                .engine
                .reader()
                .list_redemptions(query.filter, actor, query.after, query.limit)
                .map_err(to_status)?;
            Ok(Response::new(pb::ListRedemptionsResponse {
                redemptions: page.items.iter().map(convert::to_redemption).collect(),
                next_page_token: page.next_after.unwrap_or_default(),
            }))
        }
        .await;
        call.finish(result)
    }

    type ListEventsStream = audit::EventStream;

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<Self::ListEventsStream>, Status> {
        let call = Call::start("ListEvents");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let store = self.engine.reader().store().clone();
            let head = store
                .stored_head()
                .map_err(|error| to_status(error.into()))?
                .sequence;
            let from = request.get_ref().from_sequence.max(1);
            let through = match request.get_ref().max_events {
                0 => head,
                max_events => head.min(from.saturating_add(max_events - 1)),
            };
            let place = self.stream_place(&call)?;
            Ok(Response::new(audit::stream_events(
                store, from, through, place,
            )))
        }
        .await;
        call.finish(result)
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyReport>, Status> {
        let call = Call::start("Verify");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let _waiting = self.verifications.open(caller_key(&call))?;
            let verification = self.engine.verification().await.map_err(to_status)?;
            let mut report = audit::to_report(&verification.report);
            report.verified_at = verification.verified_at.to_rfc3339();
            Ok(Response::new(report))
        }
        .await;
        call.finish(result)
    }

    type BackupStream = audit::BackupStream;

    async fn backup(
        &self,
        request: Request<pb::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        let call = Call::start("Backup");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            let reader = self.engine.reader();
            let created_at = reader.now().now.to_rfc3339();
            let place = self.stream_place(&call)?;
            Ok(Response::new(audit::stream_backup(
                reader.store().clone(),
                created_at,
                place,
            )))
        }
        .await;
        call.finish(result)
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let call = Call::start("GetBalance");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let query = requests::get_balance(request.get_ref())?;
            let reader = self.engine.reader();
            let balance = reader
                .balance(&query.enterprise_credit_code, query.program, query.on_date)
                .map_err(to_status)?;
            Ok(Response::new(convert::to_balance(&balance)))
        }
        .await;
        call.finish(result)
    }

    async fn list_balances(
        &self,
        request: Request<pb::ListBalancesRequest>,
    ) -> Result<Response<pb::ListBalancesResponse>, Status> {
        let call = Call::start("ListBalances");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let (query, page) = requests::list_balances(request.get_ref())?;
            let reader = self.engine.reader();
            let balances = reader
                .list_balances(query.program, query.on_date, page.after, page.limit)
                .map_err(to_status)?;
            Ok(Response::new(pb::ListBalancesResponse {
                balances: balances.items.iter().map(convert::to_balance).collect(),
                next_page_token: balances.next_after.unwrap_or_default(),
            }))
        }
        .await;
        call.finish(result)
    }

    async fn program_summary(
        &self,
        request: Request<pb::ProgramSummaryRequest>,
    ) -> Result<Response<pb::ProgramSummaryResponse>, Status> {
        let call = Call::start("ProgramSummary");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let query = requests::program_summary(request.get_ref())?;
            let summary = self
                .engine
                .reader()
                .program_summary(query.program, query.on_date)
                .map_err(to_status)?;
            Ok(Response::new(convert::to_program_summary(&summary)))
        }
        .await;
        call.finish(result)
    }

    async fn approve_redemption(
        &self,
        request: Request<pb::ApproveRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let call = Call::start("ApproveRedemption");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            self.answer_redemption(requests::approve_redemption(request.get_ref())?)
                .await
        }
        .await;
        call.finish(result)
    }

    async fn reject_redemption(
        &self,
        request: Request<pb::RejectRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let call = Call::start("RejectRedemption");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            self.answer_redemption(requests::reject_redemption(request.get_ref())?)
                .await
        }
        .await;
        call.finish(result)
    }

    async fn create_settlement(
        &self,
        request: Request<pb::CreateSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        let call = Call::start("CreateSettlement");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            self.answer_settlement(requests::create_settlement(request.get_ref())?)
                .await
        }
        .await;
        call.finish(result)
    }

    async fn record_settlement_payment(
        &self,
        request: Request<pb::RecordSettlementPaymentRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        let call = Call::start("RecordSettlementPayment");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            self.answer_settlement(requests::record_settlement_payment(request.get_ref())?)
                .await
        }
        .await;
        call.finish(result)
    }

    async fn get_settlement(
        &self,
        request: Request<pb::GetSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        let call = Call::start("GetSettlement");
        let result = async {
            let actor = self.authorize(&request, &call, ANY_ROLE)?;
            let settlement_id = convert::id(
                "settlement_id",
                &request.get_ref().settlement_id,
                SettlementId::parse,
            )?;
            self.settlement_response(&settlement_id, actor)
        }
        .await;
        call.finish(result)
    }

    async fn list_settlements(
        &self,
        request: Request<pb::ListSettlementsRequest>,
    ) -> Result<Response<pb::ListSettlementsResponse>, Status> {
        let call = Call::start("ListSettlements");
        let result = async {
            let actor = self.authorize(&request, &call, ANY_ROLE)?;
            let query = requests::list_settlements(request.get_ref())?;
            let page = self
                .engine
                .reader()
                .list_settlements(query.filter, actor, query.after, query.limit)
                .map_err(to_status)?;
            Ok(Response::new(pb::ListSettlementsResponse {
                settlements: page
                    .items
                    .iter()
                    .map(|(settlement, name)| convert::to_settlement(settlement, name, &[]))
                    .collect(),
                next_page_token: page.next_after.unwrap_or_default(),
            }))
        }
        .await;
        call.finish(result)
    }

    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let call = Call::start("GetBudget");
        let result = async {
            self.authorize(&request, &call, BUREAU_AUDITOR)?;
            let query = requests::get_budget(request.get_ref())?;
            let budget = self
                .engine
                .reader()
                .budget(query.program, query.on_date)
                .map_err(to_status)?;
            Ok(Response::new(convert::to_budget(&budget)))
        }
        .await;
        call.finish(result)
    }

    async fn record_related_parties(
        &self,
        request: Request<pb::RecordRelatedPartiesRequest>,
    ) -> Result<Response<pb::RelatedParties>, Status> {
        let call = Call::start("RecordRelatedParties");
        let result = async {
            self.authorize(&request, &call, BUREAU)?;
            match self
                .submit(requests::record_related_parties(request.get_ref())?)
                .await?
            {
                Outcome::RelatedParties(parties) => {
                    Ok(Response::new(convert::to_related_parties(&parties)))
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }
}

impl LedgerService {
    /// A bureau command about a provider's access (`command`, already checked or the refusal
    /// of its fields, answered only once the caller is known to be the bureau).
    async fn change_provider<T>(
        &self,
        method: &'static str,
        request: &Request<T>,
        command: Result<Command, Status>,
    ) -> Result<Response<pb::Provider>, Status> {
        let call = Call::start(method);
        let result = async {
            self.authorize(request, &call, BUREAU)?;
            match self.submit(command?).await? {
                Outcome::Provider(provider) => Ok(Response::new(convert::to_provider(&provider))),
                other => Err(unexpected(other)),
            }
        }
        .await;
        call.finish(result)
    }

    async fn answer_redemption(
        &self,
        command: Command,
    ) -> Result<Response<pb::Redemption>, Status> {
        match self.submit(command).await? {
            Outcome::Redemption(redemption) => {
                Ok(Response::new(convert::to_redemption(&redemption)))
            }
            other => Err(unexpected(other)),
        }
    }

    /// Submits a bureau's command whose outcome is a statement, and answers the statement with
    /// its lines.
    async fn answer_settlement(
        &self,
        command: Command,
    ) -> Result<Response<pb::Settlement>, Status> {
        let settlement_id = match self.submit(command).await? {
            Outcome::Settlement(settlement) => settlement.settlement_id,
            other => return Err(unexpected(other)),
        };
        self.settlement_response(&settlement_id, Actor::Bureau)
    }

    fn settlement_response(
        &self,
        settlement_id: &SettlementId,
        actor: Actor,
    ) -> Result<Response<pb::Settlement>, Status> {
        let (settlement, lines, name) = self
            .engine
            .reader()
            .settlement(settlement_id, actor)
            .map_err(to_status)?;
        Ok(Response::new(convert::to_settlement(
            &settlement,
            &name,
            &lines,
        )))
    }
}
