//! Vouchers, as the bureau issues, binds and revokes them: `issue-voucher`, `get-voucher`,
//! `list-vouchers`, `revoke-voucher` and `change-voucher-providers`, with the voucher's record
//! they all print (`approve-application` issues one too).

use chrono::NaiveDate;
use clap::Args;
use voucher_ledger::client::{Record, Value, optional, program_word, text, voucher_status_word};
use voucher_ledger::domain::money::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::wire::{to_date, to_money};

use crate::Failure;
use crate::arguments::{
    Paging, ProgramArgument, optional_program, parse_code, parse_day, parse_yuan,
    request_id_or_new, unsettled_failure,
};
use crate::connect::Client;
use crate::output::{Output, Page, paginate, with_request_id};

#[derive(Args, Debug)]
pub struct IssueVoucher {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[arg(long)]
    program: ProgramArgument,
    /// In yuan. Default: all that is still uncommitted under the cap.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    face_value: Option<Money>,
    /// YYYY-MM-DD. Default: the start of the cap period holding today.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    valid_from: Option<NaiveDate>,
    /// YYYY-MM-DD. Default: the end of the cap period holding valid-from.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    valid_until: Option<NaiveDate>,
    /// Only this provider may redeem the voucher; repeat for several (at most 16). Default:
    /// any provider of the program.
    #[arg(long = "provider", value_name = "CREDIT_CODE")]
    providers: Vec<String>,
    /// Idempotency key. Default: a fresh UUID, printed so a retry can reuse it.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

impl IssueVoucher {
    /// Prints the request id first; when the outcome is unknown, says how to retry safely.
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request_id = request_id_or_new(self.request_id);
        let request = pb::IssueVoucherRequest {
            request_id: request_id.clone(),
            enterprise_credit_code: self.enterprise,
            program: self.program.wire(),
            face_value: self.face_value.map(to_money),
            valid_from: self.valid_from.map(to_date).unwrap_or_default(),
            valid_until: self.valid_until.map(to_date).unwrap_or_default(),
            provider_credit_codes: self.providers,
        };
        let reply = client
            .issue_voucher(request)
            .await
            .map_err(|status| unsettled_failure(status, &request_id, "issuing"))?
            .into_inner();
        output.record(&with_request_id(request_id, voucher_record(&reply)));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct GetVoucher {
    #[arg(value_parser = parse_code)]
    voucher_id: String,
}

impl GetVoucher {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetVoucherRequest {
            voucher_id: self.voucher_id,
        };
        let reply = client.get_voucher(request).await?.into_inner();
        output.record(&voucher_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ListVouchers {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    #[arg(long)]
    program: Option<ProgramArgument>,
    #[command(flatten)]
    paging: Paging,
}

impl ListVouchers {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let first_request = pb::ListVouchersRequest {
            enterprise_credit_code: self.enterprise.unwrap_or_default(),
            program: optional_program(self.program),
            page_size: self.paging.page_size(),
            page_token: String::new(),
        };
        paginate(output, &self.paging, "vouchers", async |page_token| {
            let request = pb::ListVouchersRequest {
                page_token,
                ..first_request.clone()
            };
            let reply = client.list_vouchers(request).await?.into_inner();
            Ok(Page::of(
                &reply.vouchers,
                voucher_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

#[derive(Args, Debug)]
pub struct RevokeVoucher {
    #[arg(value_parser = parse_code)]
    voucher_id: String,
    #[arg(long)]
    reason: String,
}

impl RevokeVoucher {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RevokeVoucherRequest {
            voucher_id: self.voucher_id,
            reason: self.reason,
        };
        let reply = client.revoke_voucher(request).await?.into_inner();
        output.record(&voucher_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ChangeVoucherProviders {
    #[arg(value_parser = parse_code)]
    voucher_id: String,
    /// The providers that may redeem it from now on; repeat for several (at most 16). None:
    /// any provider of the program.
    #[arg(long = "provider", value_name = "CREDIT_CODE")]
    providers: Vec<String>,
    /// Why, e.g. the enterprise's written request.
    #[arg(long)]
    reason: String,
}

impl ChangeVoucherProviders {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ChangeVoucherProvidersRequest {
            voucher_id: self.voucher_id,
            provider_credit_codes: self.providers,
            reason: self.reason,
        };
        let reply = client.change_voucher_providers(request).await?.into_inner();
        output.record(&voucher_record(&reply));
        Ok(())
    }
}

fn voucher_record(message: &pb::Voucher) -> Record {
    vec![
        ("voucher_id", text(&message.voucher_id)),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("program", Value::Text(program_word(message.program))),
        ("status", Value::Text(voucher_status_word(message.status))),
        ("face_value", Value::Money(message.face_value.clone())),
        ("redeemed", Value::Money(message.redeemed.clone())),
        ("remaining", Value::Money(message.remaining.clone())),
        ("valid_from", text(&message.valid_from)),
        ("valid_until", text(&message.valid_until)),
        ("redeem_by", text(&message.redeem_by)),
        ("providers", providers(&message.provider_credit_codes)),
        ("application_id", optional(&message.application_id)),
        ("issued_at", Value::Time(message.issued_at)),
        ("issued_by", Value::Actor(message.issued_by.clone())),
        ("revocation_reason", optional(&message.revocation_reason)),
        ("closed_at", Value::Time(message.closed_at)),
        ("closed_by", Value::Actor(message.closed_by.clone())),
    ]
}

/// The providers a voucher is bound to, `A, B`; `any` when it is not bound (any provider of
/// its program may redeem it).
fn providers(codes: &[String]) -> Value {
    if codes.is_empty() {
        text("any")
    } else {
        Value::Text(codes.join(", "))
    }
}
