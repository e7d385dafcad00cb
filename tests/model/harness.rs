//! The engine under test, in process: `Harness` starts a real engine on a real sled directory
//! in a tempdir (or, every other case, on the in-memory store behind the same seam; or, with
//! `VOUCHER_MODEL_STORE=postgres`, every case on a database of its own in a throwaway
//! PostgreSQL shared by the run, as its writer, restarts included), registers
//! the world, sends commands one at a time or several at once, each from its caller (issue 15:
//! `callers.rs`), moves its clock, restarts it, and reads everything it shows. Its policy
//! separates duties or not, as the history says. The commands are built here from the payloads the runner
//! resolved. This test does not start `voucherd`: it drives `voucher_ledger::engine` directly
//! (of `tests/common` it uses only the throwaway PostgreSQL).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use chrono::NaiveDate;
use voucher_ledger::domain::command::{
    ApplicationRequest, Command, RedeemCommand, SettlementRequest,
};
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::ids::{ApplicationId, RedemptionId, SettlementId, TokenId, VoucherId};
use voucher_ledger::domain::invoice::InvoiceNumber;
use voucher_ledger::domain::ledger::Outcome;
use voucher_ledger::domain::model::{
    Actor, Balance, BudgetView, Evidence, Invoice, IssueVoucherRequest, Redemption, SecretHash,
    Settlement, Sha256Hex, Token, Voucher, VoucherApplication,
};
use voucher_ledger::domain::money::Money;
use voucher_ledger::domain::policy::Policy;
use voucher_ledger::domain::text::{Name, Reason, Reference, RequestId};
use voucher_ledger::engine::{ClockSource, Engine, EngineConfig, EngineError, EngineOwner, Reader};
use voucher_ledger::store::postgres::WriterLease;
use voucher_ledger::store::{MemoryTree, open_memory};

use crate::answers::{Answer, answer_of};
use crate::callers::{Who, token_id_text};
use crate::common::postgres::shared_database_for;
use crate::ops::{ApplicationPayload, IssuePayload, RedeemPayload, SettlePayload};
use crate::reference::{ModelToken, enterprise_name, provider_name};
use crate::rules::{ENTERPRISES, POLICY, SELLERS, SEPARATED_POLICY, accounts, program_periods};
use crate::values::{
    application_id_text, contract_number_text, contract_sha256, invoice_number_text,
    redemption_id_text, settlement_id_text, voucher_id_text,
};

pub fn code(text: &str) -> CreditCode {
    CreditCode::parse(text).expect("the test's credit codes are well formed")
}

pub fn voucher_id(number: u64) -> VoucherId {
    VoucherId::parse(&voucher_id_text(number)).expect("a voucher id")
}

pub fn redemption_id(number: u64) -> RedemptionId {
    RedemptionId::parse(&redemption_id_text(number)).expect("a redemption id")
}

pub fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("a reason")
}

pub fn yuan(text: &str) -> Money {
    Money::parse_yuan(text).expect("the test's amounts are valid")
}

pub fn issue_command(payload: &IssuePayload) -> Command {
    Command::IssueVoucher(IssueVoucherRequest {
        request_id: RequestId::parse(&payload.request_id).expect("a request id"),
        enterprise_credit_code: code(ENTERPRISES[payload.enterprise]),
        program: payload.program,
        face_value: payload.face_value.map(yuan),
        valid_from: payload.valid_from,
        valid_until: payload.valid_until,
        provider_credit_codes: payload
            .providers
            .iter()
            .map(|provider| code(provider))
            .collect(),
    })
}

pub fn redeem_command(payload: &RedeemPayload) -> Command {
    Command::Redeem(RedeemCommand {
        voucher_id: voucher_id(payload.voucher),
        provider_credit_code: code(payload.seller),
        enterprise_credit_code: code(payload.buyer),
        invoice: Invoice {
            number: InvoiceNumber::parse(&invoice_number_text(payload.invoice))
                .expect("an invoice number"),
            date: payload.invoice_date,
            amount: yuan(payload.amount),
        },
        allow_partial: payload.allow_partial,
        evidence: payload
            .evidence
            .iter()
            .map(|document| Evidence {
                kind: document.kind,
                sha256: Sha256Hex::parse(&document.sha256()).expect("a SHA-256"),
                reference: Reference::parse(document.reference).expect("a reference"),
            })
            .collect(),
    })
}

pub fn application_id(number: u64) -> ApplicationId {
    ApplicationId::parse(&application_id_text(number)).expect("an application id")
}

pub fn apply_command(payload: &ApplicationPayload) -> Command {
    Command::ApplyForVoucher(ApplicationRequest {
        request_id: RequestId::parse(&payload.request_id).expect("a request id"),
        enterprise_credit_code: code(payload.enterprise),
        program: payload.program,
        amount: yuan(payload.amount),
        provider_credit_codes: payload
            .providers
            .iter()
            .map(|provider| code(provider))
            .collect(),
        contract_number: Reference::parse(&contract_number_text(payload.contract))
            .expect("a contract number"),
        contract_sha256: Sha256Hex::parse(&contract_sha256(payload.contract)).expect("a SHA-256"),
        purpose: reason("训练行业大模型 (七)"),
        other_subsidies: None,
    })
}

pub fn settle_command(payload: &SettlePayload) -> Command {
    Command::CreateSettlement(SettlementRequest {
        request_id: RequestId::parse(&payload.request_id).expect("a request id"),
        provider_credit_code: code(payload.provider),
        program: payload.program,
        up_to: payload.up_to,
    })
}

pub fn token_id(number: u64) -> TokenId {
    TokenId::parse(&token_id_text(number)).expect("a token id")
}

/// CreateToken for `token`, with the secret numbered `secret` (each command its own: the
/// ledger never holds two tokens with one secret).
pub fn create_token_command(token: &ModelToken, secret: u64) -> Command {
    Command::CreateToken {
        role: token.role,
        provider_credit_code: token.provider.map(code),
        enterprise_credit_code: token.enterprise.map(code),
        programs: token.programs.iter().copied().collect(),
        description: None,
        secret_sha256: SecretHash::of(&format!("the model's secret {secret}")),
    }
}

pub fn settlement_id(number: u64) -> SettlementId {
    SettlementId::parse(&settlement_id_text(number)).expect("a settlement id")
}

pub fn is_not_found<T>(result: &Result<T, EngineError>) -> bool {
    matches!(
        result,
        Err(EngineError::Ledger(LedgerError::NotFound { .. }))
    )
}

/// Every record the engine shows, read until the first id it does not know.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub vouchers: Vec<Voucher>,
    pub redemptions: Vec<Redemption>,
    balances: Vec<Balance>,
    pub settlements: Vec<(Settlement, Vec<Redemption>, String)>,
    pub budgets: Vec<BudgetView>,
    pub applications: Vec<VoucherApplication>,
    pub tokens: Vec<Token>,
}

pub struct Harness {
    runtime: tokio::runtime::Runtime,
    pub directory: tempfile::TempDir,
    /// Where the ledger is kept: sled in `directory`, or a tree in memory (every other case,
    /// so that each run drives both stores through the same model).
    pub memory: Option<Arc<MemoryTree>>,
    /// The URL of this case's database when the run is on PostgreSQL, and the writer lease
    /// the running engine holds on it (given up at each restart, as a stopping voucherd does).
    postgres: Option<String>,
    lease: Option<WriterLease>,
    clock: ClockSource,
    pub owner: Option<EngineOwner>,
    /// With `separation_of_duties` or without.
    policy: Arc<Policy>,
}

/// Cases started so far: even ones run on sled, odd ones on the memory store.
static CASES_STARTED: AtomicUsize = AtomicUsize::new(0);

/// Whether every case runs on PostgreSQL (`VOUCHER_MODEL_STORE=postgres`; `.ci/run` does so
/// at a reduced case count).
fn on_postgres() -> bool {
    match std::env::var("VOUCHER_MODEL_STORE") {
        Err(_) => false,
        Ok(store) if store == "postgres" => true,
        Ok(store) => panic!("VOUCHER_MODEL_STORE={store:?}: only \"postgres\" is known"),
    }
}

impl Harness {
    pub fn start(today: NaiveDate, separated: bool) -> Result<Harness, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let clock = ClockSource::pinned(today);
        let postgres = on_postgres().then(|| shared_database_for(directory.path()));
        let on_memory = postgres.is_none() && CASES_STARTED.fetch_add(1, Ordering::SeqCst) % 2 == 1;
        let mut harness = Harness {
            runtime,
            directory,
            memory: on_memory.then(|| Arc::new(MemoryTree::default())),
            postgres,
            lease: None,
            clock,
            owner: None,
            policy: if separated {
                SEPARATED_POLICY.clone()
            } else {
                POLICY.clone()
            },
        };
        harness.open()?;
        let name = |text: &str| Name::parse(text).expect("a name");
        let mut setup: Vec<Command> = ENTERPRISES
            .iter()
            .enumerate()
            .map(|(index, credit_code)| Command::RegisterEnterprise {
                credit_code: code(credit_code),
                name: name(&enterprise_name(index)),
                check_digit_override_reason: None,
            })
            .collect();
        for (index, (credit_code, program)) in SELLERS.iter().enumerate() {
            setup.push(Command::RegisterProvider {
                credit_code: code(credit_code),
                name: name(&provider_name(index)),
                program: *program,
                check_digit_override_reason: None,
            });
        }
        for command in setup {
            let name = command.name();
            harness
                .runtime
                .block_on(harness.engine().submit(command, Who::Ledger.caller()))
                .map_err(|error| format!("setup: {name} failed: {error}"))?;
        }
        Ok(harness)
    }

    fn open(&mut self) -> Result<(), String> {
        let config = EngineConfig {
            clock: self.clock.clone(),
            ..EngineConfig::default()
        };
        if let Some(url) = &self.postgres {
            let (opened, lease) =
                voucher_ledger::store::postgres::open_in_process(url, self.policy.clone())
                    .map_err(|error| format!("the PostgreSQL store does not open: {error}"))?;
            self.lease = Some(lease);
            let owner = Engine::start_on(opened, self.policy.clone(), config)
                .map_err(|error| format!("the engine does not start: {error}"))?;
            self.owner = Some(owner);
            return Ok(());
        }
        if let Some(tree) = &self.memory {
            let opened = open_memory(tree.clone(), self.policy.clone())
                .map_err(|error| format!("the memory store does not open: {error}"))?;
            let owner = Engine::start_on(opened, self.policy.clone(), config)
                .map_err(|error| format!("the engine does not start: {error}"))?;
            self.owner = Some(owner);
            return Ok(());
        }
        let path = self.directory.path().join("ledger");
        // sled may hold its lock a moment after the last handle is dropped.
        let mut last_error = String::new();
        for _ in 0..50 {
            match Engine::start(&path, self.policy.clone(), config.clone()) {
                Ok(owner) => {
                    self.owner = Some(owner);
                    return Ok(());
                }
                Err(error) => last_error = error.to_string(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("the engine does not start: {last_error}"))
    }

    pub fn engine(&self) -> &Engine {
        self.owner.as_ref().expect("the engine is running").engine()
    }

    pub fn submit(&self, command: Command, by: Who) -> Answer {
        answer_of(
            self.runtime
                .block_on(self.engine().submit(command, by.caller())),
        )
    }

    /// Queues every command before waiting for any answer: each future is first polled in
    /// order, which puts its command in the writer's queue, so they are carried out in the
    /// order given, in as few batches as the writer takes them in.
    pub fn submit_together(&self, commands: Vec<(Command, Who)>) -> Vec<Answer> {
        type Pending<'a> = Pin<Box<dyn Future<Output = Result<Outcome, EngineError>> + 'a>>;
        let engine = self.engine();
        let mut pending: Vec<Pending<'_>> = commands
            .into_iter()
            .map(|(command, by)| Box::pin(engine.submit(command, by.caller())) as Pending<'_>)
            .collect();
        let mut answers: Vec<Option<Answer>> = vec![None; pending.len()];
        self.runtime.block_on(std::future::poll_fn(|context| {
            for (future, answer) in pending.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none()
                    && let Poll::Ready(result) = future.as_mut().poll(context)
                {
                    *answer = Some(answer_of(result));
                }
            }
            if answers.iter().all(Option::is_some) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        answers
            .into_iter()
            .map(|answer| answer.expect("every future finished"))
            .collect()
    }

    pub fn advance_to(&self, today: NaiveDate) -> Result<(), String> {
        assert!(self.clock.set_today(today), "the clock is pinned");
        self.runtime
            .block_on(self.engine().sync())
            .map(|_| ())
            .map_err(|error| format!("sync failed: {error}"))
    }

    /// Shuts the engine down, moves the clock to `today`, and starts it again.
    pub fn restart(&mut self, today: NaiveDate) -> Result<(), String> {
        let before = self.snapshot()?;
        if let Some(owner) = self.owner.take() {
            owner.shutdown();
        }
        // Given up once the engine has stopped, so that the reopening takes it at once.
        self.lease = None;
        let same_day = self.clock.pinned_today() == Some(today);
        assert!(self.clock.set_today(today), "the clock is pinned");
        self.open()?;
        let after = self.snapshot()?;
        if same_day && before != after {
            return Err(format!(
                "the restart changed what the engine shows:\n before: {before:#?}\n after:  {after:#?}"
            ));
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, String> {
        let reader = self.engine().reader();
        let mut vouchers = Vec::new();
        for number in 1.. {
            let result = reader.voucher(&voucher_id(number));
            if is_not_found(&result) {
                break;
            }
            vouchers.push(result.map_err(|error| format!("reading a voucher: {error}"))?);
        }
        let mut redemptions = Vec::new();
        for number in 1.. {
            let result = reader.redemption(&redemption_id(number), Actor::Bureau);
            if is_not_found(&result) {
                break;
            }
            redemptions.push(result.map_err(|error| format!("reading a redemption: {error}"))?);
        }
        let mut balances = Vec::new();
        for (enterprise, program, period) in accounts() {
            balances.push(
                reader
                    .balance(&code(ENTERPRISES[enterprise]), program, Some(period.first))
                    .map_err(|error| format!("reading a balance: {error}"))?,
            );
        }
        let mut settlements = Vec::new();
        for number in 1.. {
            let result = reader.settlement(&settlement_id(number), Actor::Bureau);
            if is_not_found(&result) {
                break;
            }
            settlements.push(result.map_err(|error| format!("reading a settlement: {error}"))?);
        }
        let mut budgets = Vec::new();
        for (program, period) in program_periods() {
            budgets.push(
                reader
                    .budget(program, Some(period.first))
                    .map_err(|error| format!("reading a budget: {error}"))?,
            );
        }
        let mut applications = Vec::new();
        for number in 1.. {
            let result = reader.application(&application_id(number), Actor::Bureau);
            if is_not_found(&result) {
                break;
            }
            applications.push(result.map_err(|error| format!("reading an application: {error}"))?);
        }
        let tokens = read_tokens(reader)?;
        Ok(Snapshot {
            vouchers,
            redemptions,
            balances,
            settlements,
            budgets,
            applications,
            tokens,
        })
    }
}

/// Every token the engine keeps, revoked or not, read until the first id it does not know.
fn read_tokens(reader: &Reader) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for number in 1.. {
        match reader.store().token(&token_id(number)) {
            Ok(Some(token)) => tokens.push(token),
            Ok(None) => break,
            Err(error) => return Err(format!("reading a token: {error}")),
        }
    }
    Ok(tokens)
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            owner.shutdown();
        }
    }
}
