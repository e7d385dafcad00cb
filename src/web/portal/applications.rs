//! The enterprise's applications (`/my/applications`): those it made, with their status, and a
//! form per program to apply for a voucher, its providers chosen from that program's registered
//! providers. The form posts to `/my/apply`, which applies in the enterprise's own name.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{EnterpriseViewer, shell};

use crate::api::enterprise;
use crate::domain::error::LedgerError;
use crate::domain::ids::ApplicationId;
use crate::domain::model::{Provider, VoucherApplication};
use crate::domain::policy::{Policy, ProgramRules};
use crate::proto::voucher::v1 as pb;
use crate::web::actions::{answer, program_word, submit};
use crate::web::fields::Fields;
use crate::web::fragments::{
    LastAction, cell, codes, column, last_action, markup_cell, number_cell, number_column, pager,
    row, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, StatusWord, encode, program_name, yuan};
use crate::web::pages::applications::{contract, decision, other_subsidies};
use crate::web::pages::query::optional;
use crate::web::pages::vouchers::{provider_choices, providers_of};
use crate::web::pages::{ROWS_PER_PAGE, refused};
use crate::web::{Console, PageError};

#[derive(Deserialize)]
pub struct OwnApplicationsQuery {
    after: Option<String>,
}

pub async fn applications(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<OwnApplicationsQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.viewer.language;
    let after = optional(
        "after",
        query.after.as_deref(),
        ApplicationId::parse,
        language,
    )?;
    render(&console, &viewer, &uri.to_string(), after, None, None)
}

/// One page of the enterprise's applications, the forms to apply, what the last form did on
/// top.
fn render(
    console: &Console,
    viewer: &EnterpriseViewer,
    here: &str,
    after: Option<ApplicationId>,
    last: Option<&LastAction>,
    typed: Option<&Fields>,
) -> Result<Markup, PageError> {
    let language = viewer.viewer.language;
    let reader = console.engine.reader();
    let page = reader
        .list_applications(None, None, viewer.actor(), after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let next = page
        .next_after
        .map(|after| format!("/my/applications?after={}", encode(&after)));
    let policy = reader.policy();
    let mut forms = Vec::new();
    for rules in policy.programs() {
        let (providers, _) = providers_of(reader, rules.code).map_err(refused(language))?;
        // A refused application comes back in its program's form as it was typed, the field
        // at fault marked.
        let refill = typed
            .filter(|fields| fields.one("program") == rules.code.as_str())
            .map(|fields| Refill {
                fields,
                bad: match last {
                    Some(LastAction::Refused(refusal)) => refusal.field,
                    _ => None,
                },
            });
        forms.push(apply_form(
            language,
            &viewer.viewer.session.csrf,
            rules,
            &providers,
            refill,
        ));
    }
    let body = html! {
        (last_action(last))
        (own_table(language, policy, &page.items))
        (pager(language, next))
        h2 { (language.pick("申领券", "Apply for a voucher")) }
        p class="hint" { (language.pick(
            "每份合同在每个项目下只能有一份有效申领。券将绑定所选服务商，只有它们可以核销。",
            "One live application per contract and program. The voucher is bound to the providers chosen: only they may redeem it."
        )) }
        div class="forms" { @for form in &forms { (form) } }
    };
    let title = language.pick("本企业的申领", "My applications");
    Ok(shell(viewer, here, Section::OwnApplications, title, body))
}

fn own_table(language: Language, policy: &Policy, applications: &[VoucherApplication]) -> Markup {
    let columns = [
        column(language.pick("申领编号", "Application")),
        column(language.pick("项目", "Program")),
        number_column(language.pick("申领金额（元）", "Amount (yuan)")),
        column(language.pick("服务商", "Providers")),
        column(language.pick("合同", "Contract")),
        column(language.pick("用途", "Purpose")),
        column(language.pick("其他补贴", "Other subsidies")),
        column(language.pick("申领时间", "Applied")),
        column(language.pick("状态", "Status")),
    ];
    let rows = applications.iter().map(|application| {
        let program = policy
            .program(application.program)
            .map(|rules| program_name(language, rules))
            .unwrap_or_else(|_| application.program.to_string());
        row([
            cell(application.application_id),
            cell(program),
            number_cell(yuan(application.amount)),
            markup_cell(codes(&application.provider_credit_codes, "")),
            markup_cell(contract(application)),
            cell(application.purpose.as_str()),
            cell(other_subsidies(language, application)),
            cell(application.applied_at.format("%Y-%m-%d %H:%M")),
            markup_cell(decision(language, application)),
        ])
    });
    let empty = language.pick("尚未申领。", "No application yet.");
    table(&columns, rows, Some(empty))
}

/// A refused application's fields as typed, and the field the refusal names.
struct Refill<'a> {
    fields: &'a Fields,
    bad: Option<&'static str>,
}

impl Refill<'_> {
    fn value(refill: Option<&Self>, name: &str) -> Option<String> {
        refill.map(|refill| refill.fields.one(name).to_owned())
    }

    fn bad(refill: Option<&Self>, name: &str) -> bool {
        refill.is_some_and(|refill| refill.bad == Some(name))
    }
}

/// The form to apply under one program, with that program's providers to choose from.
fn apply_form(
    language: Language,
    csrf: &str,
    rules: &ProgramRules,
    providers: &[Provider],
    refill: Option<Refill<'_>>,
) -> Markup {
    let refill = refill.as_ref();
    let value = |name: &str| Refill::value(refill, name);
    let bad = |name: &str| Refill::bad(refill, name);
    let chosen: std::collections::BTreeSet<crate::domain::credit_code::CreditCode> = refill
        .map(|refill| refill.fields.all("provider"))
        .unwrap_or_default()
        .iter()
        .filter_map(|code| crate::domain::typed::credit_code_as_typed(code).ok())
        .collect();
    let heading = format!(
        "{} {}",
        language.pick("申领", "Apply for a"),
        program_name(language, rules)
    );
    html! {
        form method="post" action="/my/apply" class="action" id={"apply-" (rules.code)} {
            h2 { (heading) }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="request_id" value=(uuid::Uuid::new_v4().to_string());
            input type="hidden" name="program" value=(rules.code);
            label { (language.pick("申领金额（元）", "Amount (yuan)")) input name="amount" required inputmode="decimal" maxlength="40" value=[value("amount")] class=[bad("amount").then_some("invalid")] aria-invalid=[bad("amount").then_some("true")]; }
            (provider_choices(language, providers, &chosen))
            label { (language.pick("合同编号", "Contract number")) input name="contract_number" required maxlength="500" value=[value("contract_number")] class=[bad("contract_number").then_some("invalid")] aria-invalid=[bad("contract_number").then_some("true")]; }
            label { (language.pick("合同文件 SHA-256", "Contract file SHA-256")) input name="contract_sha256" required minlength="64" maxlength="64" pattern="[0-9a-fA-F]{64}" value=[value("contract_sha256")] class=[bad("contract_sha256").then_some("invalid")] aria-invalid=[bad("contract_sha256").then_some("true")]; }
            label { (language.pick("用途（训练的模型或应用场景）", "Purpose (the model trained or the scenario served)")) input name="purpose" required maxlength="500" value=[value("purpose")] class=[bad("purpose").then_some("invalid")] aria-invalid=[bad("purpose").then_some("true")]; }
            label { (language.pick("其他财政补贴（无则留空）", "Other public funding for this contract (empty: none)")) input name="other_subsidies" maxlength="500" value=[value("other_subsidies")] class=[bad("other_subsidies").then_some("invalid")] aria-invalid=[bad("other_subsidies").then_some("true")]; }
            button type="submit" { (language.pick("提交申领", "Apply")) }
        }
    }
}

/// Applies in the enterprise's own name: the providers ticked, the amount typed.
pub async fn apply(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = Fields::parse(&body);
    viewer.viewer.check_csrf(fields.one("csrf"))?;
    let actor = viewer.actor();
    let command = program_word(fields.one("program")).and_then(|program| {
        let amount = amount(fields.one("amount"))?;
        enterprise::apply_for_voucher(
            &pb::ApplyForVoucherRequest {
                request_id: fields.one("request_id").to_owned(),
                program,
                amount,
                provider_credit_codes: fields.all("provider"),
                contract_number: fields.one("contract_number").trim().to_owned(),
                contract_sha256: fields.one("contract_sha256").trim().to_owned(),
                purpose: fields.one("purpose").to_owned(),
                other_subsidies: fields.one("other_subsidies").to_owned(),
                enterprise_credit_code: String::new(),
            },
            actor,
        )
    });
    let result = submit(&console, &viewer.viewer, command).await;
    let language = viewer.viewer.language;
    answer(
        language,
        result,
        |outcome| match outcome {
            crate::domain::ledger::Outcome::Application(application) => format!(
                "{} {} · {} · {}",
                language.pick("已提交申领", "Applied:"),
                application.application_id,
                yuan(application.amount),
                application.status.word(language)
            ),
            other => format!("{other:?}"),
        },
        |last| {
            render(
                &console,
                &viewer,
                "/my/applications",
                None,
                Some(last),
                Some(&fields),
            )
        },
    )
}

/// The amount typed (`1,000,000.00`, `30万`, full-width digits); empty is left for the parser
/// to refuse as missing.
fn amount(text: &str) -> Result<Option<crate::proto::google::r#type::Money>, LedgerError> {
    crate::web::actions::typed_amount("amount", text)
}
