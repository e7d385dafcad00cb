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
//!
//! This file holds what every command shares: the global options ([`Cli`]), the table of
//! commands ([`Command`], in the order `--help` lists them), the dispatch, and the exit code
//! ([`Failure`]). Each group of commands lives in a module of its own that owns its clap
//! arguments, its handlers and the records it prints: `registry` (enterprises, providers,
//! tokens, related parties), `applications` (an enterprise's applications for vouchers and
//! the bureau's decisions), `vouchers`, `redemptions` (with the enterprise's confirmation or
//! dispute), `reports` (balances, summaries, budgets, the bureau's report), `settlement`,
//! `notices` (public notices, 公示), `audit` (verify, events, backup), `provider` (a
//! provider's access) and `health`. Beside them: `connect` (the channel, TLS, the bearer
//! token on every call), `token` (where the token comes from), `output` (printing replies and
//! pages), `arguments` (argument types several groups share) and `documents` (CSV and XLSX
//! files).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod applications;
mod arguments;
mod audit;
mod connect;
mod documents;
mod health;
mod notices;
mod output;
mod provider;
mod redemptions;
mod registry;
mod reports;
mod settlement;
mod token;
mod vouchers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tonic::{Code, Status};
use voucher_ledger::client::{describe_status, explain_status, is_transport_failure};
use voucher_ledger::domain::reason_text::Lang;

use crate::connect::Client;
use crate::output::Output;
use crate::token::Token;

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
    /// The language of a refusal: `en` prints the ledger's line as it is; `zh` prints what is
    /// wrong and what to do in Chinese, with the ledger's line under 技术信息.
    #[arg(long, global = true, value_enum, default_value = "en", help_heading = GLOBAL)]
    lang: LangArgument,
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

/// Every command, in the order `--help` lists them; each holds its group's arguments.
#[derive(Subcommand, Debug)]
enum Command {
    /// Register an enterprise that may receive vouchers (bureau).
    RegisterEnterprise(registry::RegisterEnterprise),
    /// Show one enterprise (bureau, auditor, finance; an enterprise itself).
    GetEnterprise(registry::GetEnterprise),
    /// Register a provider of the resource pool for one program (bureau).
    RegisterProvider(registry::RegisterProvider),
    /// Create an API token; its secret is shown once (bureau). A bureau token may be scoped
    /// to programs (--program).
    CreateToken(registry::CreateToken),
    /// Revoke a token: it authenticates nothing from then on (bureau).
    RevokeToken(registry::RevokeToken),
    /// Apply for a voucher bound to the providers chosen (enterprise). Idempotent by
    /// --request-id.
    Apply(applications::Apply),
    /// List applications for vouchers, oldest first (bureau, auditor, finance; an enterprise
    /// its own).
    ListApplications(applications::ListApplications),
    /// Show one application (bureau, auditor, finance; an enterprise its own).
    GetApplication(applications::ApplicationId),
    /// Approve an application: issues its voucher, bound to its providers (bureau).
    ApproveApplication(applications::ApproveApplication),
    /// Reject an application; its contract may be applied for again (bureau).
    RejectApplication(applications::RejectApplication),
    /// Issue a voucher under the enterprise's cap (bureau). Idempotent by --request-id.
    IssueVoucher(vouchers::IssueVoucher),
    /// Show one voucher (bureau, auditor, finance; an enterprise its own).
    GetVoucher(vouchers::GetVoucher),
    /// List vouchers, oldest first (bureau, auditor, finance; an enterprise its own).
    ListVouchers(vouchers::ListVouchers),
    /// Revoke a voucher, releasing its unredeemed remainder (bureau).
    RevokeVoucher(vouchers::RevokeVoucher),
    /// Change the providers that may redeem a voucher; none: any of its program (bureau).
    ChangeVoucherProviders(vouchers::ChangeVoucherProviders),
    /// Redeem a voucher against one invoice (provider, or bureau with --provider).
    Redeem(redemptions::Redeem),
    /// Reverse (红冲) a redemption: the subsidy goes back (its provider, bureau).
    ReverseRedemption(redemptions::RedemptionWithReason),
    /// Show one redemption (bureau, auditor, finance; a provider or an enterprise its own).
    GetRedemption(redemptions::RedemptionId),
    /// List redemptions, oldest first (bureau, auditor, finance; a provider or an enterprise
    /// its own).
    ListRedemptions(redemptions::ListRedemptions),
    /// Confirm a claim made in the enterprise's name (enterprise).
    ConfirmRedemption(redemptions::RedemptionId),
    /// Dispute a claim made in the enterprise's name: closed, its subsidy released (enterprise).
    DisputeRedemption(redemptions::RedemptionWithReason),
    /// Show an enterprise's totals under one program's cap (bureau, auditor, finance; an
    /// enterprise its own).
    Balance(reports::Balance),
    /// Who did what: the events, one a line, filtered by the token that caused them or a
    /// record they touched; `events export` writes the hash-chained log (bureau, auditor,
    /// finance).
    Events(audit::Events),
    /// Replay the whole log on the server and check every stored record (bureau, auditor,
    /// finance).
    /// Exit 0 when sound, 1 on any problem.
    Verify,
    /// Write a consistent backup of the ledger to FILE while it keeps serving (bureau).
    /// Restore it with `voucherd restore FILE --data-dir NEW`.
    Backup(audit::Backup),
    /// A program's totals in one cap period, with each provider's (bureau, auditor, finance).
    ProgramSummary(reports::ProgramPeriod),
    /// Every enterprise's balance under a program in one cap period (bureau, auditor, finance).
    ListBalances(reports::ListBalances),
    /// Write the bureau's report of a program and year as CSV or XLSX (bureau, auditor,
    /// finance).
    Report(reports::Report),
    /// Ask the server's gRPC health service; exit 0 when it is serving (no token needed).
    Health(health::HealthArguments),
    /// Approve a claim on review, so it can be settled (bureau).
    Approve(redemptions::RedemptionId),
    /// Reject a claim on review, releasing its subsidy (bureau).
    Reject(redemptions::RedemptionWithReason),
    /// Return a claim for correction: closed, its subsidy released; the provider may claim
    /// the invoice once more (bureau).
    ReturnRedemption(redemptions::RedemptionWithReason),
    /// Settlement statements (拨付): create, show, list, export for the payment voucher.
    #[command(subcommand)]
    Settlement(settlement::SettlementCommand),
    /// Publish a public notice (公示) of a program's approved claims (bureau).
    PublishNotice(notices::PublishNotice),
    /// Show a public notice and its claims; write it as CSV or XLSX (every role).
    GetNotice(notices::GetNotice),
    /// List public notices, oldest first (every role).
    ListNotices(notices::ListNotices),
    /// A program's budget in one cap period, and what is committed, redeemed, settled (bureau,
    /// auditor, finance).
    Budget(reports::ProgramPeriod),
    /// Record that a provider and an enterprise are related parties (关联方) (bureau).
    RelatedParties(registry::RelatedParties),
    /// A provider's access: show, suspend, reinstate, pin or revoke a client certificate.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
}

fn main() -> ExitCode {
    // Backups, exports and reports hold what the ledger holds.
    voucher_ledger::private_files::make_new_files_private();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    if let Command::Health(arguments) = &cli.command {
        return health::run(&cli, arguments);
    }
    let token = match token::resolve(&cli, &matches) {
        Ok(token) => token,
        Err(failure) => return failure.report(None, cli.lang),
    };
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let lang = cli.lang;
    match runtime.block_on(run(cli, &token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(Some(&token.origin), lang),
    }
}

/// The single-threaded runtime every command runs on; exit 3 if it cannot start.
fn async_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(3, &format!("cannot start the async runtime: {error}")))
}

async fn run(cli: Cli, token: &Token) -> Result<(), Failure> {
    check_usage(&cli.command)?;
    let mut client = connect::connect(&cli, token).await?;
    let output = Output { json: cli.json };
    execute(cli.command, &mut client, &output).await
}

/// What clap cannot say on its own, checked before dialling.
fn check_usage(command: &Command) -> Result<(), Failure> {
    match command {
        Command::CreateToken(arguments) => arguments.check_usage(),
        _ => Ok(()),
    }
}

async fn execute(command: Command, client: &mut Client, output: &Output) -> Result<(), Failure> {
    match command {
        Command::RegisterEnterprise(command) => command.run(client, output).await,
        Command::GetEnterprise(command) => command.run(client, output).await,
        Command::RegisterProvider(command) => command.run(client, output).await,
        Command::CreateToken(command) => command.run(client, output).await,
        Command::RevokeToken(command) => command.run(client, output).await,
        Command::Apply(command) => command.run(client, output).await,
        Command::ListApplications(command) => command.run(client, output).await,
        Command::GetApplication(application) => application.get(client, output).await,
        Command::ApproveApplication(command) => command.run(client, output).await,
        Command::RejectApplication(command) => command.run(client, output).await,
        Command::IssueVoucher(command) => command.run(client, output).await,
        Command::GetVoucher(command) => command.run(client, output).await,
        Command::ListVouchers(command) => command.run(client, output).await,
        Command::RevokeVoucher(command) => command.run(client, output).await,
        Command::ChangeVoucherProviders(command) => command.run(client, output).await,
        Command::Redeem(command) => command.run(client, output).await,
        Command::ReverseRedemption(claim) => claim.reverse(client, output).await,
        Command::GetRedemption(claim) => claim.get(client, output).await,
        Command::ListRedemptions(command) => command.run(client, output).await,
        Command::ConfirmRedemption(claim) => claim.confirm(client, output).await,
        Command::DisputeRedemption(claim) => claim.dispute(client, output).await,
        Command::Balance(command) => command.run(client, output).await,
        Command::Events(events) => audit::run_events(events, client, output).await,
        Command::Verify => audit::verify(client, output).await,
        Command::Backup(command) => command.run(client).await,
        Command::ProgramSummary(period) => period.summary(client, output).await,
        Command::ListBalances(command) => command.run(client, output).await,
        Command::Report(command) => command.run(client).await,
        Command::Health(_) => unreachable!("health is answered before a token is read"),
        Command::Approve(claim) => claim.approve(client, output).await,
        Command::Reject(claim) => claim.reject(client, output).await,
        Command::ReturnRedemption(claim) => claim.return_for_correction(client, output).await,
        Command::Settlement(command) => settlement::run(command, client, output).await,
        Command::PublishNotice(command) => command.run(client, output).await,
        Command::GetNotice(command) => command.run(client, output).await,
        Command::ListNotices(command) => command.run(client, output).await,
        Command::Budget(period) => period.budget(client, output).await,
        Command::RelatedParties(command) => command.run(client, output).await,
        Command::Provider(command) => provider::run(command, client, output).await,
    }
}

/// `--lang`: the language refusals are worded in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LangArgument {
    En,
    Zh,
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
    /// Writes the failure to stderr (and, for a refused token, where it came from).
    fn report(self, token_origin: Option<&str>, lang: LangArgument) -> ExitCode {
        match self {
            Failure::Usage(message) => fail(2, &message),
            Failure::Connect(message) => fail(3, &message),
            Failure::Refused(message) => fail(1, &message),
            Failure::Call { status, note } => {
                let code = if is_transport_failure(&status) { 3 } else { 1 };
                let worded = (lang == LangArgument::Zh)
                    .then(|| explain_status(&status, Lang::Zh))
                    .flatten();
                let exit = match worded {
                    Some(sentence) => {
                        let exit = fail(code, &sentence);
                        eprintln!("技术信息: {}", describe_status(&status));
                        exit
                    }
                    None => fail(code, &describe_status(&status)),
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(arguments: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("voucherctl").chain(arguments.iter().copied()))
    }

    fn usage_of(arguments: &[&str]) -> Result<(), Failure> {
        let cli = parsed(arguments).expect("clap accepts it");
        check_usage(&cli.command)
    }

    #[test]
    fn the_command_table_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_token_names_whom_it_speaks_for_and_only_for_its_role() {
        const CODE: &str = "914403001922038216";
        assert!(usage_of(&["create-token", "--role", "enterprise", "--enterprise", CODE]).is_ok());
        assert!(usage_of(&["create-token", "--role", "provider", "--provider", CODE]).is_ok());
        assert!(usage_of(&["create-token", "--role", "bureau"]).is_ok());
        for refused in [
            &["create-token", "--role", "enterprise"][..],
            &["create-token", "--role", "enterprise", "--provider", CODE],
            &["create-token", "--role", "auditor", "--enterprise", CODE],
            &[
                "create-token",
                "--role",
                "provider",
                "--provider",
                CODE,
                "--enterprise",
                CODE,
            ],
        ] {
            assert!(
                matches!(usage_of(refused), Err(Failure::Usage(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn only_a_bureau_token_is_scoped_to_programs() {
        let scoped = ["create-token", "--role", "bureau", "--program", "compute"];
        assert!(usage_of(&scoped).is_ok());
        assert!(usage_of(&[&scoped[..], &["--program", "leasing"][..]].concat()).is_ok());
        assert!(usage_of(&["create-token", "--role", "finance"]).is_ok());
        for role in ["finance", "auditor"] {
            let refused = ["create-token", "--role", role, "--program", "compute"];
            assert!(
                matches!(usage_of(&refused), Err(Failure::Usage(_))),
                "{refused:?}"
            );
        }
        let provider = [
            "create-token",
            "--role",
            "provider",
            "--provider",
            "9144030071526726XG",
            "--program",
            "compute",
        ];
        assert!(matches!(usage_of(&provider), Err(Failure::Usage(_))));
    }

    #[test]
    fn events_list_with_filters_or_export_the_chain() {
        assert!(parsed(&["events"]).is_ok());
        assert!(parsed(&["events", "--actor", "T000000000002", "--record", "V1"]).is_ok());
        assert!(parsed(&["events", "export", "--from", "3"]).is_ok());
        assert!(
            parsed(&["events", "--actor", "T000000000002", "export"]).is_err(),
            "the export is the whole chain: filters are for the listing"
        );
    }

    #[test]
    fn an_application_names_its_contract_by_hash_or_by_file_not_both() {
        let apply = [
            "apply",
            "--program",
            "compute",
            "--amount",
            "1000",
            "--provider",
            "9144030071526726XG",
            "--contract-number",
            "HT-1",
            "--purpose",
            "training",
        ];
        let sha256 = "ab".repeat(32);
        let with = |more: &[&str]| parsed(&[&apply[..], more].concat());
        assert!(with(&["--contract-sha256", &sha256]).is_ok());
        assert!(with(&[]).is_err(), "one of the two is required");
        assert!(with(&["--contract-sha256", "not hex"]).is_err());
        let file = std::env::current_exe().expect("this test's own binary");
        let file = file.to_str().expect("utf-8");
        assert!(with(&["--contract-file", file]).is_ok());
        assert!(with(&["--contract-sha256", &sha256, "--contract-file", file]).is_err());
        assert!(with(&["--contract-file", "/nonexistent/contract.pdf"]).is_err());
    }
}
