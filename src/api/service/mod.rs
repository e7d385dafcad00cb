//! The `VoucherLedger` service: each handler names its method and the roles it admits, parses
//! the request into a command or a query, and hands it to the engine. No rule lives here. The
//! frame every call shares (its log line and metrics, authentication, the role check) is
//! [`LedgerService::serve`]; a command's record comes back typed from
//! [`LedgerService::execute`].

use std::future::Future;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth::{authorize, generate_secret};
use super::observe::Call;
use super::status::to_status;
use super::{audit, convert, enterprise, requests};
use crate::attempts::FailedAttempts;
use crate::domain::command::Command;
use crate::domain::error::LedgerError;
use crate::domain::ids::{RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::ledger::Outcome;
use crate::domain::model::{
    Actor, Caller as LedgerCaller, Enterprise, RelatedParties, Role, SecretHash, Token, Voucher,
};
use crate::engine::Engine;
use crate::proto::voucher::v1 as pb;
use crate::proto::voucher::v1::voucher_ledger_server::VoucherLedger;

/// Callers waiting for a verification at once, in the whole server (each token one).
const VERIFICATIONS_WAITING_MAX: usize = 64;

mod answers;
mod enterprise_calls;
mod lists;
mod roles;
mod scope;

use roles::{
    ANY_ROLE, BUREAU, BUREAU_PROVIDER, CLAIM_READERS, ENTERPRISE, OWN_RECORDS, PAYERS, READ_ALL,
};

use scope::{LEDGER_CALLER, check_program, check_unscoped};

pub struct LedgerService {
    engine: Engine,
    streams: audit::OpenStreams,
    /// Verifications waited for, by token: one each (they share runs, so one is enough).
    verifications: audit::OpenStreams,
    /// Failed authentications per caller address, shared with the console.
    attempts: Arc<FailedAttempts>,
}

/// Who is asking, once authenticated: what a handler may need of it.
struct Caller {
    actor: Actor,
    /// What per-caller bounds count against: the token, or a provider's certificate.
    key: String,
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

    /// The frame of every call: starts its log line and metrics, authenticates the caller and
    /// checks its role is `allowed`, then answers with what `handle` makes of the message.
    async fn serve<T, R, Answer>(
        &self,
        method: &'static str,
        request: Request<T>,
        allowed: &[Role],
        handle: impl FnOnce(Caller, T) -> Answer,
    ) -> Result<Response<R>, Status>
    where
        Answer: Future<Output = Result<R, Status>>,
    {
        let call = Call::start(method);
        let result = async {
            let ledger_caller = authorize(
                self.engine.reader(),
                &self.attempts,
                &request,
                allowed,
                &call,
            )?;
            let key = call
                .token()
                .map_or_else(|| "certificate".to_owned(), |token| token.to_string());
            let caller = Caller {
                actor: ledger_caller.actor,
                key,
            };
            let answer = handle(caller, request.into_inner());
            LEDGER_CALLER
                .scope(ledger_caller, answer)
                .await
                .map(Response::new)
        }
        .await;
        call.finish(result)
    }

    /// Submits `command` (or answers its fields' refusal) and returns the record it was about.
    async fn execute<Record>(&self, command: Result<Command, LedgerError>) -> Result<Record, Status>
    where
        Record: TryFrom<Outcome, Error = Outcome>,
    {
        let caller = LEDGER_CALLER.with(LedgerCaller::clone);
        let outcome = self
            .engine
            .submit(command?, caller)
            .await
            .map_err(to_status)?;
        Record::try_from(outcome).map_err(|outcome| {
            tracing::error!(
                ?outcome,
                "the engine answered with another record than asked"
            );
            Status::internal("internal error")
        })
    }
}

#[tonic::async_trait]
impl VoucherLedger for LedgerService {
    async fn apply_for_voucher(
        &self,
        request: Request<pb::ApplyForVoucherRequest>,
    ) -> Result<Response<pb::VoucherApplication>, Status> {
        self.serve(
            "ApplyForVoucher",
            request,
            ENTERPRISE,
            |caller, body| async move {
                self.application_answer(enterprise::apply_for_voucher(&body, caller.actor))
                    .await
            },
        )
        .await
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        self.serve("ListApplications", request, OWN_RECORDS, |caller, body| {
            self.list_applications_call(caller.actor, body)
        })
        .await
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::VoucherApplication>, Status> {
        self.serve(
            "GetApplication",
            request,
            OWN_RECORDS,
            |caller, body| async move {
                let application_id = enterprise::application_id(&body.application_id)?;
                let application = self
                    .engine
                    .reader()
                    .application(&application_id, caller.actor)
                    .map_err(to_status)?;
                check_program(application.program)?;
                Ok(enterprise::to_application(&application))
            },
        )
        .await
    }

    async fn approve_application(
        &self,
        request: Request<pb::ApproveApplicationRequest>,
    ) -> Result<Response<pb::VoucherApplication>, Status> {
        self.serve(
            "ApproveApplication",
            request,
            BUREAU,
            |_, body| async move {
                self.application_answer(enterprise::approve_application(&body))
                    .await
            },
        )
        .await
    }

    async fn reject_application(
        &self,
        request: Request<pb::RejectApplicationRequest>,
    ) -> Result<Response<pb::VoucherApplication>, Status> {
        self.serve("RejectApplication", request, BUREAU, |_, body| async move {
            self.application_answer(enterprise::reject_application(&body))
                .await
        })
        .await
    }

    async fn change_voucher_providers(
        &self,
        request: Request<pb::ChangeVoucherProvidersRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.serve(
            "ChangeVoucherProviders",
            request,
            BUREAU,
            |_, body| async move {
                let command = enterprise::change_voucher_providers(&body);
                let voucher: Voucher = self.execute(command).await?;
                Ok(convert::to_voucher(&voucher))
            },
        )
        .await
    }

    async fn confirm_redemption(
        &self,
        request: Request<pb::ConfirmRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve(
            "ConfirmRedemption",
            request,
            ENTERPRISE,
            |caller, body| async move {
                self.redemption_answer(enterprise::confirm_redemption(&body, caller.actor))
                    .await
            },
        )
        .await
    }

    async fn dispute_redemption(
        &self,
        request: Request<pb::DisputeRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve(
            "DisputeRedemption",
            request,
            ENTERPRISE,
            |caller, body| async move {
                self.redemption_answer(enterprise::dispute_redemption(&body, caller.actor))
                    .await
            },
        )
        .await
    }

    async fn return_redemption(
        &self,
        request: Request<pb::ReturnRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve("ReturnRedemption", request, BUREAU, |_, body| async move {
            self.redemption_answer(enterprise::return_redemption(&body))
                .await
        })
        .await
    }

    async fn publish_notice(
        &self,
        request: Request<pb::PublishNoticeRequest>,
    ) -> Result<Response<pb::PublicNotice>, Status> {
        self.serve("PublishNotice", request, BUREAU, |_, body| {
            self.publish_notice_call(body)
        })
        .await
    }

    async fn get_notice(
        &self,
        request: Request<pb::GetNoticeRequest>,
    ) -> Result<Response<pb::PublicNotice>, Status> {
        self.serve("GetNotice", request, CLAIM_READERS, |_, body| async move {
            let notice_id = enterprise::notice_id(&body.notice_id)?;
            self.notice_answer(&notice_id)
        })
        .await
    }

    async fn list_notices(
        &self,
        request: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        self.serve("ListNotices", request, CLAIM_READERS, |_, body| {
            self.list_notices_call(body)
        })
        .await
    }

    async fn register_enterprise(
        &self,
        request: Request<pb::RegisterEnterpriseRequest>,
    ) -> Result<Response<pb::Enterprise>, Status> {
        self.serve(
            "RegisterEnterprise",
            request,
            BUREAU,
            |_, body| async move {
                let enterprise: Enterprise =
                    self.execute(requests::register_enterprise(&body)).await?;
                Ok(convert::to_enterprise(&enterprise))
            },
        )
        .await
    }

    async fn get_enterprise(
        &self,
        request: Request<pb::GetEnterpriseRequest>,
    ) -> Result<Response<pb::Enterprise>, Status> {
        self.serve(
            "GetEnterprise",
            request,
            OWN_RECORDS,
            |caller, body| async move {
                let code = convert::credit_code("credit_code", &body.credit_code)?;
                let enterprise = self
                    .engine
                    .reader()
                    .enterprise_for(&code, caller.actor)
                    .map_err(to_status)?;
                Ok(convert::to_enterprise(&enterprise))
            },
        )
        .await
    }

    async fn register_provider(
        &self,
        request: Request<pb::RegisterProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve("RegisterProvider", request, BUREAU, |_, body| async move {
            self.provider_answer(requests::register_provider(&body))
                .await
        })
        .await
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve("GetProvider", request, READ_ALL, |_, body| async move {
            let code = convert::credit_code("credit_code", &body.credit_code)?;
            let provider = self.engine.reader().provider(&code).map_err(to_status)?;
            check_program(provider.program)?;
            Ok(convert::to_provider(&provider))
        })
        .await
    }

    async fn suspend_provider(
        &self,
        request: Request<pb::SuspendProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve("SuspendProvider", request, BUREAU, |_, body| async move {
            self.provider_answer(requests::suspend_provider(&body))
                .await
        })
        .await
    }

    async fn reinstate_provider(
        &self,
        request: Request<pb::ReinstateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve("ReinstateProvider", request, BUREAU, |_, body| async move {
            self.provider_answer(requests::reinstate_provider(&body))
                .await
        })
        .await
    }

    async fn pin_provider_certificate(
        &self,
        request: Request<pb::ProviderCertificateRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve(
            "PinProviderCertificate",
            request,
            BUREAU,
            |_, body| async move {
                self.provider_answer(requests::pin_provider_certificate(&body))
                    .await
            },
        )
        .await
    }

    async fn revoke_provider_certificate(
        &self,
        request: Request<pb::ProviderCertificateRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.serve(
            "RevokeProviderCertificate",
            request,
            BUREAU,
            |_, body| async move {
                self.provider_answer(requests::revoke_provider_certificate(&body))
                    .await
            },
        )
        .await
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        self.serve("CreateToken", request, BUREAU, |_, body| async move {
            let secret = generate_secret();
            let command = requests::create_token(&body, SecretHash::of(&secret));
            let token: Token = self.execute(command).await?;
            Ok(pb::CreateTokenResponse {
                token_id: token.token_id.to_string(),
                token: secret,
            })
        })
        .await
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        self.serve("RevokeToken", request, BUREAU, |_, body| async move {
            let _: Token = self.execute(requests::revoke_token(&body)).await?;
            Ok(pb::RevokeTokenResponse {})
        })
        .await
    }

    async fn issue_voucher(
        &self,
        request: Request<pb::IssueVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.serve("IssueVoucher", request, BUREAU, |_, body| async move {
            let voucher: Voucher = self.execute(requests::issue_voucher(&body)).await?;
            Ok(convert::to_voucher(&voucher))
        })
        .await
    }

    async fn get_voucher(
        &self,
        request: Request<pb::GetVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.serve(
            "GetVoucher",
            request,
            OWN_RECORDS,
            |caller, body| async move {
                let voucher_id = convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?;
                let voucher = self
                    .engine
                    .reader()
                    .voucher_for(&voucher_id, caller.actor)
                    .map_err(to_status)?;
                check_program(voucher.program)?;
                Ok(convert::to_voucher(&voucher))
            },
        )
        .await
    }

    async fn list_vouchers(
        &self,
        request: Request<pb::ListVouchersRequest>,
    ) -> Result<Response<pb::ListVouchersResponse>, Status> {
        self.serve("ListVouchers", request, OWN_RECORDS, |caller, body| {
            self.list_vouchers_call(caller.actor, body)
        })
        .await
    }

    async fn revoke_voucher(
        &self,
        request: Request<pb::RevokeVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.serve("RevokeVoucher", request, BUREAU, |_, body| async move {
            let voucher: Voucher = self.execute(requests::revoke_voucher(&body)).await?;
            Ok(convert::to_voucher(&voucher))
        })
        .await
    }

    async fn redeem(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve(
            "Redeem",
            request,
            BUREAU_PROVIDER,
            |caller, body| async move {
                self.redemption_answer(requests::redeem(&body, caller.actor))
                    .await
            },
        )
        .await
    }

    async fn reverse_redemption(
        &self,
        request: Request<pb::ReverseRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve(
            "ReverseRedemption",
            request,
            BUREAU_PROVIDER,
            |caller, body| async move {
                self.redemption_answer(requests::reverse_redemption(&body, caller.actor))
                    .await
            },
        )
        .await
    }

    async fn get_redemption(
        &self,
        request: Request<pb::GetRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve(
            "GetRedemption",
            request,
            CLAIM_READERS,
            |caller, body| async move {
                let redemption_id =
                    convert::id("redemption_id", &body.redemption_id, RedemptionId::parse)?;
                let redemption = self
                    .engine
                    .reader()
                    .redemption(&redemption_id, caller.actor)
                    .map_err(to_status)?;
                check_program(redemption.program)?;
                Ok(convert::to_redemption(&redemption))
            },
        )
        .await
    }

    async fn list_redemptions(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        self.serve("ListRedemptions", request, CLAIM_READERS, |caller, body| {
            self.list_redemptions_call(caller.actor, body)
        })
        .await
    }

    type ListEventsStream = audit::EventStream;

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<Self::ListEventsStream>, Status> {
        self.serve("ListEvents", request, READ_ALL, |caller, body| async move {
            check_unscoped("the whole event log")?;
            let reader = self.engine.reader().clone();
            let head = reader.head_sequence().map_err(to_status)?;
            let from = body.from_sequence.max(1);
            let through = match body.max_events {
                0 => head,
                max_events => head.min(from.saturating_add(max_events - 1)),
            };
            let filter = audit::EventFilter {
                actor_token_id: convert::optional_id(
                    "actor_token_id",
                    &body.actor_token_id,
                    TokenId::parse,
                )?,
                record_id: convert::optional_record_id("record_id", &body.record_id)?,
            };
            let place = self.streams.open(caller.key)?;
            Ok(audit::stream_events(reader, from, through, filter, place))
        })
        .await
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyReport>, Status> {
        self.serve("Verify", request, READ_ALL, |caller, _| async move {
            let _waiting = self.verifications.open(caller.key)?;
            let verification = self.engine.verification().await.map_err(to_status)?;
            let mut report = audit::to_report(&verification.report);
            report.verified_at = verification.verified_at.to_rfc3339();
            Ok(report)
        })
        .await
    }

    type BackupStream = audit::BackupStream;

    async fn backup(
        &self,
        request: Request<pb::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        self.serve("Backup", request, BUREAU, |caller, _| async move {
            check_unscoped("a backup of every program")?;
            let reader = self.engine.reader();
            let created_at = reader.now().now.to_rfc3339();
            let place = self.streams.open(caller.key)?;
            Ok(audit::stream_backup(reader.clone(), created_at, place))
        })
        .await
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        self.serve(
            "GetBalance",
            request,
            OWN_RECORDS,
            |caller, body| async move {
                let query = requests::get_balance(&body)?;
                check_program(query.program)?;
                let reader = self.engine.reader();
                reader
                    .check_own_enterprise(&query.enterprise_credit_code, caller.actor)
                    .map_err(to_status)?;
                let balance = reader
                    .balance(&query.enterprise_credit_code, query.program, query.on_date)
                    .map_err(to_status)?;
                Ok(convert::to_balance(&balance))
            },
        )
        .await
    }

    async fn list_balances(
        &self,
        request: Request<pb::ListBalancesRequest>,
    ) -> Result<Response<pb::ListBalancesResponse>, Status> {
        self.serve("ListBalances", request, READ_ALL, |_, body| async move {
            let (query, page) = requests::list_balances(&body)?;
            check_program(query.program)?;
            let balances = self
                .engine
                .reader()
                .list_balances(query.program, query.on_date, page.after, page.limit)
                .map_err(to_status)?;
            Ok(pb::ListBalancesResponse {
                balances: balances.items.iter().map(convert::to_balance).collect(),
                next_page_token: balances.next_after.unwrap_or_default(),
            })
        })
        .await
    }

    async fn program_summary(
        &self,
        request: Request<pb::ProgramSummaryRequest>,
    ) -> Result<Response<pb::ProgramSummaryResponse>, Status> {
        self.serve("ProgramSummary", request, READ_ALL, |_, body| async move {
            let query = requests::program_summary(&body)?;
            check_program(query.program)?;
            let summary = self
                .engine
                .reader()
                .program_summary(query.program, query.on_date)
                .map_err(to_status)?;
            Ok(convert::to_program_summary(&summary))
        })
        .await
    }

    async fn approve_redemption(
        &self,
        request: Request<pb::ApproveRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve("ApproveRedemption", request, BUREAU, |_, body| async move {
            self.redemption_answer(requests::approve_redemption(&body))
                .await
        })
        .await
    }

    async fn reject_redemption(
        &self,
        request: Request<pb::RejectRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        self.serve("RejectRedemption", request, BUREAU, |_, body| async move {
            self.redemption_answer(requests::reject_redemption(&body))
                .await
        })
        .await
    }

    async fn create_settlement(
        &self,
        request: Request<pb::CreateSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        self.serve("CreateSettlement", request, BUREAU, |_, body| async move {
            self.settle(requests::create_settlement(&body)).await
        })
        .await
    }

    async fn record_settlement_payment(
        &self,
        request: Request<pb::RecordSettlementPaymentRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        self.serve(
            "RecordSettlementPayment",
            request,
            PAYERS,
            |_, body| async move {
                self.settle(requests::record_settlement_payment(&body))
                    .await
            },
        )
        .await
    }

    async fn get_settlement(
        &self,
        request: Request<pb::GetSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        self.serve(
            "GetSettlement",
            request,
            ANY_ROLE,
            |caller, body| async move {
                let settlement_id =
                    convert::id("settlement_id", &body.settlement_id, SettlementId::parse)?;
                self.settlement_answer(&settlement_id, caller.actor)
            },
        )
        .await
    }

    async fn list_settlements(
        &self,
        request: Request<pb::ListSettlementsRequest>,
    ) -> Result<Response<pb::ListSettlementsResponse>, Status> {
        self.serve("ListSettlements", request, ANY_ROLE, |caller, body| {
            self.list_settlements_call(caller.actor, body)
        })
        .await
    }

    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        self.serve("GetBudget", request, READ_ALL, |_, body| async move {
            let query = requests::get_budget(&body)?;
            check_program(query.program)?;
            let budget = self
                .engine
                .reader()
                .budget(query.program, query.on_date)
                .map_err(to_status)?;
            Ok(convert::to_budget(&budget))
        })
        .await
    }

    async fn record_related_parties(
        &self,
        request: Request<pb::RecordRelatedPartiesRequest>,
    ) -> Result<Response<pb::RelatedParties>, Status> {
        self.serve(
            "RecordRelatedParties",
            request,
            BUREAU,
            |_, body| async move {
                let command = requests::record_related_parties(&body);
                let parties: RelatedParties = self.execute(command).await?;
                Ok(convert::to_related_parties(&parties))
            },
        )
        .await
    }
}
