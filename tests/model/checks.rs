//! After every step: every voucher, redemption, cap account, program budget and summary,
//! application, token and settlement statement the engine shows is compared with the model's
//! (who made each step of each record too), the engine must show
//! nothing more, and the invariants must hold on the engine's side (no redemption in two
//! statements, a settled one in exactly the statement it names, each provider's statements
//! paying what the model's redemptions say).

use std::collections::HashMap;

use voucher_ledger::domain::ids::{RedemptionId, SettlementId};
use voucher_ledger::domain::model::{Actor, Redemption, RedemptionStatus, Settlement};
use voucher_ledger::engine::Reader;
use voucher_ledger::store::SettlementFilter;

use crate::answers::{
    ApplicationView, BalanceView, BudgetLine, RedemptionView, SettlementView, SummaryView,
    TokenView, VoucherView,
};
use crate::harness::{
    Harness, application_id, code, is_not_found, redemption_id, settlement_id, token_id, voucher_id,
};
use crate::reference::{Model, ModelSettlement};
use crate::rules::{ENTERPRISES, SELLERS, accounts, program_periods};
use crate::values::Fen;

impl Harness {
    /// Every voucher, redemption and cap account the engine shows equals the model's, the
    /// engine shows nothing more, and its invariants hold.
    pub fn check_against(&self, model: &Model) -> Result<(), String> {
        model.check_itself()?;
        let reader = self.engine().reader();
        check_vouchers(reader, model)?;
        check_redemptions(reader, model)?;
        check_balances(reader, model)?;
        check_programs(reader, model)?;
        check_applications(reader, model)?;
        check_tokens(reader, model)?;
        check_settlements(reader, model)
    }
}

/// Each token the history created equals the model's, revoked or not; there is no other.
fn check_tokens(reader: &Reader, model: &Model) -> Result<(), String> {
    let read = |number: u64| {
        reader
            .store()
            .token(&token_id(number))
            .map_err(|error| format!("token {number}: {error}"))
    };
    for expected in &model.tokens {
        let actual = read(expected.number)?.map(|token| TokenView::of(&token));
        if actual.as_ref() != Some(&expected.view()) {
            return Err(format!(
                "token differs:\n  model:  {:?}\n  engine: {actual:?}",
                expected.view()
            ));
        }
    }
    let extra = read(Model::next_number(model.tokens.len()))?;
    if extra.is_some() {
        return Err(format!(
            "the engine has a token the model has not: {extra:?}"
        ));
    }
    Ok(())
}

/// Each application equals the model's, read one by one and listed; there is no other.
fn check_applications(reader: &Reader, model: &Model) -> Result<(), String> {
    let mut read = Vec::new();
    for expected in &model.applications {
        let application = reader
            .application(&application_id(expected.number), Actor::Bureau)
            .map_err(|error| format!("application {}: {error}", expected.number))?;
        let (expected, actual) = (expected.view(), ApplicationView::of(&application));
        if expected != actual {
            return Err(format!(
                "application differs:\n  model:  {expected:?}\n  engine: {actual:?}"
            ));
        }
        read.push(application);
    }
    let extra = reader.application(
        &application_id(Model::next_number(model.applications.len())),
        Actor::Bureau,
    );
    if !is_not_found(&extra) {
        return Err(format!(
            "the engine has an application the model has not: {extra:?}"
        ));
    }
    let listed = reader
        .list_applications(None, None, Actor::Bureau, None, 1000)
        .map_err(|error| format!("listing applications: {error}"))?;
    if listed.items != read {
        return Err(format!(
            "the applications listed are not those read one by one: {:?}",
            listed.items
        ));
    }
    Ok(())
}

/// Each voucher equals the model's and is within its face value; there is no other.
fn check_vouchers(reader: &Reader, model: &Model) -> Result<(), String> {
    for expected in &model.vouchers {
        let voucher = reader
            .voucher(&voucher_id(expected.number))
            .map_err(|error| format!("voucher {}: {error}", expected.number))?;
        if voucher.redeemed > voucher.face_value {
            return Err(format!("engine voucher over its face value: {voucher:?}"));
        }
        let (expected, actual) = (expected.view(), VoucherView::of(&voucher));
        if expected != actual {
            return Err(format!(
                "voucher differs:\n  model:  {expected:?}\n  engine: {actual:?}"
            ));
        }
    }
    let extra = reader.voucher(&voucher_id(Model::next_number(model.vouchers.len())));
    if !is_not_found(&extra) {
        return Err(format!(
            "the engine has a voucher the model has not: {extra:?}"
        ));
    }
    Ok(())
}

/// Each redemption equals the model's; there is no other.
fn check_redemptions(reader: &Reader, model: &Model) -> Result<(), String> {
    for expected in &model.redemptions {
        let redemption = reader
            .redemption(&redemption_id(expected.number), Actor::Bureau)
            .map_err(|error| format!("redemption {}: {error}", expected.number))?;
        let (expected, actual) = (expected.view(), RedemptionView::of(&redemption));
        if expected != actual {
            return Err(format!(
                "redemption differs:\n  model:  {expected:?}\n  engine: {actual:?}"
            ));
        }
    }
    let extra = reader.redemption(
        &redemption_id(Model::next_number(model.redemptions.len())),
        Actor::Bureau,
    );
    if !is_not_found(&extra) {
        return Err(format!(
            "the engine has a redemption the model has not: {extra:?}"
        ));
    }
    Ok(())
}

/// Every cap account holds redeemed ≤ committed ≤ cap and equals the model's.
fn check_balances(reader: &Reader, model: &Model) -> Result<(), String> {
    for (enterprise, program, period) in accounts() {
        let balance = reader
            .balance(&code(ENTERPRISES[enterprise]), program, Some(period.first))
            .map_err(|error| format!("balance: {error}"))?;
        if !(balance.redeemed <= balance.committed && balance.committed <= balance.cap) {
            return Err(format!(
                "engine cap account breaks redeemed ≤ committed ≤ cap: {balance:?}"
            ));
        }
        let expected = model.balance(enterprise, program, period);
        let actual = BalanceView::of(&balance);
        if expected != actual {
            return Err(format!(
                "balance of enterprise {enterprise} ({}) {program} differs:\n  model:  {expected:?}\n  engine: {actual:?}",
                ENTERPRISES[enterprise]
            ));
        }
    }
    Ok(())
}

/// Every program period's budget line equals the model's and is within its budget, and its
/// summary equals the model's.
fn check_programs(reader: &Reader, model: &Model) -> Result<(), String> {
    for (program, period) in program_periods() {
        let view = reader
            .budget(program, Some(period.first))
            .map_err(|error| format!("budget: {error}"))?;
        let expected = model.budget_line(program, period);
        let actual = BudgetLine::of(&view);
        if expected != actual {
            return Err(format!(
                "budget of {program} {period:?} differs:\n  model:  {expected:?}\n  engine: {actual:?}"
            ));
        }
        if actual
            .budget
            .is_some_and(|budget| actual.committed > budget)
        {
            return Err(format!("engine program over its budget: {actual:?}"));
        }
        let summary = reader
            .program_summary(program, Some(period.first))
            .map_err(|error| format!("program summary: {error}"))?;
        let expected = model.summary(program, period);
        let actual = SummaryView::of(&summary);
        if expected != actual {
            return Err(format!(
                "summary of {program} {period:?} differs:\n  model:  {expected:?}\n  engine: {actual:?}"
            ));
        }
    }
    Ok(())
}

/// Every statement the engine shows equals the model's, header, lines and clawbacks; it
/// shows no other; and the statements agree with the redemptions.
fn check_settlements(reader: &Reader, model: &Model) -> Result<(), String> {
    let mut statements = Vec::new();
    for expected in &model.settlements {
        statements.push(check_statement(reader, model, expected)?);
    }
    let extra = reader.settlement(
        &settlement_id(Model::next_number(model.settlements.len())),
        Actor::Bureau,
    );
    if !is_not_found(&extra) {
        return Err(format!(
            "the engine has a settlement the model has not: {extra:?}"
        ));
    }
    let listed = reader
        .list_settlements(SettlementFilter::default(), Actor::Bureau, None, 1000)
        .map_err(|error| format!("listing settlements: {error}"))?;
    let listed: Vec<&Settlement> = listed.items.iter().map(|(s, _)| s).collect();
    if listed != statements.iter().collect::<Vec<_>>() {
        return Err(format!(
            "the settlements listed are not those read one by one: {listed:?}"
        ));
    }
    let paid_in = check_paid_once(&statements)?;
    check_statements_named(reader, model, &paid_in)?;
    check_paid_per_provider(model, &statements)
}

/// One statement equals the model's, header and lines, and adds up; the statement read.
fn check_statement(
    reader: &Reader,
    model: &Model,
    expected: &ModelSettlement,
) -> Result<Settlement, String> {
    let (settlement, lines, _) = reader
        .settlement(&settlement_id(expected.number), Actor::Bureau)
        .map_err(|error| format!("settlement {}: {error}", expected.number))?;
    let (expected_view, actual) = (expected.view(), SettlementView::of(&settlement));
    if expected_view != actual {
        return Err(format!(
            "settlement differs:\n  model:  {expected_view:?}\n  engine: {actual:?}"
        ));
    }
    check_lines(model, &actual, &lines)?;
    let line_sum = lines
        .iter()
        .fold(Fen(0), |total, line| total.plus(Fen::of(line.subsidy)));
    let clawback_sum = settlement.clawbacks.iter().fold(Fen(0), |total, clawback| {
        total.plus(Fen::of(clawback.amount))
    });
    if line_sum != actual.gross
        || clawback_sum != actual.clawed_back
        || actual.net != actual.gross.minus(actual.clawed_back)
    {
        return Err(format!(
            "settlement {} does not add up: lines {line_sum:?}, clawbacks {clawback_sum:?}: {actual:?}",
            actual.id
        ));
    }
    Ok(settlement)
}

/// A statement's lines are the redemptions it lists, each equal to the model's.
fn check_lines(model: &Model, actual: &SettlementView, lines: &[Redemption]) -> Result<(), String> {
    let line_ids: Vec<String> = lines
        .iter()
        .map(|line| line.redemption_id.to_string())
        .collect();
    if line_ids != actual.lines {
        return Err(format!(
            "settlement {} lists {:?} but its lines are {line_ids:?}",
            actual.id, actual.lines
        ));
    }
    for line in lines {
        let number = line.redemption_id.number();
        let index = model.redemption_index(number).ok_or_else(|| {
            format!(
                "settlement {} has a line the model has not: {number}",
                actual.id
            )
        })?;
        let (expected_line, actual_line) =
            (model.redemptions[index].view(), RedemptionView::of(line));
        if expected_line != actual_line {
            return Err(format!(
                "a line of settlement {} differs:\n  model:  {expected_line:?}\n  engine: {actual_line:?}",
                actual.id
            ));
        }
    }
    Ok(())
}

/// No redemption is in two statements, nor netted twice, nor netted before it was paid; the
/// statement each redemption was paid in.
fn check_paid_once(
    statements: &[Settlement],
) -> Result<HashMap<RedemptionId, SettlementId>, String> {
    let mut paid_in: HashMap<RedemptionId, SettlementId> = HashMap::new();
    let mut netted_in: HashMap<RedemptionId, SettlementId> = HashMap::new();
    for statement in statements {
        for id in &statement.redemption_ids {
            if let Some(other) = paid_in.insert(*id, statement.settlement_id) {
                return Err(format!(
                    "{id} is in two settlements, {other} and {}",
                    statement.settlement_id
                ));
            }
        }
        for clawback in &statement.clawbacks {
            if let Some(other) = netted_in.insert(clawback.redemption_id, statement.settlement_id) {
                return Err(format!(
                    "{} is clawed back in two settlements, {other} and {}",
                    clawback.redemption_id, statement.settlement_id
                ));
            }
            if !paid_in.contains_key(&clawback.redemption_id) {
                return Err(format!(
                    "{} is clawed back in {} but was not paid before",
                    clawback.redemption_id, statement.settlement_id
                ));
            }
        }
    }
    Ok(paid_in)
}

/// A redemption names the statement that lists it, and a settled one is in one.
fn check_statements_named(
    reader: &Reader,
    model: &Model,
    paid_in: &HashMap<RedemptionId, SettlementId>,
) -> Result<(), String> {
    for number in 1..=u64::try_from(model.redemptions.len()).expect("few") {
        let redemption = reader
            .redemption(&redemption_id(number), Actor::Bureau)
            .map_err(|error| format!("redemption {number}: {error}"))?;
        let in_statement = paid_in.get(&redemption.redemption_id).copied();
        if in_statement != redemption.settlement_id
            || (redemption.status == RedemptionStatus::Settled && in_statement.is_none())
        {
            return Err(format!(
                "{} is {:?} naming settlement {:?}, but the statements list it in {in_statement:?}",
                redemption.redemption_id, redemption.status, redemption.settlement_id
            ));
        }
    }
    Ok(())
}

/// What the statements paid each provider, less what they clawed back, is what the model's
/// redemptions say the provider was paid and has not had back.
fn check_paid_per_provider(model: &Model, statements: &[Settlement]) -> Result<(), String> {
    for (provider, program) in SELLERS {
        let from_statements = statements
            .iter()
            .filter(|s| s.provider_credit_code == code(provider) && s.program == program)
            .fold(Fen(0), |total, s| total.plus(Fen::of_decimal(s.net())));
        let expected = model.paid(provider, program);
        if from_statements != expected {
            return Err(format!(
                "the statements pay {provider} {program} {from_statements:?} net, the model says {expected:?}"
            ));
        }
    }
    Ok(())
}
