//! The `VoucherLedger` service: each handler authenticates, checks the role, parses the
//! request into a command or a query, and hands it to the engine. No rule lives here.

use tonic::{Request, Response, Status};

use super::auth::{authorize, generate_secret};
use super::convert;
use super::status::{permission_denied, to_status};
use crate::domain::command::{Command, RedeemCommand};
use crate::domain::ids::{RedemptionId, TokenId, VoucherId};
use crate::domain::ledger::Outcome;
use crate::domain::model::{Actor, Invoice, IssueVoucherRequest, Role, SecretHash};
use crate::domain::text::RequestId;
use crate::engine::Engine;
use crate::proto::voucher::v1 as pb;
use crate::proto::voucher::v1::voucher_ledger_server::VoucherLedger;
use crate::store::{RedemptionFilter, VoucherFilter};

const BUREAU: &[Role] = &[Role::Bureau];
const BUREAU_AUDITOR: &[Role] = &[Role::Bureau, Role::Auditor];
const BUREAU_PROVIDER: &[Role] = &[Role::Bureau, Role::Provider];
const ANY_ROLE: &[Role] = &[Role::Bureau, Role::Auditor, Role::Provider];

pub struct LedgerService {
    engine: Engine,
}

impl LedgerService {
    pub fn new(engine: Engine) -> LedgerService {
        LedgerService { engine }
    }

    fn authorize<T>(&self, request: &Request<T>, allowed: &[Role]) -> Result<Actor, Status> {
        authorize(self.engine.reader(), request, allowed)
    }

    async fn submit(&self, command: Command) -> Result<Outcome, Status> {
        self.engine.submit(command).await.map_err(to_status)
    }
}

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
        self.authorize(&request, BUREAU)?;
        let body = request.into_inner();
        let command = Command::RegisterEnterprise {
            credit_code: convert::credit_code("credit_code", &body.credit_code)?,
            name: convert::text("name", &body.name)?,
            check_digit_override_reason: convert::optional_text(
                "check_digit_override_reason",
                &body.check_digit_override_reason,
            )?,
        };
        match self.submit(command).await? {
            Outcome::Enterprise(enterprise) => {
                Ok(Response::new(convert::to_enterprise(&enterprise)))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn get_enterprise(
        &self,
        request: Request<pb::GetEnterpriseRequest>,
    ) -> Result<Response<pb::Enterprise>, Status> {
        self.authorize(&request, BUREAU_AUDITOR)?;
        let code = convert::credit_code("credit_code", &request.get_ref().credit_code)?;
        let enterprise = self.engine.reader().enterprise(&code).map_err(to_status)?;
        Ok(Response::new(convert::to_enterprise(&enterprise)))
    }

    async fn register_provider(
        &self,
        request: Request<pb::RegisterProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        self.authorize(&request, BUREAU)?;
        let body = request.into_inner();
        let command = Command::RegisterProvider {
            credit_code: convert::credit_code("credit_code", &body.credit_code)?,
            name: convert::text("name", &body.name)?,
            program: convert::program("program", body.program)?,
            check_digit_override_reason: convert::optional_text(
                "check_digit_override_reason",
                &body.check_digit_override_reason,
            )?,
        };
        match self.submit(command).await? {
            Outcome::Provider(provider) => Ok(Response::new(convert::to_provider(&provider))),
            other => Err(unexpected(other)),
        }
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        self.authorize(&request, BUREAU)?;
        let body = request.into_inner();
        let secret = generate_secret();
        let command = Command::CreateToken {
            role: convert::role("role", body.role)?,
            provider_credit_code: convert::optional_credit_code(
                "provider_credit_code",
                &body.provider_credit_code,
            )?,
            description: convert::optional_text("description", &body.description)?,
            secret_sha256: SecretHash::of(&secret),
        };
        match self.submit(command).await? {
            Outcome::Token(token) => Ok(Response::new(pb::CreateTokenResponse {
                token_id: token.token_id.to_string(),
                token: secret,
            })),
            other => Err(unexpected(other)),
        }
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        self.authorize(&request, BUREAU)?;
        let token_id = convert::id("token_id", &request.get_ref().token_id, TokenId::parse)?;
        match self.submit(Command::RevokeToken { token_id }).await? {
            Outcome::Token(_) => Ok(Response::new(pb::RevokeTokenResponse {})),
            other => Err(unexpected(other)),
        }
    }

    async fn issue_voucher(
        &self,
        request: Request<pb::IssueVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.authorize(&request, BUREAU)?;
        let body = request.into_inner();
        let issue = IssueVoucherRequest {
            request_id: RequestId::parse(&body.request_id)
                .map_err(|error| super::status::invalid("request_id", error))?,
            enterprise_credit_code: convert::credit_code(
                "enterprise_credit_code",
                &body.enterprise_credit_code,
            )?,
            program: convert::program("program", body.program)?,
            face_value: convert::optional_money("face_value", body.face_value.as_ref())?,
            valid_from: convert::optional_date("valid_from", &body.valid_from)?,
            valid_until: convert::optional_date("valid_until", &body.valid_until)?,
        };
        match self.submit(Command::IssueVoucher(issue)).await? {
            Outcome::Voucher(voucher) => Ok(Response::new(convert::to_voucher(&voucher))),
            other => Err(unexpected(other)),
        }
    }

    async fn get_voucher(
        &self,
        request: Request<pb::GetVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.authorize(&request, BUREAU_AUDITOR)?;
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

    async fn list_vouchers(
        &self,
        request: Request<pb::ListVouchersRequest>,
    ) -> Result<Response<pb::ListVouchersResponse>, Status> {
        self.authorize(&request, BUREAU_AUDITOR)?;
        let body = request.into_inner();
        let filter = VoucherFilter {
            enterprise_credit_code: convert::optional_credit_code(
                "enterprise_credit_code",
                &body.enterprise_credit_code,
            )?,
            program: convert::optional_program("program", body.program)?,
        };
        let limit = convert::page_size(body.page_size)?;
        let after = convert::page_token(&body.page_token, VoucherId::parse)?;
        let page = self
            .engine
            .reader()
            .list_vouchers(filter, after, limit)
            .map_err(to_status)?;
        Ok(Response::new(pb::ListVouchersResponse {
            vouchers: page.items.iter().map(convert::to_voucher).collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        }))
    }

    async fn revoke_voucher(
        &self,
        request: Request<pb::RevokeVoucherRequest>,
    ) -> Result<Response<pb::Voucher>, Status> {
        self.authorize(&request, BUREAU)?;
        let body = request.into_inner();
        let command = Command::RevokeVoucher {
            voucher_id: convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?,
            reason: convert::text("reason", &body.reason)?,
        };
        match self.submit(command).await? {
            Outcome::Voucher(voucher) => Ok(Response::new(convert::to_voucher(&voucher))),
            other => Err(unexpected(other)),
        }
    }

    async fn redeem(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let actor = self.authorize(&request, BUREAU_PROVIDER)?;
        let body = request.into_inner();
        let named_provider =
            convert::optional_credit_code("provider_credit_code", &body.provider_credit_code)?;
        let provider_credit_code = match (actor, named_provider) {
            (Actor::Provider(own), None) => own,
            (Actor::Provider(own), Some(named)) if named == own => own,
            (Actor::Provider(_), Some(_)) => {
                return Err(permission_denied("a provider redeems only as itself"));
            }
            (_, Some(named)) => named,
            (_, None) => {
                return Err(super::status::invalid(
                    "provider_credit_code",
                    crate::domain::input::InputError::new(
                        "REQUIRED",
                        "the bureau must name the provider it redeems for",
                    ),
                ));
            }
        };
        let command = Command::Redeem(RedeemCommand {
            voucher_id: convert::id("voucher_id", &body.voucher_id, VoucherId::parse)?,
            provider_credit_code,
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
        });
        match self.submit(command).await? {
            Outcome::Redemption(redemption) => {
                Ok(Response::new(convert::to_redemption(&redemption)))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn reverse_redemption(
        &self,
        request: Request<pb::ReverseRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let actor = self.authorize(&request, BUREAU_PROVIDER)?;
        let body = request.into_inner();
        let command = Command::ReverseRedemption {
            redemption_id: convert::id("redemption_id", &body.redemption_id, RedemptionId::parse)?,
            reason: convert::text("reason", &body.reason)?,
            actor,
        };
        match self.submit(command).await? {
            Outcome::Redemption(redemption) => {
                Ok(Response::new(convert::to_redemption(&redemption)))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn get_redemption(
        &self,
        request: Request<pb::GetRedemptionRequest>,
    ) -> Result<Response<pb::Redemption>, Status> {
        let actor = self.authorize(&request, ANY_ROLE)?;
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

    async fn list_redemptions(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        let actor = self.authorize(&request, ANY_ROLE)?;
        let body = request.into_inner();
        let filter = RedemptionFilter {
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
        };
        let limit = convert::page_size(body.page_size)?;
        let after = convert::page_token(&body.page_token, RedemptionId::parse)?;
        let page = self
            .engine
            .reader()
            .list_redemptions(filter, actor, after, limit)
            .map_err(to_status)?;
        Ok(Response::new(pb::ListRedemptionsResponse {
            redemptions: page.items.iter().map(convert::to_redemption).collect(),
            next_page_token: page.next_after.unwrap_or_default(),
        }))
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        self.authorize(&request, BUREAU_AUDITOR)?;
        let body = request.into_inner();
        let code = convert::credit_code("enterprise_credit_code", &body.enterprise_credit_code)?;
        let program = convert::program("program", body.program)?;
        let on_date = convert::optional_date("on_date", &body.on_date)?;
        let balance = self
            .engine
            .reader()
            .balance(&code, program, on_date)
            .map_err(to_status)?;
        Ok(Response::new(convert::to_balance(&balance)))
    }
}
