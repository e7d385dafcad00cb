//! voucherctl: the command-line client of the Qidong voucher ledger (启东市 算力券 / 租赁券).
//!
//! One subcommand per RPC of `voucher.v1.VoucherLedger`. It speaks gRPC to `voucherd` at
//! `--addr` (default `http://127.0.0.1:50051`, env `VOUCHER_ADDR`) with the bearer token from
//! `--token` / `VOUCHER_TOKEN`, or `--token-file` / `VOUCHER_TOKEN_FILE`, or else
//! `./voucher-data/bureau.token` (the token `voucherd` writes on first start). Amounts are
//! typed in yuan (`10000`, `10,000.00`) and checked to the fen before anything is sent.
//! Replies print as `key: value` lines, or as one JSON object per line with `--json`.
//!
//! ```text
//! $ voucherctl --addr 127.0.0.1:50051 balance --enterprise 914403001922038216 --program compute
//! enterprise_credit_code: 914403001922038216
//! program: compute
//! cap: 2,000,000.00
//! ...
//! ```
//!
//! Exit codes: 0 success; 1 the ledger refused (the gRPC code, the ErrorInfo reason and the
//! message go to stderr); 2 bad usage or input; 3 the ledger cannot be reached.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Commands grouped by what they are about live beside this file (issue 13 splits the rest).
mod provider;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDate;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use voucher_ledger::wire::{to_date, to_money};
use voucher_ledger::client::{self as show, Record, describe_status, is_transport_failure};
use voucher_ledger::domain::dates::parse_date;
use voucher_ledger::domain::money::Money;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;

/// The token voucherd writes on first start, looked for when no token is given.
const DEFAULT_TOKEN_FILE: &str = "voucher-data/bureau.token";
/// `--all` stops after this many pages, however many remain.
const MAX_PAGES: usize = 1000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Command-line client of the Qidong voucher ledger (启东市 算力券 / 租赁券).
///
/// Exit codes: 0 success, 1 the ledger refused, 2 bad usage or input, 3 cannot connect.
#[derive(Parser, Debug)]
#[command(name = "voucherctl", version, about, after_help = EXAMPLES)]
struct Cli {
    /// The ledger's gRPC address: host:port or http://host:port.
    #[arg(
        long,
        global = true,
        env = "VOUCHER_ADDR",
        default_value = "http://127.0.0.1:50051",
        help_heading = GLOBAL
    )]
    addr: String,
    /// The bearer token. With no --token or --token-file (flag or env), voucherctl reads
    /// ./voucher-data/bureau.token. A flag beats an env variable.
    #[arg(
        long,
        global = true,
        env = "VOUCHER_TOKEN",
        hide_env_values = true,
        help_heading = GLOBAL
    )]
    token: Option<String>,
    /// A file holding the bearer token (surrounding whitespace is ignored).
    #[arg(
        long,
        global = true,
        env = "VOUCHER_TOKEN_FILE",
        value_name = "FILE",
        help_heading = GLOBAL
    )]
    token_file: Option<PathBuf>,
    /// Print each reply as one JSON object per line (money as "1234.56").
    #[arg(long, global = true, help_heading = GLOBAL)]
    json: bool,
    /// For https:// addresses: the CA that signed the server's certificate (PEM). Without it,
    /// the public web PKI roots are trusted.
    #[arg(long, global = true, env = "VOUCHER_CA_CERT", value_name = "FILE", help_heading = GLOBAL)]
    ca_cert: Option<PathBuf>,
    /// For https:// addresses: the name the server's certificate must carry, when it is not
    /// the host in --addr (a pod probing itself at https://127.0.0.1:50051 with a certificate
    /// for its Service's name, or a tunnel).
    #[arg(long, global = true, env = "VOUCHER_TLS_SERVER_NAME", value_name = "NAME", help_heading = GLOBAL)]
    tls_server_name: Option<String>,
    /// For mutual TLS: this client's certificate (PEM); a provider's names its credit code.
    #[arg(long, global = true, env = "VOUCHER_CLIENT_CERT", value_name = "FILE", requires = "client_key", help_heading = GLOBAL)]
    client_cert: Option<PathBuf>,
    /// The private key of --client-cert (PEM).
    #[arg(long, global = true, env = "VOUCHER_CLIENT_KEY", value_name = "FILE", requires = "client_cert", help_heading = GLOBAL)]
    client_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const GLOBAL: &str = "Global options";

const EXAMPLES: &str = "Examples:
  voucherctl issue-voucher --enterprise 914403001922038216 --program compute
  voucherctl --token-file provider.token redeem --voucher V000000000001 \\
      --enterprise 914403001922038216 --invoice-number 24322000000012345678 \\
      --invoice-date 2027-06-01 --amount 10,000.00
  voucherctl --json list-redemptions --enterprise 914403001922038216 --all";

#[derive(Subcommand, Debug)]
enum Command {
    /// Register an enterprise that may receive vouchers (bureau).
    RegisterEnterprise(RegisterEnterprise),
    /// Show one enterprise (bureau, auditor).
    GetEnterprise(GetEnterprise),
    /// Register a provider of the resource pool for one program (bureau).
    RegisterProvider(RegisterProvider),
    /// Create an API token; its secret is shown once (bureau).
    CreateToken(CreateToken),
    /// Revoke a token: it authenticates nothing from then on (bureau).
    RevokeToken(RevokeToken),
    /// Issue a voucher under the enterprise's cap (bureau). Idempotent by --request-id.
    IssueVoucher(IssueVoucher),
    /// Show one voucher (bureau, auditor).
    GetVoucher(GetVoucher),
    /// List vouchers, oldest first (bureau, auditor).
    ListVouchers(ListVouchers),
    /// Revoke a voucher, releasing its unredeemed remainder (bureau).
    RevokeVoucher(RevokeVoucher),
    /// Redeem a voucher against one invoice (provider, or bureau with --provider).
    Redeem(Redeem),
    /// Reverse (红冲) a redemption: the subsidy goes back (its provider, bureau).
    ReverseRedemption(ReverseRedemption),
    /// Show one redemption (bureau, auditor; a provider its own).
    GetRedemption(GetRedemption),
    /// List redemptions, oldest first (bureau, auditor; a provider its own).
    ListRedemptions(ListRedemptions),
    /// Show an enterprise's totals under one program's cap (bureau, auditor).
    Balance(Balance),
    /// The hash-chained event log (bureau, auditor).
    #[command(subcommand)]
    Events(Events),
    /// Replay the whole log on the server and check every stored record (bureau, auditor).
    /// Exit 0 when sound, 1 on any problem.
    Verify,
    /// Write a consistent backup of the ledger to FILE while it keeps serving (bureau).
    /// Restore it with `voucherd restore FILE --data-dir NEW`.
    Backup(Backup),
    /// A program's totals in one cap period, with each provider's (bureau, auditor).
    ProgramSummary(ProgramPeriodArguments),
    /// Every enterprise's balance under a program in one cap period (bureau, auditor).
    ListBalances(ListBalances),
    /// Write the bureau's report of a program and year as CSV or XLSX (bureau, auditor).
    Report(Report),
    /// Ask the server's gRPC health service; exit 0 when it is serving (no token needed).
    Health,
    /// Approve a claim on review, so it can be settled (bureau).
    Approve(RedemptionIdArgument),
    /// Reject a claim on review, releasing its subsidy (bureau).
    Reject(Reject),
    /// Settlement statements (拨付): create, show, list, export for the payment voucher.
    #[command(subcommand)]
    Settlement(SettlementCommand),
    /// A program's budget in one cap period, and what is committed, redeemed, settled (bureau, auditor).
    Budget(ProgramPeriodArguments),
    /// Record that a provider and an enterprise are related parties (关联方) (bureau).
    RelatedParties(RelatedPartiesArguments),
    /// A provider's access: show, suspend, reinstate, pin or revoke a client certificate.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
}

#[derive(Args, Debug)]
struct RedemptionIdArgument {
    redemption_id: String,
}

#[derive(Args, Debug)]
struct Reject {
    redemption_id: String,
    #[arg(long)]
    reason: String,
}

#[derive(Subcommand, Debug)]
enum SettlementCommand {
    /// Settle a provider's approved claims with invoices up to a date (bureau). Idempotent by --request-id.
    Create(CreateSettlement),
    /// One statement with its lines.
    Get { settlement_id: String },
    /// Statements, oldest first.
    List(ListSettlements),
    /// Write a statement as CSV or XLSX, for the payment voucher (付款凭证).
    Export(ExportSettlement),
    /// Record that a statement's net was paid (bureau): the bank's reference and the day.
    Pay(PaySettlement),
}

#[derive(Args, Debug)]
struct PaySettlement {
    settlement_id: String,
    /// The bank's or treasury's reference for the transfer.
    #[arg(long)]
    bank_reference: String,
    /// The day the money moved (YYYY-MM-DD); not before the statement, not after today.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    paid_on: NaiveDate,
}

#[derive(Args, Debug)]
struct CreateSettlement {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: String,
    #[arg(long)]
    program: ProgramArg,
    /// Claims with invoices dated up to this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    up_to: NaiveDate,
    /// The idempotency key; a fresh UUID by default (printed, to retry with).
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Args, Debug)]
struct ListSettlements {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    #[arg(long)]
    program: Option<ProgramArg>,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args, Debug)]
struct ExportSettlement {
    settlement_id: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Xlsx)]
    format: ReportFormat,
    /// The file to write (default: <settlement id>.<format>).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RelatedPartiesArguments {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: String,
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[arg(long)]
    reason: String,
}

#[derive(Args, Debug)]
struct ProgramPeriodArguments {
    #[arg(long)]
    program: ProgramArg,
    /// The cap period holding this day (YYYY-MM-DD). Default: today's.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on_date: Option<NaiveDate>,
}

#[derive(Args, Debug)]
struct ListBalances {
    #[command(flatten)]
    period: ProgramPeriodArguments,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args, Debug)]
struct Report {
    #[arg(long)]
    program: ProgramArg,
    /// The calendar year (the cap period of compute vouchers; leasing has one period).
    #[arg(long, value_parser = clap::value_parser!(i32).range(2000..=2100))]
    year: i32,
    #[arg(long, value_enum, default_value_t = ReportFormat::Xlsx)]
    format: ReportFormat,
    /// The file to write (default: report-<program>-<year>.<format>).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    /// UTF-8 with a byte-order mark, so Excel shows Chinese.
    Csv,
    Xlsx,
}

#[derive(Subcommand, Debug)]
enum Events {
    /// Write events as JSON Lines, one per line, each with its own SHA-256 and its
    /// predecessor's: remove the last field `,"sha256":"…"` of a line and hash the rest.
    Export(EventsExport),
}

#[derive(Args, Debug)]
struct EventsExport {
    /// The first event to write (default: the first).
    #[arg(long, value_name = "SEQUENCE", default_value_t = 1)]
    from: u64,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct Backup {
    /// Where to write the backup; written to FILE.partial first, synced, then renamed.
    file: PathBuf,
}

#[derive(Args, Debug)]
struct RegisterEnterprise {
    /// 统一社会信用代码, 18 characters.
    #[arg(long)]
    credit_code: String,
    #[arg(long)]
    name: String,
    /// Why to accept a code whose check digit is wrong.
    #[arg(long, value_name = "REASON")]
    override_reason: Option<String>,
}

#[derive(Args, Debug)]
struct GetEnterprise {
    credit_code: String,
}

#[derive(Args, Debug)]
struct RegisterProvider {
    /// 统一社会信用代码, 18 characters.
    #[arg(long)]
    credit_code: String,
    #[arg(long)]
    name: String,
    /// The one program this provider may redeem vouchers of.
    #[arg(long)]
    program: ProgramArg,
    /// Why to accept a code whose check digit is wrong.
    #[arg(long, value_name = "REASON")]
    override_reason: Option<String>,
}

#[derive(Args, Debug)]
struct CreateToken {
    #[arg(long)]
    role: RoleArg,
    /// The provider the token speaks for: required with --role provider, refused otherwise.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    /// Who holds the token and why, for the audit trail.
    #[arg(long)]
    description: Option<String>,
}

#[derive(Args, Debug)]
struct RevokeToken {
    token_id: String,
}

#[derive(Args, Debug)]
struct IssueVoucher {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[arg(long)]
    program: ProgramArg,
    /// In yuan. Default: all that is still uncommitted under the cap.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    face_value: Option<Money>,
    /// YYYY-MM-DD. Default: the start of the cap period holding today.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    valid_from: Option<NaiveDate>,
    /// YYYY-MM-DD. Default: the end of the cap period holding valid-from.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    valid_until: Option<NaiveDate>,
    /// Idempotency key. Default: a fresh UUID, printed so a retry can reuse it.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

#[derive(Args, Debug)]
struct GetVoucher {
    voucher_id: String,
}

#[derive(Args, Debug)]
struct ListVouchers {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    #[arg(long)]
    program: Option<ProgramArg>,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args, Debug)]
struct RevokeVoucher {
    voucher_id: String,
    #[arg(long)]
    reason: String,
}

#[derive(Args, Debug)]
struct Redeem {
    /// The voucher to redeem.
    #[arg(long, value_name = "VOUCHER_ID")]
    voucher: String,
    /// The invoice's buyer.
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    /// 发票号码: 20 digits, or <10 or 12-digit code>-<8-digit number>.
    #[arg(long, value_name = "NUMBER")]
    invoice_number: String,
    /// YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    invoice_date: NaiveDate,
    /// The invoice amount actually paid, in yuan.
    #[arg(long, value_name = "YUAN", value_parser = parse_yuan)]
    amount: Money,
    /// The invoice's seller: required when the bureau redeems on its behalf.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    /// Grant what is left when the full subsidy does not fit.
    #[arg(long)]
    allow_partial: bool,
    /// A document behind the claim, KIND:SHA256:REFERENCE, where KIND is contract,
    /// payment_receipt, delivery_proof or deployment_proof. Repeat for several.
    #[arg(long, value_name = "KIND:SHA256:REFERENCE", value_parser = parse_evidence)]
    evidence: Vec<pb::Evidence>,
}

fn parse_evidence(text: &str) -> Result<pb::Evidence, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(kind), Some(sha256), Some(reference)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected KIND:SHA256:REFERENCE".to_owned());
    };
    let kind = match kind {
        "contract" => pb::EvidenceKind::Contract,
        "payment_receipt" => pb::EvidenceKind::PaymentReceipt,
        "delivery_proof" => pb::EvidenceKind::DeliveryProof,
        "deployment_proof" => pb::EvidenceKind::DeploymentProof,
        other => {
            return Err(format!(
                "{other:?} is not contract, payment_receipt, delivery_proof or deployment_proof"
            ));
        }
    };
    voucher_ledger::domain::model::Sha256Hex::parse(sha256).map_err(|error| error.message)?;
    Ok(pb::Evidence {
        kind: kind as i32,
        sha256: sha256.to_owned(),
        reference: reference.to_owned(),
    })
}

#[derive(Args, Debug)]
struct ReverseRedemption {
    redemption_id: String,
    #[arg(long)]
    reason: String,
}

#[derive(Args, Debug)]
struct GetRedemption {
    redemption_id: String,
}

#[derive(Args, Debug)]
struct ListRedemptions {
    /// The invoice's buyer.
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    /// The invoice's seller.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    #[arg(long)]
    program: Option<ProgramArg>,
    /// Invoices dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: Option<NaiveDate>,
    /// Invoices dated on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    to: Option<NaiveDate>,
    #[command(flatten)]
    paging: Paging,
}

#[derive(Args, Debug)]
struct Balance {
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[arg(long)]
    program: ProgramArg,
    /// The cap period holding this day (YYYY-MM-DD). Default: today's.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on_date: Option<NaiveDate>,
}

#[derive(Args, Debug)]
struct Paging {
    /// Results per page, 1 to 1000 (the server's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    page_size: Option<i32>,
    /// Continue from a previous reply's next_page_token.
    #[arg(long, value_name = "TOKEN")]
    page_token: Option<String>,
    /// Follow next_page_token to the end (at most 1,000 pages).
    #[arg(long)]
    all: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ProgramArg {
    /// 算力券
    Compute,
    /// 租赁券
    Leasing,
    /// 语料补贴 (only if the policy file opens it)
    Corpus,
}

impl ProgramArg {
    fn wire(self) -> i32 {
        let program = match self {
            ProgramArg::Compute => pb::Program::Compute,
            ProgramArg::Leasing => pb::Program::Leasing,
            ProgramArg::Corpus => pb::Program::Corpus,
        };
        program as i32
    }
}

fn optional_program(program: Option<ProgramArg>) -> i32 {
    program.map_or(pb::Program::Unspecified as i32, ProgramArg::wire)
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RoleArg {
    /// 数据局 / 科技局 operators: everything.
    Bureau,
    /// A provider, bound to its own credit code (needs --provider).
    Provider,
    /// 审计 / 财政: every query, no change.
    Auditor,
}

impl RoleArg {
    fn wire(self) -> i32 {
        let role = match self {
            RoleArg::Bureau => pb::Role::Bureau,
            RoleArg::Provider => pb::Role::Provider,
            RoleArg::Auditor => pb::Role::Auditor,
        };
        role as i32
    }
}

fn parse_yuan(text: &str) -> Result<Money, String> {
    Money::parse_yuan(text).map_err(|error| error.message)
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    parse_date(text).map_err(|error| error.message)
}

/// Why voucherctl stops, and so its exit code.
#[derive(Debug)]
enum Failure {
    /// Bad usage or input: exit 2.
    Usage(String),
    /// The ledger cannot be reached: exit 3.
    Connect(String),
    /// The ledger or its data failed a check: exit 1.
    Refused(String),
    /// The ledger refused (exit 1) or the call broke on the way (exit 3).
    Call {
        status: Status,
        note: Option<String>,
    },
}

impl From<Status> for Failure {
    fn from(status: Status) -> Failure {
        Failure::Call { status, note: None }
    }
}

impl Failure {
    fn report(self, token_origin: Option<&str>) -> ExitCode {
        match self {
            Failure::Usage(message) => fail(2, &message),
            Failure::Connect(message) => fail(3, &message),
            Failure::Refused(message) => fail(1, &message),
            Failure::Call { status, note } => {
                let code = if is_transport_failure(&status) { 3 } else { 1 };
                let exit = fail(code, &describe_status(&status));
                if let Some(note) = note {
                    eprintln!("note: {note}");
                }
                if let (Code::Unauthenticated, Some(origin)) = (status.code(), token_origin) {
                    eprintln!("note: the token came from {origin}");
                }
                exit
            }
        }
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// The bearer token and where it came from (named in hints, never the secret itself).
struct Token {
    header: MetadataValue<Ascii>,
    origin: String,
}

fn came_from_command_line(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// `--token` or `--token-file` on the command line beat either in the environment, which
/// beat `./voucher-data/bureau.token`.
fn resolve_token(cli: &Cli, matches: &ArgMatches) -> Result<Token, Failure> {
    let token_flag = came_from_command_line(matches, "token");
    let file_flag = came_from_command_line(matches, "token_file");
    match (&cli.token, &cli.token_file) {
        _ if token_flag && file_flag => Err(Failure::Usage(
            "give --token or --token-file, not both".to_owned(),
        )),
        (_, Some(path)) if file_flag => token_from_file(path),
        (Some(secret), _) if token_flag => token_from_text(secret, "--token"),
        (Some(secret), _) => token_from_text(secret, "VOUCHER_TOKEN"),
        (None, Some(path)) => token_from_file(path),
        (None, None) => default_token(),
    }
}

fn default_token() -> Result<Token, Failure> {
    let path = Path::new(".").join(DEFAULT_TOKEN_FILE);
    if path.is_file() {
        return token_from_file(&path);
    }
    Err(Failure::Usage(format!(
        "no token: give --token, --token-file, VOUCHER_TOKEN or VOUCHER_TOKEN_FILE \
         (or run where {} exists)",
        path.display()
    )))
}

fn token_from_file(path: &Path) -> Result<Token, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Failure::Usage(format!(
            "cannot read token file {}: {error}",
            path.display()
        ))
    })?;
    token_from_text(&text, &path.display().to_string())
}

fn token_from_text(text: &str, origin: &str) -> Result<Token, Failure> {
    let secret = text.trim();
    if secret.is_empty() {
        return Err(Failure::Usage(format!("the token from {origin} is empty")));
    }
    let header = MetadataValue::try_from(format!("Bearer {secret}")).map_err(|_| {
        Failure::Usage(format!(
            "the token from {origin} holds characters a token cannot have"
        ))
    })?;
    Ok(Token {
        header,
        origin: origin.to_owned(),
    })
}

/// Puts `authorization: Bearer <token>` on every call.
#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Client = VoucherLedgerClient<InterceptedService<Channel, Bearer>>;

async fn connect(cli: &Cli, token: &Token) -> Result<Client, Failure> {
    let channel = open_channel(cli, CALL_TIMEOUT).await?;
    Ok(VoucherLedgerClient::with_interceptor(
        channel,
        Bearer(token.header.clone()),
    ))
}

/// A channel to `--addr`, over TLS for https:// (with `--ca-cert`, and `--client-cert` for mTLS).
async fn open_channel(cli: &Cli, timeout: Duration) -> Result<Channel, Failure> {
    let address = &cli.addr;
    let uri = show::normalize_address(address).map_err(Failure::Usage)?;
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|error| Failure::Usage(format!("--addr {address:?} is not an address: {error}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout);
    if uri.starts_with("https://") {
        endpoint = endpoint
            .tls_config(client_tls(cli)?)
            .map_err(|error| Failure::Usage(format!("TLS: {}", show::error_chain(&error))))?;
    }
    endpoint.connect().await.map_err(|error| {
        Failure::Connect(format!(
            "cannot connect to {uri}: {}",
            show::error_chain(&error)
        ))
    })
}

fn client_tls(cli: &Cli) -> Result<tonic::transport::ClientTlsConfig, Failure> {
    let read = |flag: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|error| Failure::Usage(format!("{flag} {}: {error}", path.display())))
    };
    let mut tls = tonic::transport::ClientTlsConfig::new();
    tls = match &cli.ca_cert {
        Some(path) => tls.ca_certificate(tonic::transport::Certificate::from_pem(read(
            "--ca-cert",
            path,
        )?)),
        None => tls.with_webpki_roots(),
    };
    if let Some(name) = &cli.tls_server_name {
        tls = tls.domain_name(name.as_str());
    }
    if let (Some(certificate), Some(key)) = (&cli.client_cert, &cli.client_key) {
        let identity = tonic::transport::Identity::from_pem(
            read("--client-cert", certificate)?,
            read("--client-key", key)?,
        );
        tls = tls.identity(identity);
    }
    Ok(tls)
}

/// Where replies go: `key: value` blocks, or one JSON object per line.
struct Output {
    json: bool,
}

impl Output {
    fn record(&self, record: &Record) {
        if self.json {
            emit(&format!("{}\n", show::to_json(record)));
        } else {
            emit(&show::to_lines(record));
        }
    }

    /// One page of a list; `shown` items were printed before it.
    fn page(&self, items_key: &str, page: &Page, shown: usize) {
        if self.json {
            let object = show::page_to_json(items_key, &page.records, &page.next_page_token);
            emit(&format!("{object}\n"));
            return;
        }
        for (index, record) in page.records.iter().enumerate() {
            if shown + index > 0 {
                emit("\n");
            }
            emit(&show::to_lines(record));
        }
    }

    /// After the last page: say when nothing was found and how to continue.
    fn end_of_list(&self, items_key: &str, shown: usize, next_page_token: &str) {
        if self.json {
            return;
        }
        if shown == 0 {
            emit(&format!("(no {items_key})\n"));
        }
        if !next_page_token.is_empty() {
            emit(&format!("\nnext_page_token: {next_page_token}\n"));
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// One page of a list reply.
struct Page {
    records: Vec<Record>,
    next_page_token: String,
}

/// Fetches one page, or with `--all` follows next_page_token for at most [`MAX_PAGES`] pages.
async fn paginate<F, Fut>(
    output: &Output,
    paging: &Paging,
    items_key: &str,
    mut fetch: F,
) -> Result<(), Failure>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page, Status>>,
{
    let pages = if paging.all { MAX_PAGES } else { 1 };
    let mut token = paging.page_token.clone().unwrap_or_default();
    let mut shown = 0;
    for _ in 0..pages {
        let page = fetch(token).await?;
        output.page(items_key, &page, shown);
        shown += page.records.len();
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    output.end_of_list(items_key, shown, &token);
    if paging.all && !token.is_empty() {
        eprintln!("note: stopped after {MAX_PAGES} pages; continue with --page-token {token}");
    }
    Ok(())
}

fn main() -> ExitCode {
    // Backups, exports and reports hold what the ledger holds.
    voucher_ledger::private_files::make_new_files_private();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if matches!(cli.command, Command::Health) {
        return health(&cli);
    }
    let token = match resolve_token(&cli, &matches) {
        Ok(token) => token,
        Err(failure) => return failure.report(None),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(3, &format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(run(cli, &token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(Some(&token.origin)),
    }
}

async fn run(cli: Cli, token: &Token) -> Result<(), Failure> {
    check_usage(&cli.command)?;
    let mut client = connect(&cli, token).await?;
    let output = Output { json: cli.json };
    execute(cli.command, &mut client, &output).await
}

/// What clap cannot say on its own, checked before dialling.
fn check_usage(command: &Command) -> Result<(), Failure> {
    let Command::CreateToken(arguments) = command else {
        return Ok(());
    };
    match (arguments.role, &arguments.provider) {
        (RoleArg::Provider, None) => Err(Failure::Usage(
            "--role provider needs --provider <CREDIT_CODE>".to_owned(),
        )),
        (RoleArg::Bureau | RoleArg::Auditor, Some(_)) => Err(Failure::Usage(
            "--provider goes only with --role provider".to_owned(),
        )),
        _ => Ok(()),
    }
}

async fn execute(command: Command, client: &mut Client, output: &Output) -> Result<(), Failure> {
    match command {
        Command::RegisterEnterprise(arguments) => {
            register_enterprise(client, output, arguments).await
        }
        Command::GetEnterprise(arguments) => get_enterprise(client, output, arguments).await,
        Command::RegisterProvider(arguments) => register_provider(client, output, arguments).await,
        Command::CreateToken(arguments) => create_token(client, output, arguments).await,
        Command::RevokeToken(arguments) => revoke_token(client, output, arguments).await,
        Command::IssueVoucher(arguments) => issue_voucher(client, output, arguments).await,
        Command::GetVoucher(arguments) => get_voucher(client, output, arguments).await,
        Command::ListVouchers(arguments) => list_vouchers(client, output, arguments).await,
        Command::RevokeVoucher(arguments) => revoke_voucher(client, output, arguments).await,
        Command::Redeem(arguments) => redeem(client, output, arguments).await,
        Command::ReverseRedemption(arguments) => {
            reverse_redemption(client, output, arguments).await
        }
        Command::GetRedemption(arguments) => get_redemption(client, output, arguments).await,
        Command::ListRedemptions(arguments) => list_redemptions(client, output, arguments).await,
        Command::Balance(arguments) => balance(client, output, arguments).await,
        Command::Events(Events::Export(arguments)) => export_events(client, arguments).await,
        Command::Verify => verify(client, output).await,
        Command::Backup(arguments) => backup(client, arguments).await,
        Command::ProgramSummary(arguments) => program_summary(client, output, arguments).await,
        Command::ListBalances(arguments) => list_balances(client, output, arguments).await,
        Command::Report(arguments) => report(client, arguments).await,
        Command::Health => unreachable!("health is answered before a token is read"),
        Command::Approve(arguments) => approve(client, output, arguments).await,
        Command::Reject(arguments) => reject(client, output, arguments).await,
        Command::Settlement(SettlementCommand::Create(arguments)) => {
            create_settlement(client, output, arguments).await
        }
        Command::Settlement(SettlementCommand::Get { settlement_id }) => {
            get_settlement(client, output, settlement_id).await
        }
        Command::Settlement(SettlementCommand::List(arguments)) => {
            list_settlements(client, output, arguments).await
        }
        Command::Settlement(SettlementCommand::Export(arguments)) => {
            export_settlement(client, arguments).await
        }
        Command::Settlement(SettlementCommand::Pay(arguments)) => {
            pay_settlement(client, output, arguments).await
        }
        Command::Budget(arguments) => budget(client, output, arguments).await,
        Command::RelatedParties(arguments) => related_parties(client, output, arguments).await,
        Command::Provider(command) => provider::run(command, client, output).await,
    }
}

async fn register_enterprise(
    client: &mut Client,
    output: &Output,
    arguments: RegisterEnterprise,
) -> Result<(), Failure> {
    let request = pb::RegisterEnterpriseRequest {
        credit_code: arguments.credit_code,
        name: arguments.name,
        check_digit_override_reason: arguments.override_reason.unwrap_or_default(),
    };
    let reply = client.register_enterprise(request).await?.into_inner();
    output.record(&show::enterprise(&reply));
    Ok(())
}

async fn get_enterprise(
    client: &mut Client,
    output: &Output,
    arguments: GetEnterprise,
) -> Result<(), Failure> {
    let request = pb::GetEnterpriseRequest {
        credit_code: arguments.credit_code,
    };
    let reply = client.get_enterprise(request).await?.into_inner();
    output.record(&show::enterprise(&reply));
    Ok(())
}

async fn register_provider(
    client: &mut Client,
    output: &Output,
    arguments: RegisterProvider,
) -> Result<(), Failure> {
    let request = pb::RegisterProviderRequest {
        credit_code: arguments.credit_code,
        name: arguments.name,
        program: arguments.program.wire(),
        check_digit_override_reason: arguments.override_reason.unwrap_or_default(),
    };
    let reply = client.register_provider(request).await?.into_inner();
    output.record(&show::provider(&reply));
    Ok(())
}

async fn create_token(
    client: &mut Client,
    output: &Output,
    arguments: CreateToken,
) -> Result<(), Failure> {
    let request = pb::CreateTokenRequest {
        role: arguments.role.wire(),
        provider_credit_code: arguments.provider.unwrap_or_default(),
        description: arguments.description.unwrap_or_default(),
    };
    let reply = client.create_token(request).await?.into_inner();
    output.record(&show::created_token(&reply));
    let warning = "note: the token is shown once; the ledger keeps only its SHA-256. Store it now.";
    if output.json {
        eprintln!("{warning}");
    } else {
        emit(&format!("{warning}\n"));
    }
    Ok(())
}

async fn revoke_token(
    client: &mut Client,
    output: &Output,
    arguments: RevokeToken,
) -> Result<(), Failure> {
    let request = pb::RevokeTokenRequest {
        token_id: arguments.token_id.clone(),
    };
    client.revoke_token(request).await?;
    output.record(&show::revoked_token(&arguments.token_id));
    Ok(())
}

async fn issue_voucher(
    client: &mut Client,
    output: &Output,
    arguments: IssueVoucher,
) -> Result<(), Failure> {
    let request_id = arguments
        .request_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let request = pb::IssueVoucherRequest {
        request_id: request_id.clone(),
        enterprise_credit_code: arguments.enterprise,
        program: arguments.program.wire(),
        face_value: arguments.face_value.map(to_money),
        valid_from: arguments.valid_from.map(to_date).unwrap_or_default(),
        valid_until: arguments.valid_until.map(to_date).unwrap_or_default(),
    };
    let reply = client
        .issue_voucher(request)
        .await
        .map_err(|status| {
            let note = outcome_unsettled(&status).then(|| {
                format!(
                    "request_id was {request_id}; to retry without risk of issuing twice, \
                     repeat the command with --request-id {request_id}"
                )
            });
            Failure::Call { status, note }
        })?
        .into_inner();
    let mut record = vec![("request_id", show::Value::Text(request_id))];
    record.extend(show::voucher(&reply));
    output.record(&record);
    Ok(())
}

/// False for refusals that the same request would meet again: retrying them is pointless.
fn outcome_unsettled(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unauthenticated
    )
}

async fn get_voucher(
    client: &mut Client,
    output: &Output,
    arguments: GetVoucher,
) -> Result<(), Failure> {
    let request = pb::GetVoucherRequest {
        voucher_id: arguments.voucher_id,
    };
    let reply = client.get_voucher(request).await?.into_inner();
    output.record(&show::voucher(&reply));
    Ok(())
}

async fn list_vouchers(
    client: &mut Client,
    output: &Output,
    arguments: ListVouchers,
) -> Result<(), Failure> {
    let template = pb::ListVouchersRequest {
        enterprise_credit_code: arguments.enterprise.unwrap_or_default(),
        program: optional_program(arguments.program),
        page_size: arguments.paging.page_size.unwrap_or(0),
        page_token: String::new(),
    };
    paginate(output, &arguments.paging, "vouchers", |page_token| {
        let mut client = client.clone();
        let request = pb::ListVouchersRequest {
            page_token,
            ..template.clone()
        };
        async move {
            let reply = client.list_vouchers(request).await?.into_inner();
            Ok(Page {
                records: reply.vouchers.iter().map(show::voucher).collect(),
                next_page_token: reply.next_page_token,
            })
        }
    })
    .await
}

async fn revoke_voucher(
    client: &mut Client,
    output: &Output,
    arguments: RevokeVoucher,
) -> Result<(), Failure> {
    let request = pb::RevokeVoucherRequest {
        voucher_id: arguments.voucher_id,
        reason: arguments.reason,
    };
    let reply = client.revoke_voucher(request).await?.into_inner();
    output.record(&show::voucher(&reply));
    Ok(())
}

async fn redeem(client: &mut Client, output: &Output, arguments: Redeem) -> Result<(), Failure> {
    let request = pb::RedeemRequest {
        voucher_id: arguments.voucher,
        provider_credit_code: arguments.provider.unwrap_or_default(),
        enterprise_credit_code: arguments.enterprise,
        invoice_number: arguments.invoice_number,
        invoice_date: to_date(arguments.invoice_date),
        invoice_amount: Some(to_money(arguments.amount)),
        allow_partial: arguments.allow_partial,
        evidence: arguments.evidence,
    };
    let reply = client.redeem(request).await?.into_inner();
    output.record(&show::redemption(&reply));
    Ok(())
}

async fn reverse_redemption(
    client: &mut Client,
    output: &Output,
    arguments: ReverseRedemption,
) -> Result<(), Failure> {
    let request = pb::ReverseRedemptionRequest {
        redemption_id: arguments.redemption_id,
        reason: arguments.reason,
    };
    let reply = client.reverse_redemption(request).await?.into_inner();
    output.record(&show::redemption(&reply));
    Ok(())
}

async fn get_redemption(
    client: &mut Client,
    output: &Output,
    arguments: GetRedemption,
) -> Result<(), Failure> {
    let request = pb::GetRedemptionRequest {
        redemption_id: arguments.redemption_id,
    };
    let reply = client.get_redemption(request).await?.into_inner();
    output.record(&show::redemption(&reply));
    Ok(())
}

async fn list_redemptions(
    client: &mut Client,
    output: &Output,
    arguments: ListRedemptions,
) -> Result<(), Failure> {
    let template = pb::ListRedemptionsRequest {
        enterprise_credit_code: arguments.enterprise.unwrap_or_default(),
        provider_credit_code: arguments.provider.unwrap_or_default(),
        program: optional_program(arguments.program),
        invoice_date_from: arguments.from.map(to_date).unwrap_or_default(),
        invoice_date_to: arguments.to.map(to_date).unwrap_or_default(),
        page_size: arguments.paging.page_size.unwrap_or(0),
        page_token: String::new(),
    };
    paginate(output, &arguments.paging, "redemptions", |page_token| {
        let mut client = client.clone();
        let request = pb::ListRedemptionsRequest {
            page_token,
            ..template.clone()
        };
        async move {
            let reply = client.list_redemptions(request).await?.into_inner();
            Ok(Page {
                records: reply.redemptions.iter().map(show::redemption).collect(),
                next_page_token: reply.next_page_token,
            })
        }
    })
    .await
}

async fn balance(client: &mut Client, output: &Output, arguments: Balance) -> Result<(), Failure> {
    let request = pb::GetBalanceRequest {
        enterprise_credit_code: arguments.enterprise,
        program: arguments.program.wire(),
        on_date: arguments.on_date.map(to_date).unwrap_or_default(),
    };
    let reply = client.get_balance(request).await?.into_inner();
    output.record(&show::balance(&reply));
    Ok(())
}

async fn export_events(client: &mut Client, arguments: EventsExport) -> Result<(), Failure> {
    let request = pb::ListEventsRequest {
        from_sequence: arguments.from,
        max_events: 0,
    };
    let mut stream = client.list_events(request).await?.into_inner();
    let mut sink: Box<dyn Write> = match &arguments.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                Failure::Usage(format!("cannot write {}: {error}", path.display()))
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut written = 0u64;
    let progress = progress_counter("events");
    while let Some(event) = stream.message().await? {
        progress.inc(1);
        writeln!(sink, "{}", event.json)
            .map_err(|error| Failure::Usage(format!("cannot write: {error}")))?;
        written += 1;
    }
    progress.finish_and_clear();
    sink.flush()
        .map_err(|error| Failure::Usage(format!("cannot write: {error}")))?;
    if let Some(path) = &arguments.output {
        eprintln!("wrote {written} events to {}", path.display());
    }
    Ok(())
}

async fn verify(client: &mut Client, output: &Output) -> Result<(), Failure> {
    let report = client.verify(pb::VerifyRequest {}).await?.into_inner();
    if output.json {
        let problems: Vec<serde_json::Value> = report
            .problems
            .iter()
            .map(|p| serde_json::Value::from(p.as_str()))
            .collect();
        let object = serde_json::json!({
            "sound": report.sound,
            "events": report.events,
            "head_sha256": report.head_sha256,
            "records_checked": report.records_checked,
            "first_bad_event": report.first_bad_event,
            "problems": problems,
        });
        emit(&format!("{object}\n"));
    } else {
        emit(&report.report);
    }
    if report.sound {
        Ok(())
    } else {
        Err(Failure::Refused(format!(
            "verify found {} problems",
            report.problems.len()
        )))
    }
}

async fn backup(client: &mut Client, arguments: Backup) -> Result<(), Failure> {
    let partial = arguments.file.with_extension("partial");
    let cannot = |error: std::io::Error| {
        Failure::Usage(format!("cannot write {}: {error}", partial.display()))
    };
    let mut file = std::fs::File::create(&partial).map_err(cannot)?;
    let mut stream = client.backup(pb::BackupRequest {}).await?.into_inner();
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let progress = progress_counter("bytes");
    while let Some(chunk) = stream.message().await? {
        progress.inc(chunk.data.len() as u64);
        hash.update(&chunk.data);
        bytes += chunk.data.len() as u64;
        file.write_all(&chunk.data).map_err(cannot)?;
    }
    progress.finish_and_clear();
    file.sync_all().map_err(cannot)?;
    drop(file);
    let summary = check_backup_file(&partial)?;
    std::fs::rename(&partial, &arguments.file).map_err(cannot)?;
    if let Some(directory) = arguments
        .file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(cannot)?;
    }
    emit(&format!(
        "backup: {}\nevents: {}\nhead_sha256: {}\nbytes: {bytes}\nfile_sha256: {}\n",
        arguments.file.display(),
        summary.events,
        summary.head_sha256,
        hex::encode(hash.finalize())
    ));
    Ok(())
}

/// Reads the written file back and checks every line, the chain and the trailer.
fn check_backup_file(path: &Path) -> Result<voucher_ledger::store::backup::BackupSummary, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", path.display())))?;
    voucher_ledger::store::backup::check_backup(std::io::BufReader::new(file)).map_err(|error| {
        Failure::Refused(format!(
            "the backup written to {} does not check out: {error}",
            path.display()
        ))
    })
}

async fn program_summary(
    client: &mut Client,
    output: &Output,
    arguments: ProgramPeriodArguments,
) -> Result<(), Failure> {
    let request = pb::ProgramSummaryRequest {
        program: arguments.program.wire(),
        on_date: arguments.on_date.map(to_date).unwrap_or_default(),
    };
    let summary = client.program_summary(request).await?.into_inner();
    output.record(&show::program_summary(&summary));
    for provider in &summary.providers {
        if !output.json {
            emit("\n");
        }
        output.record(&show::provider_total(provider));
    }
    Ok(())
}

async fn list_balances(
    client: &mut Client,
    output: &Output,
    arguments: ListBalances,
) -> Result<(), Failure> {
    let template = pb::ListBalancesRequest {
        program: arguments.period.program.wire(),
        on_date: arguments.period.on_date.map(to_date).unwrap_or_default(),
        page_size: arguments.paging.page_size.unwrap_or(0),
        page_token: String::new(),
    };
    paginate(output, &arguments.paging, "balances", |page_token| {
        let mut client = client.clone();
        let request = pb::ListBalancesRequest {
            page_token,
            ..template.clone()
        };
        async move {
            let reply = client.list_balances(request).await?.into_inner();
            Ok(Page {
                records: reply.balances.iter().map(show::balance).collect(),
                next_page_token: reply.next_page_token,
            })
        }
    })
    .await
}

/// Gathers the summary and every balance (page by page, with a progress bar on a terminal),
/// then writes the report file.
async fn report(client: &mut Client, arguments: Report) -> Result<(), Failure> {
    let program = arguments.program.wire();
    let on_date = report_day(arguments.year);
    let summary = client
        .program_summary(pb::ProgramSummaryRequest {
            program,
            on_date: on_date.clone(),
        })
        .await?
        .into_inner();
    let progress = progress_bar(summary.enterprises, "enterprises");
    let mut enterprises = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let request = pb::ListBalancesRequest {
            program,
            on_date: on_date.clone(),
            page_size: 1000,
            page_token,
        };
        let reply = client.list_balances(request).await?.into_inner();
        progress.inc(reply.balances.len() as u64);
        enterprises.extend(reply.balances.iter().map(enterprise_line));
        if reply.next_page_token.is_empty() {
            break;
        }
        page_token = reply.next_page_token;
    }
    progress.finish_and_clear();
    let document = voucher_ledger::report::Report {
        program: format!(
            "{} ({})",
            show::program_word(program),
            summary.period_start.get(..4).unwrap_or_default()
        ),
        period_start: summary.period_start.clone(),
        period_end: summary.period_end.clone(),
        committed: money(&summary.committed),
        redeemed: money(&summary.redeemed),
        reversed: money(&summary.reversed),
        enterprises,
        providers: summary.providers.iter().map(provider_line).collect(),
    };
    let extension = if arguments.format == ReportFormat::Csv {
        "csv"
    } else {
        "xlsx"
    };
    let path = arguments.output.unwrap_or_else(|| {
        PathBuf::from(format!(
            "report-{}-{}.{extension}",
            show::program_word(program),
            arguments.year
        ))
    });
    write_report(&document, arguments.format, &path)?;
    emit(&format!(
        "report: {}\nenterprises: {}\nproviders: {}\n",
        path.display(),
        document.enterprises.len(),
        document.providers.len()
    ));
    Ok(())
}

fn write_report(
    document: &voucher_ledger::report::Report,
    format: ReportFormat,
    path: &Path,
) -> Result<(), Failure> {
    let cannot =
        |error: String| Failure::Usage(format!("cannot write {}: {error}", path.display()));
    match format {
        ReportFormat::Csv => {
            let file = std::fs::File::create(path).map_err(|error| cannot(error.to_string()))?;
            voucher_ledger::report::write_csv(document, std::io::BufWriter::new(file))
                .map_err(|error| cannot(error.to_string()))
        }
        ReportFormat::Xlsx => voucher_ledger::report::write_xlsx(document, path)
            .map_err(|error| cannot(error.to_string())),
    }
}

/// A day inside `year`'s cap period: its first day, or the policy term's first day in 2026.
fn report_day(year: i32) -> String {
    if year == 2026 {
        "2026-05-14".to_owned()
    } else {
        format!("{year}-01-01")
    }
}

fn money(
    value: &Option<voucher_ledger::proto::google::r#type::Money>,
) -> voucher_ledger::domain::money::Total {
    value
        .as_ref()
        .and_then(show::decode_money)
        .unwrap_or(voucher_ledger::domain::money::Total::ZERO)
}

fn enterprise_line(balance: &pb::Balance) -> voucher_ledger::report::EnterpriseLine {
    voucher_ledger::report::EnterpriseLine {
        credit_code: balance.enterprise_credit_code.clone(),
        name: balance.enterprise_name.clone(),
        cap: money(&balance.cap),
        committed: money(&balance.committed),
        redeemed: money(&balance.redeemed),
    }
}

fn provider_line(total: &pb::ProviderTotal) -> voucher_ledger::report::ProviderLine {
    voucher_ledger::report::ProviderLine {
        credit_code: total.provider_credit_code.clone(),
        name: total.provider_name.clone(),
        redemptions: total.redemptions,
        redeemed: money(&total.redeemed),
        reversed: money(&total.reversed),
    }
}

/// A progress bar on stderr when it is a terminal; hidden in pipes and files.
fn progress_bar(length: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(length),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// A counter on stderr for work of unknown length (events, bytes).
fn progress_counter(unit: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {{pos}} {unit} {{elapsed}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The gRPC health check, as container and Kubernetes probes run it: exit 0 when serving.
fn health(cli: &Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(3, &format!("cannot start the async runtime: {error}")),
    };
    let checked = runtime.block_on(async {
        let channel = open_channel(cli, CONNECT_TIMEOUT).await?;
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let request = tonic_health::pb::HealthCheckRequest {
            service: "voucher.v1.VoucherLedger".to_owned(),
        };
        Ok::<_, Failure>(client.check(request).await?.into_inner().status)
    });
    match checked {
        Ok(status)
            if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 =>
        {
            emit("SERVING\n");
            ExitCode::SUCCESS
        }
        Ok(status) => fail(1, &format!("not serving (status {status})")),
        Err(failure) => failure.report(None),
    }
}

async fn approve(
    client: &mut Client,
    output: &Output,
    arguments: RedemptionIdArgument,
) -> Result<(), Failure> {
    let request = pb::ApproveRedemptionRequest {
        redemption_id: arguments.redemption_id,
    };
    output.record(&show::redemption(
        &client.approve_redemption(request).await?.into_inner(),
    ));
    Ok(())
}

async fn reject(client: &mut Client, output: &Output, arguments: Reject) -> Result<(), Failure> {
    let request = pb::RejectRedemptionRequest {
        redemption_id: arguments.redemption_id,
        reason: arguments.reason,
    };
    output.record(&show::redemption(
        &client.reject_redemption(request).await?.into_inner(),
    ));
    Ok(())
}

async fn create_settlement(
    client: &mut Client,
    output: &Output,
    arguments: CreateSettlement,
) -> Result<(), Failure> {
    let request_id = arguments
        .request_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let request = pb::CreateSettlementRequest {
        request_id: request_id.clone(),
        provider_credit_code: arguments.provider,
        program: arguments.program.wire(),
        up_to_date: to_date(arguments.up_to),
    };
    let settlement = client.create_settlement(request).await?.into_inner();
    let mut record = show::settlement(&settlement);
    record.insert(0, ("request_id", show::Value::Text(request_id)));
    output.record(&record);
    Ok(())
}

async fn pay_settlement(
    client: &mut Client,
    output: &Output,
    arguments: PaySettlement,
) -> Result<(), Failure> {
    let request = pb::RecordSettlementPaymentRequest {
        settlement_id: arguments.settlement_id,
        bank_reference: arguments.bank_reference,
        paid_on: to_date(arguments.paid_on),
    };
    let settlement = client
        .record_settlement_payment(request)
        .await?
        .into_inner();
    output.record(&show::settlement(&settlement));
    Ok(())
}

async fn get_settlement(
    client: &mut Client,
    output: &Output,
    settlement_id: String,
) -> Result<(), Failure> {
    let settlement = client
        .get_settlement(pb::GetSettlementRequest { settlement_id })
        .await?
        .into_inner();
    output.record(&show::settlement(&settlement));
    for line in &settlement.lines {
        if !output.json {
            emit("\n");
        }
        output.record(&show::settlement_line(line));
    }
    for clawback in &settlement.clawbacks {
        if !output.json {
            emit("\n");
        }
        output.record(&show::clawback(clawback));
    }
    Ok(())
}

async fn list_settlements(
    client: &mut Client,
    output: &Output,
    arguments: ListSettlements,
) -> Result<(), Failure> {
    let template = pb::ListSettlementsRequest {
        provider_credit_code: arguments.provider.unwrap_or_default(),
        program: optional_program(arguments.program),
        page_size: arguments.paging.page_size.unwrap_or(0),
        page_token: String::new(),
    };
    paginate(output, &arguments.paging, "settlements", |page_token| {
        let mut client = client.clone();
        let request = pb::ListSettlementsRequest {
            page_token,
            ..template.clone()
        };
        async move {
            let reply = client.list_settlements(request).await?.into_inner();
            Ok(Page {
                records: reply.settlements.iter().map(show::settlement).collect(),
                next_page_token: reply.next_page_token,
            })
        }
    })
    .await
}

async fn export_settlement(
    client: &mut Client,
    arguments: ExportSettlement,
) -> Result<(), Failure> {
    let settlement = client
        .get_settlement(pb::GetSettlementRequest {
            settlement_id: arguments.settlement_id.clone(),
        })
        .await?
        .into_inner();
    let statement = voucher_ledger::report::Statement {
        settlement_id: settlement.settlement_id.clone(),
        provider_credit_code: settlement.provider_credit_code.clone(),
        provider_name: settlement.provider_name.clone(),
        program: show::program_word(settlement.program),
        up_to_date: settlement.up_to_date.clone(),
        lines: settlement
            .lines
            .iter()
            .map(|line| voucher_ledger::report::StatementLine {
                redemption_id: line.redemption_id.clone(),
                enterprise_credit_code: line.enterprise_credit_code.clone(),
                invoice_number: line.invoice_number.clone(),
                invoice_date: line.invoice_date.clone(),
                invoice_amount: money(&line.invoice_amount),
                subsidy: money(&line.subsidy),
            })
            .collect(),
        clawbacks: settlement
            .clawbacks
            .iter()
            .map(|clawback| (clawback.redemption_id.clone(), money(&clawback.amount)))
            .collect(),
        gross: money(&settlement.gross),
        clawed_back: money(&settlement.clawed_back),
    };
    let extension = if arguments.format == ReportFormat::Csv {
        "csv"
    } else {
        "xlsx"
    };
    let path = arguments
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.{extension}", settlement.settlement_id)));
    let cannot =
        |error: String| Failure::Usage(format!("cannot write {}: {error}", path.display()));
    match arguments.format {
        ReportFormat::Csv => {
            let file = std::fs::File::create(&path).map_err(|error| cannot(error.to_string()))?;
            voucher_ledger::report::write_statement_csv(&statement, std::io::BufWriter::new(file))
                .map_err(|error| cannot(error.to_string()))?
        }
        ReportFormat::Xlsx => voucher_ledger::report::write_statement_xlsx(&statement, &path)
            .map_err(|error| cannot(error.to_string()))?,
    }
    emit(&format!(
        "statement: {}\nlines: {}\nnet: {}\n",
        path.display(),
        statement.lines.len(),
        statement.net()
    ));
    Ok(())
}

async fn budget(
    client: &mut Client,
    output: &Output,
    arguments: ProgramPeriodArguments,
) -> Result<(), Failure> {
    let request = pb::GetBudgetRequest {
        program: arguments.program.wire(),
        on_date: arguments.on_date.map(to_date).unwrap_or_default(),
    };
    output.record(&show::budget(
        &client.get_budget(request).await?.into_inner(),
    ));
    Ok(())
}

async fn related_parties(
    client: &mut Client,
    output: &Output,
    arguments: RelatedPartiesArguments,
) -> Result<(), Failure> {
    let request = pb::RecordRelatedPartiesRequest {
        provider_credit_code: arguments.provider,
        enterprise_credit_code: arguments.enterprise,
        reason: arguments.reason,
    };
    output.record(&show::related_parties(
        &client.record_related_parties(request).await?.into_inner(),
    ));
    Ok(())
}
