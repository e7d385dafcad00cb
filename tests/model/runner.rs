//! Running a history: `Runner` resolves each op against the model's state (one function per
//! command) and its caller (the one the op names, or the command's natural caller), lets the
//! model answer, sends the same command from the same caller to the engine, and `run_history`
//! compares the answers and then everything both sides show after every step, keeping the
//! trace a failure prints. `tally` counts the model's answers for `VOUCHER_MODEL_STATS`.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use chrono::NaiveDate;
use voucher_ledger::domain::command::Command;
use voucher_ledger::domain::model::Actor;
use voucher_ledger::domain::policy::ProgramCode;
use voucher_ledger::domain::text::Reference;

use crate::answers::Answer;
use crate::callers::{By, Who};
use crate::harness::{
    Harness, code, issue_command, reason, redeem_command, redemption_id, settle_command,
    settlement_id, voucher_id,
};
use crate::ops::{
    ApplicationPayload, Buyer, Change, IssuePayload, Op, Payee, RedeemPayload, Reverser, Seller,
    SettleChange, SettlePayload, Which, another_provider, evidence_set, first_provider_of,
    other_program_of,
};
use crate::reference::{Model, ModelVoucher};
use crate::rules::{
    COMPUTE_PROVIDER, ENTERPRISE_2_AS_LESSOR, ENTERPRISES, LESSOR, SELLERS, provider_program,
};
use crate::values::{redemption_id_text, settlement_id_text, shift, voucher_id_text};

/// The model, what has been sent so far, and the history for the failure message.
pub struct Runner {
    pub model: Model,
    issues_sent: Vec<IssuePayload>,
    pub redeems_sent: Vec<RedeemPayload>,
    settles_sent: Vec<SettlePayload>,
    pub applies_sent: Vec<ApplicationPayload>,
    /// The caller the op being resolved names (`Op::As`); none: the command's natural caller.
    by: Option<By>,
    /// Token secrets used so far (each CreateToken its own).
    pub secrets: u64,
}

/// One command of a step: what it resolved to, the model's answer, and the command to send
/// (none when there was nothing to send, e.g. a retry before any request).
pub struct Asked {
    asked: String,
    expected: Answer,
    /// The command, and who sends it.
    command: Option<(Command, Who)>,
}

impl Asked {
    /// A command resolved, the model's answer to it, and the command `by` sends the engine.
    pub fn command(asked: String, expected: Answer, command: Command, by: Who) -> Asked {
        Asked {
            asked: format!("{asked}, by {}", by.text()),
            expected,
            command: Some((command, by)),
        }
    }

    /// Nothing to send (a retry before any request), so nothing to answer.
    pub fn nothing(what: &str) -> Asked {
        Asked {
            asked: what.to_owned(),
            expected: Answer::Done,
            command: None,
        }
    }
}

/// The answers to one step: (what was asked, the model's answer, the engine's).
type Answers = Vec<(String, Answer, Answer)>;

/// A step with no answer, which the engine must carry out without failing.
fn done(what: String, result: Result<(), String>) -> Answers {
    let actual = match result {
        Ok(()) => Answer::Done,
        Err(problem) => Answer::Failed(problem),
    };
    vec![(what, Answer::Done, actual)]
}

/// The redemption's provider, or the compute provider when there is no such redemption.
fn seller_of(model: &Model, number: u64) -> &'static str {
    model
        .redemption_index(number)
        .map_or(COMPUTE_PROVIDER, |index| {
            model.redemptions[index].payload.seller
        })
}

/// The credit code that sells to a voucher (none: the first, unknown one, taken as compute).
fn seller_for(seller: Seller, voucher: Option<&ModelVoucher>) -> &'static str {
    let (program, bound) = voucher.map_or((ProgramCode::Compute, &[][..]), |v| {
        (v.program, v.providers.as_slice())
    });
    let matching = bound.first().copied().unwrap_or(first_provider_of(program));
    match seller {
        Seller::Matching => matching,
        Seller::ComputeProvider => COMPUTE_PROVIDER,
        Seller::Lessor => LESSOR,
        Seller::Enterprise2AsLessor => ENTERPRISE_2_AS_LESSOR,
        Seller::NotBound => SELLERS
            .iter()
            .filter(|(code, of)| *of == program && !bound.contains(code) && *code != matching)
            .map(|(code, _)| *code)
            .next()
            .unwrap_or(first_provider_of(other_program_of(program))),
    }
}

impl Runner {
    /// The caller of the op being resolved: the one it names, else `natural`.
    pub fn caller(&self, natural: Who) -> Who {
        self.by.map_or(natural, Who::from)
    }

    /// Resolves a command op against the model's state, lets the model answer it, and
    /// returns the command for the engine. `None` for ops that are not commands.
    fn ask(&mut self, step: usize, op: &Op) -> Option<Asked> {
        if let Op::As { by, op } = op {
            self.by = Some(*by);
            let asked = self.ask(step, op);
            self.by = None;
            return asked;
        }
        Some(match *op {
            Op::Issue { .. } => self.issue(step, op),
            Op::RetryIssue { issue } => self.retry_issue(issue),
            Op::Redeem { .. } => self.redeem(op),
            Op::RetryRedeem { attempt, change } => self.retry_redeem(attempt, change),
            Op::Reverse { redemption, by } => self.reverse(redemption, by),
            Op::Approve { redemption } => self.approve(redemption),
            Op::Reject { redemption } => self.reject(redemption),
            Op::Settle {
                payee,
                other_program,
                days_before_today,
            } => self.settle(step, payee, other_program, days_before_today),
            Op::RetrySettle { settle, change } => self.retry_settle(settle, change),
            Op::Pay {
                statement,
                days_before_today,
                second_reference,
            } => self.pay(statement, days_before_today, second_reference),
            Op::RelateParties {
                provider,
                enterprise,
                second_reason,
            } => self.relate_parties(provider, enterprise, second_reason),
            Op::Revoke { voucher } => self.revoke(voucher),
            Op::ChangeProviders { voucher, bound } => self.change_providers(voucher, bound),
            Op::Confirm { redemption, by } => self.confirm(redemption, by),
            Op::Dispute { redemption, by } => self.dispute(redemption, by),
            Op::Return { redemption } => self.return_claim(redemption),
            Op::Correct { redemption, change } => self.correct(redemption, change),
            Op::Apply { .. } => self.apply(step, op),
            Op::RetryApply {
                apply,
                other_amount,
            } => self.retry_apply(apply, other_amount),
            Op::ApproveApplication {
                application,
                face_value,
            } => self.approve_application(application, face_value),
            Op::RejectApplication { application } => self.reject_application(application),
            Op::CreateToken { kind } => self.create_token(kind),
            Op::RevokeToken { token } => self.revoke_token(token),
            Op::Register {
                party,
                renamed,
                other_program,
            } => self.register(party, renamed, other_program),
            Op::Together { .. }
            | Op::As { .. }
            | Op::AdvanceDays { .. }
            | Op::AdvanceToDeadline { .. }
            | Op::Restart { .. } => return None,
        })
    }

    /// Takes the whole op, as `redeem` does.
    fn issue(&mut self, step: usize, op: &Op) -> Asked {
        let Op::Issue {
            enterprise,
            program,
            face_value,
            validity,
            bound,
        } = *op
        else {
            unreachable!("asked to issue {op:?}");
        };
        let (valid_from, valid_until) = validity.resolve(self.model.today);
        let payload = IssuePayload {
            request_id: format!("issue-{step}-{}", self.issues_sent.len()),
            enterprise,
            program,
            face_value,
            valid_from,
            valid_until,
            providers: bound.resolve(program),
        };
        self.issues_sent.push(payload.clone());
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("{payload:?}"),
            self.model.issue(&payload, by),
            issue_command(&payload),
            by,
        )
    }

    fn retry_issue(&mut self, issue: usize) -> Asked {
        let sent = self.issues_sent.len().max(1);
        let by = self.caller(Who::Ledger);
        match self.issues_sent.get(issue % sent) {
            None => Asked::nothing("nothing to retry"),
            Some(payload) => Asked::command(
                format!("{payload:?}"),
                self.model.issue(payload, by),
                issue_command(payload),
                by,
            ),
        }
    }

    /// Takes the whole op: a redeem has more fields than a function should take arguments.
    fn redeem(&mut self, op: &Op) -> Asked {
        let Op::Redeem {
            voucher,
            invoice,
            amount,
            days_before_today,
            allow_partial,
            seller,
            buyer,
            evidence,
        } = *op
        else {
            unreachable!("asked to redeem {op:?}");
        };
        let model = &mut self.model;
        let number = model.pick_voucher(voucher);
        let owner = model.voucher(number).map_or(0, |v| v.enterprise);
        let seller = seller_for(seller, model.voucher(number));
        let buyer = match buyer {
            Buyer::Own => ENTERPRISES[owner],
            Buyer::Another => ENTERPRISES[(owner + 1) % ENTERPRISES.len()],
        };
        let payload = RedeemPayload {
            voucher: number,
            seller,
            buyer,
            invoice,
            invoice_date: shift(model.today, -days_before_today),
            amount,
            allow_partial,
            evidence: evidence_set(evidence),
        };
        self.redeems_sent.push(payload.clone());
        let by = self.caller(Who::Provider(seller));
        Asked::command(
            format!("{payload:?}"),
            self.model.redeem(&payload, by),
            redeem_command(&payload),
            by,
        )
    }

    fn retry_redeem(&mut self, attempt: usize, change: Change) -> Asked {
        let sent = self.redeems_sent.len().max(1);
        match self.redeems_sent.get(attempt % sent) {
            None => Asked::nothing("nothing to retry"),
            Some(first) => {
                let payload = change.apply(first, self.model.vouchers.len());
                let by = self.caller(Who::Provider(payload.seller));
                Asked::command(
                    format!("{payload:?}"),
                    self.model.redeem(&payload, by),
                    redeem_command(&payload),
                    by,
                )
            }
        }
    }

    fn reverse(&mut self, redemption: Which, by: Reverser) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let own = seller_of(&self.model, number);
        let provider = match by {
            Reverser::Bureau => None,
            Reverser::OwnProvider => Some(own),
            Reverser::OtherProvider => Some(another_provider(own)),
        };
        let by = self.caller(provider.map_or(Who::Ledger, Who::Provider));
        Asked::command(
            format!("{} reversed by {provider:?}", redemption_id_text(number)),
            self.model.reverse(number, provider, by),
            Command::ReverseRedemption {
                redemption_id: redemption_id(number),
                reason: reason("红冲: the invoice was cancelled"),
                actor: provider.map_or(Actor::Bureau, |p| Actor::Provider(code(p))),
            },
            by,
        )
    }

    fn approve(&mut self, redemption: Which) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("approve {}", redemption_id_text(number)),
            self.model.approve(number, by),
            Command::ApproveRedemption {
                redemption_id: redemption_id(number),
            },
            by,
        )
    }

    fn reject(&mut self, redemption: Which) -> Asked {
        let number = self.model.pick_redemption(redemption);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("reject {}", redemption_id_text(number)),
            self.model.reject(number, by),
            Command::RejectRedemption {
                redemption_id: redemption_id(number),
                reason: reason("the contract does not match the invoice"),
            },
            by,
        )
    }

    fn settle(
        &mut self,
        step: usize,
        payee: Payee,
        other_program: bool,
        days_before_today: i64,
    ) -> Asked {
        let provider = match payee {
            Payee::OfRedemption { redemption } => {
                seller_of(&self.model, self.model.pick_redemption(redemption))
            }
            _ => payee.code(),
        };
        let own = provider_program(provider).unwrap_or(ProgramCode::Compute);
        let payload = SettlePayload {
            request_id: format!("settle-{step}-{}", self.settles_sent.len()),
            provider,
            program: if other_program {
                other_program_of(own)
            } else {
                own
            },
            up_to: shift(self.model.today, -days_before_today),
        };
        self.settles_sent.push(payload.clone());
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("{payload:?}"),
            self.model.settle(&payload, by),
            settle_command(&payload),
            by,
        )
    }

    fn retry_settle(&mut self, settle: usize, change: SettleChange) -> Asked {
        let sent = self.settles_sent.len().max(1);
        match self.settles_sent.get(settle % sent) {
            None => Asked::nothing("nothing to retry"),
            Some(first) => {
                let payload = change.apply(first);
                let by = self.caller(Who::Ledger);
                Asked::command(
                    format!("{payload:?}"),
                    self.model.settle(&payload, by),
                    settle_command(&payload),
                    by,
                )
            }
        }
    }

    fn pay(
        &mut self,
        statement: Option<usize>,
        days_before_today: i64,
        second_reference: bool,
    ) -> Asked {
        let made = self.model.settlements.len();
        let number = match statement {
            Some(index) if made > 0 => (index % made) as u64 + 1,
            _ => made as u64 + 1,
        };
        let reference = if second_reference {
            "国库集中支付 0002"
        } else {
            "国库集中支付 0001"
        };
        let paid_on = shift(self.model.today, -days_before_today);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!(
                "pay {} on {paid_on} ({reference})",
                settlement_id_text(number)
            ),
            self.model.pay(number, reference, paid_on, by),
            Command::RecordSettlementPayment {
                settlement_id: settlement_id(number),
                bank_reference: Reference::parse(reference).expect("a reference"),
                paid_on,
            },
            by,
        )
    }

    fn relate_parties(&mut self, provider: usize, enterprise: usize, second_reason: bool) -> Asked {
        let provider = SELLERS
            .get(provider)
            .map_or(ENTERPRISES[0], |(seller, _)| *seller);
        let enterprise = ENTERPRISES
            .get(enterprise)
            .copied()
            .unwrap_or(COMPUTE_PROVIDER);
        let why = if second_reason {
            "the lessor's director owns the enterprise"
        } else {
            "same beneficial owner (关联方)"
        };
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("related parties {provider} and {enterprise}: {why}"),
            self.model.relate(provider, enterprise, why, by),
            Command::RecordRelatedParties {
                provider_credit_code: code(provider),
                enterprise_credit_code: code(enterprise),
                reason: reason(why),
            },
            by,
        )
    }

    fn revoke(&mut self, voucher: usize) -> Asked {
        let number = self.model.pick_voucher(voucher);
        let by = self.caller(Who::Ledger);
        Asked::command(
            format!("revoke {}", voucher_id_text(number)),
            self.model.revoke(number, by),
            Command::RevokeVoucher {
                voucher_id: voucher_id(number),
                reason: reason("the enterprise left Qidong"),
            },
            by,
        )
    }

    /// Runs one step on the model and the engine: (what was asked, expected, actual) for
    /// each command of the step.
    fn step(&mut self, harness: &mut Harness, step: usize, op: &Op) -> Answers {
        if let Some(asked) = self.ask(step, op) {
            let actual = match asked.command {
                Some((command, by)) => harness.submit(command, by),
                None => Answer::Done,
            };
            return vec![(asked.asked, asked.expected, actual)];
        }
        match op {
            Op::Together { ops } => self.together(harness, step, ops),
            Op::AdvanceDays { days } => self.advance_days(harness, *days),
            Op::AdvanceToDeadline {
                voucher,
                days_after,
            } => self.advance_to_deadline(harness, *voucher, *days_after),
            Op::Restart { days_later } => self.restart(harness, *days_later),
            _ => unreachable!("command ops are asked above"),
        }
    }

    /// Several commands sent at once; each answered in the order sent.
    fn together(&mut self, harness: &Harness, step: usize, ops: &[Op]) -> Answers {
        let asked: Vec<Asked> = ops.iter().filter_map(|op| self.ask(step, op)).collect();
        let commands: Vec<(Command, Who)> = asked
            .iter()
            .filter_map(|asked| asked.command.clone())
            .collect();
        let mut actual = harness.submit_together(commands).into_iter();
        asked
            .into_iter()
            .map(|asked| {
                let answer = match asked.command {
                    Some(_) => actual.next().expect("an answer per command"),
                    None => Answer::Done,
                };
                (asked.asked, asked.expected, answer)
            })
            .collect()
    }

    fn advance_days(&mut self, harness: &Harness, days: i64) -> Answers {
        self.model.advance(days);
        done(
            format!("today is {}", self.model.today),
            harness.advance_to(self.model.today),
        )
    }

    fn advance_to_deadline(
        &mut self,
        harness: &Harness,
        voucher: usize,
        days_after: i64,
    ) -> Answers {
        let model = &mut self.model;
        let target = model
            .voucher(model.pick_voucher(voucher))
            .map(|voucher| shift(voucher.redeem_by, days_after))
            .filter(|target| *target > model.today);
        match target {
            None => done("no deadline ahead".to_owned(), Ok(())),
            Some(target) => {
                model.advance((target - model.today).num_days());
                done(
                    format!("today is {}", model.today),
                    harness.advance_to(model.today),
                )
            }
        }
    }

    fn restart(&mut self, harness: &mut Harness, days_later: i64) -> Answers {
        self.model.advance(days_later);
        done(
            format!("restart, today is {}", self.model.today),
            harness.restart(self.model.today),
        )
    }
}

/// Runs `ops` from `start`, under a policy that separates duties or not.
pub fn run_history(start: NaiveDate, separated: bool, ops: &[Op]) -> Result<(), String> {
    let mut harness = Harness::start(start, separated)?;
    let mut runner = Runner {
        model: Model::new(start, separated),
        issues_sent: Vec::new(),
        redeems_sent: Vec::new(),
        settles_sent: Vec::new(),
        applies_sent: Vec::new(),
        by: None,
        secrets: 0,
    };
    let mut trace: Vec<String> = vec![format!(
        "start on {start}, {} separation of duties",
        if separated { "with" } else { "without" }
    )];
    let failure = |trace: &[String], step: usize, what: String| {
        format!(
            "step {step} went wrong: {what}\nhistory (what each step resolved to, and both answers):\n{}",
            trace.join("\n")
        )
    };
    harness
        .check_against(&runner.model)
        .map_err(|problem| failure(&trace, 0, format!("after setup: {problem}")))?;
    for (step, op) in ops.iter().enumerate() {
        trace.push(format!("  step {step}: {op:?}"));
        let mut agree = true;
        for (asked, expected, actual) in runner.step(&mut harness, step, op) {
            trace.push(format!("    asked:  {asked}\n    model:  {expected:?}"));
            tally(&expected);
            if expected != actual {
                trace.push(format!("    engine: {actual:?}"));
                agree = false;
            }
        }
        if !agree {
            return Err(failure(
                &trace,
                step,
                "the engine's answer differs from the model's".to_owned(),
            ));
        }
        harness
            .check_against(&runner.model)
            .map_err(|problem| failure(&trace, step, problem))?;
    }
    Ok(())
}
/// How often the model gave each kind of answer, over every history run (shrinking too).
pub static TALLY: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

pub fn tally(answer: &Answer) {
    let label = match answer {
        Answer::Voucher(voucher) => format!("voucher {:?}", voucher.status),
        Answer::Redemption(redemption) => format!(
            "redemption {:?}{}{}",
            redemption.status,
            if redemption.confirmed {
                ", confirmed"
            } else {
                ""
            },
            if redemption.corrects.is_some() {
                ", a correction"
            } else {
                ""
            },
        ),
        Answer::Settlement(settlement) => format!(
            "settlement with {} lines, {} clawbacks, net {}{}",
            if settlement.lines.is_empty() {
                "no"
            } else {
                "some"
            },
            if settlement.clawbacks.is_empty() {
                "no"
            } else {
                "some"
            },
            if settlement.net.0 < 0 {
                "negative"
            } else {
                "not negative"
            },
            if settlement.payment.is_some() {
                ", paid"
            } else {
                ""
            },
        ),
        Answer::RelatedParties(_) => "related parties".to_owned(),
        Answer::Application(application) => format!(
            "application {:?}{}",
            application.status,
            if application.providers.is_empty() {
                ""
            } else {
                ", bound"
            }
        ),
        Answer::Token(token) => format!("token {:?}, active {}", token.role, token.active),
        Answer::Party(..) => "registered".to_owned(),
        Answer::Refused { reason, .. } => format!("refused {reason}"),
        Answer::Done | Answer::Failed(_) => return,
    };
    count(&label);
}

/// Counts `label` in the tally (the model's answers, and why it refused what it refused).
pub fn count(label: &str) {
    *TALLY
        .lock()
        .expect("the tally is not poisoned")
        .entry(label.to_owned())
        .or_default() += 1;
}
