//! An enterprise's applications for vouchers (申领) and the bureau's decisions on them:
//! `apply` (an enterprise), `list-applications`, `get-application`, `approve-application`
//! (which issues the voucher, bound to the providers the enterprise chose) and
//! `reject-application`, with the application's record they all print.

use std::io::Read;
use std::path::Path;

use clap::{Args, ValueEnum};
use sha2::{Digest, Sha256};
use voucher_ledger::client::{
    Record, Value, application_status_word, optional, program_word, text,
};
use voucher_ledger::domain::model::Sha256Hex;
use voucher_ledger::domain::money::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::wire::to_money;

use crate::Failure;
use crate::arguments::{
    Paging, ProgramArgument, parse_code, parse_yuan, request_id_or_new, unsettled_failure,
};
use crate::connect::Client;
use crate::output::{Output, Page, paginate, with_request_id};

#[derive(Args, Debug)]
pub struct Apply {
    #[arg(long)]
    program: ProgramArgument,
    /// The face value asked for, in yuan.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    amount: Money,
    /// A provider the enterprise chose from the pool; repeat for several (1 to 16). The
    /// voucher is bound to them.
    #[arg(long = "provider", value_name = "CREDIT_CODE", required = true)]
    providers: Vec<String>,
    /// 合同编号 of the rental or lease contract.
    #[arg(long, value_name = "NUMBER")]
    contract_number: String,
    /// The SHA-256 of the contract document, hex (or give --contract-file).
    #[arg(
        long,
        value_name = "HEX",
        value_parser = parse_sha256,
        required_unless_present = "contract_file",
        conflicts_with = "contract_file"
    )]
    contract_sha256: Option<String>,
    /// The contract document: its SHA-256 is sent (the file itself is not).
    #[arg(long = "contract-file", id = "contract_file", value_name = "FILE", value_parser = sha256_of_file)]
    contract_file_sha256: Option<String>,
    /// The model trained or the scenario served.
    #[arg(long)]
    purpose: String,
    /// Other public funding for the same contract (不重复享受). Default: none.
    #[arg(long, value_name = "TEXT")]
    other_subsidies: Option<String>,
    /// Idempotency key. Default: a fresh UUID, printed so a retry can reuse it.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

impl Apply {
    /// Prints the request id first; when the outcome is unknown, says how to retry safely.
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request_id = request_id_or_new(self.request_id);
        let request = pb::ApplyForVoucherRequest {
            request_id: request_id.clone(),
            program: self.program.wire(),
            amount: Some(to_money(self.amount)),
            provider_credit_codes: self.providers,
            contract_number: self.contract_number,
            contract_sha256: self
                .contract_sha256
                .or(self.contract_file_sha256)
                .unwrap_or_default(),
            purpose: self.purpose,
            other_subsidies: self.other_subsidies.unwrap_or_default(),
            enterprise_credit_code: String::new(),
        };
        let reply = client
            .apply_for_voucher(request)
            .await
            .map_err(|status| unsettled_failure(status, &request_id, "applying"))?
            .into_inner();
        output.record(&with_request_id(request_id, application_record(&reply)));
        Ok(())
    }
}

fn parse_sha256(text: &str) -> Result<String, String> {
    Sha256Hex::parse(text)
        .map(|_| text.to_owned())
        .map_err(|error| error.message)
}

/// The SHA-256 of the file at `path`, hex: read while the arguments are parsed, so that a
/// file that cannot be read stops voucherctl (exit 2) before it dials.
fn sha256_of_file(path: &str) -> Result<String, String> {
    let cannot = |error: std::io::Error| format!("cannot read {path}: {error}");
    let mut file = std::fs::File::open(Path::new(path)).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(cannot)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

#[derive(Args, Debug)]
pub struct ListApplications {
    /// The applying enterprise (an enterprise sees only its own).
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    #[arg(long)]
    status: Option<ApplicationStatusArgument>,
    #[command(flatten)]
    paging: Paging,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ApplicationStatusArgument {
    /// Waiting for the bureau.
    Pending,
    /// A voucher was issued on it.
    Approved,
    /// Refused; its contract may be applied for again.
    Rejected,
}

impl ApplicationStatusArgument {
    fn wire(self) -> i32 {
        let status = match self {
            ApplicationStatusArgument::Pending => pb::ApplicationStatus::Pending,
            ApplicationStatusArgument::Approved => pb::ApplicationStatus::Approved,
            ApplicationStatusArgument::Rejected => pb::ApplicationStatus::Rejected,
        };
        status as i32
    }
}

impl ListApplications {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let first_request = pb::ListApplicationsRequest {
            enterprise_credit_code: self.enterprise.unwrap_or_default(),
            status: self.status.map_or(
                pb::ApplicationStatus::Unspecified as i32,
                ApplicationStatusArgument::wire,
            ),
            page_size: self.paging.page_size(),
            page_token: String::new(),
        };
        paginate(output, &self.paging, "applications", async |page_token| {
            let request = pb::ListApplicationsRequest {
                page_token,
                ..first_request.clone()
            };
            let reply = client.list_applications(request).await?.into_inner();
            Ok(Page::of(
                &reply.applications,
                application_record,
                reply.next_page_token,
            ))
        })
        .await
    }
}

/// One application by its id: `get-application`.
#[derive(Args, Debug)]
pub struct ApplicationId {
    #[arg(value_parser = parse_code)]
    application_id: String,
}

impl ApplicationId {
    pub async fn get(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetApplicationRequest {
            application_id: self.application_id,
        };
        let reply = client.get_application(request).await?.into_inner();
        output.record(&application_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ApproveApplication {
    #[arg(value_parser = parse_code)]
    application_id: String,
    /// In yuan, less than the amount applied for. Default: the amount applied for.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    face_value: Option<Money>,
}

impl ApproveApplication {
    /// Issues the voucher; the application printed names it (voucher_id).
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::ApproveApplicationRequest {
            application_id: self.application_id,
            face_value: self.face_value.map(to_money),
        };
        let reply = client.approve_application(request).await?.into_inner();
        output.record(&application_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RejectApplication {
    #[arg(value_parser = parse_code)]
    application_id: String,
    #[arg(long)]
    reason: String,
}

impl RejectApplication {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RejectApplicationRequest {
            application_id: self.application_id,
            reason: self.reason,
        };
        let reply = client.reject_application(request).await?.into_inner();
        output.record(&application_record(&reply));
        Ok(())
    }
}

fn application_record(message: &pb::VoucherApplication) -> Record {
    vec![
        ("application_id", text(&message.application_id)),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("program", Value::Text(program_word(message.program))),
        (
            "status",
            Value::Text(application_status_word(message.status)),
        ),
        ("amount", Value::Money(message.amount.clone())),
        (
            "providers",
            Value::Text(message.provider_credit_codes.join(", ")),
        ),
        ("contract_number", text(&message.contract_number)),
        ("contract_sha256", text(&message.contract_sha256)),
        ("purpose", text(&message.purpose)),
        ("other_subsidies", optional(&message.other_subsidies)),
        ("applied_at", Value::Time(message.applied_at)),
        ("applied_by", Value::Actor(message.applied_by.clone())),
        ("decided_at", Value::Time(message.decided_at)),
        ("decided_by", Value::Actor(message.decided_by.clone())),
        ("voucher_id", optional(&message.voucher_id)),
        ("rejection_reason", optional(&message.rejection_reason)),
    ]
}
