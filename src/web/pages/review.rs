//! The review workbench (`/review`, 审核工作台): the claims waiting for the bureau's decision
//! (accepted, 待审核), oldest first, a bounded page, filtered by program and provider. Each row
//! carries approve (通过) and reject (驳回, with a reason) for the bureau, and a checkbox for
//! approving many at once (one confirmation, then each approval submitted on its own). A claim
//! whose program needs its enterprise's confirmation first is shown as 待企业确认 with no way
//! to approve it (the ledger would refuse with CONFIRMATION_REQUIRED). After each decision
//! the answer is this page again, what happened on top and the next claim to decide marked,
//! so the clerk goes on. Auditors and finance read it without forms.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::names::Names;
use super::query::{optional, optional_program};
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::RedemptionId;
use crate::domain::model::{Actor, Redemption, RedemptionStatus};
use crate::domain::policy::{Policy, ProgramCode, ProgramRules};
use crate::engine::{EngineError, RedemptionFilter};
use crate::web::counts::awaits_confirmation;
use crate::web::fragments::{
    LastAction, Refusal, cell, column, enterprise_cell, last_action, link_cell, markup_cell,
    number_cell, number_column, program_filter, provider_cell, row_form, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, encode, program_name, yuan};
use crate::web::paging::{COUNT_PAGE, bounded_count, paged_here, pager_here};
use crate::web::{Console, PageError, Viewer};

/// The workbench's query: its filters as the reader typed them, and where the page starts.
#[derive(Deserialize, Default)]
pub struct ReviewQuery {
    #[serde(default)]
    pub program: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

/// The workbench's filters, as typed (carried by every form on the page, so the answer to a
/// decision shows the same list) and checked.
pub struct Asked {
    pub program: String,
    pub provider: String,
    program_code: Option<ProgramCode>,
    provider_code: Option<CreditCode>,
    after: Option<RedemptionId>,
}

impl Asked {
    /// Checks the filters; a bad one is refused naming its field, as `/redemptions` does.
    pub fn parse(
        query: &ReviewQuery,
        policy: &Policy,
        language: Language,
    ) -> Result<Asked, PageError> {
        let program = query.program.as_deref().map(str::trim).unwrap_or_default();
        let provider = query.provider.as_deref().map(str::trim).unwrap_or_default();
        Ok(Asked {
            program_code: optional_program(policy, Some(program), language)?,
            provider_code: optional(
                "provider",
                Some(provider),
                crate::domain::typed::credit_code_as_typed,
                language,
            )?,
            after: optional(
                "after",
                query.after.as_deref(),
                RedemptionId::parse,
                language,
            )?,
            program: program.to_owned(),
            provider: provider.to_owned(),
        })
    }

    /// The workbench under these filters, from its first page.
    pub fn link(&self) -> String {
        format!(
            "/review?program={}&provider={}",
            encode(&self.program),
            encode(&self.provider)
        )
    }

    /// The filters as hidden inputs, for a form whose answer is this page again.
    pub fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="program" value=(self.program);
            input type="hidden" name="provider" value=(self.provider);
        }
    }
}

/// A claim a batch could not approve, and why, in the catalogue's words.
pub struct RefusedClaim {
    pub redemption_id: String,
    pub refusal: Refusal,
}

pub async fn review(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ReviewQuery>,
) -> Result<Markup, PageError> {
    let asked = Asked::parse(&query, console.engine.reader().policy(), viewer.language)?;
    render(&console, &viewer, &uri.to_string(), &asked, None, &[])
}

/// One page of the waiting claims under `asked`, what the last decision did on top (and each
/// claim of a batch that was refused); after a decision, the next claim to decide is marked.
pub fn render(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    asked: &Asked,
    last: Option<&LastAction>,
    refused_claims: &[RefusedClaim],
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let policy = reader.policy();
    let filter = RedemptionFilter {
        program: asked.program_code,
        provider_credit_code: asked.provider_code,
        status: Some(RedemptionStatus::Accepted),
        ..RedemptionFilter::default()
    };
    let page = reader
        .list_redemptions(filter, Actor::Bureau, asked.after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let next_to_decide = last
        .and_then(|_| {
            page.items
                .iter()
                .find(|claim| !awaits_confirmation(policy, claim))
        })
        .map(|claim| claim.redemption_id);
    let total = bounded_count(|after| {
        // The store's own key always parses; were it not to, the count ends there.
        let Ok(after) = after.map(|key| RedemptionId::parse(&key)).transpose() else {
            return Ok((0, None));
        };
        let counted = reader.list_redemptions(filter, Actor::Bureau, after, COUNT_PAGE)?;
        Ok::<_, EngineError>((counted.items.len(), counted.next_after))
    })
    .map_err(refused(language))?;
    let csrf = viewer.is_bureau().then_some(viewer.session.csrf.as_str());
    let names = Names::of_claims(reader, &page.items).map_err(refused(language))?;
    let table = Workbench {
        language,
        policy,
        csrf,
        asked,
        next_to_decide,
        names: &names,
    };
    let body = html! {
        (last_action(last))
        (refusals(language, refused_claims))
        (next_line(language, &page.items, next_to_decide))
        (filter_form(language, policy.programs(), asked))
        @if let Some(csrf) = csrf { (batch_form(language, csrf, asked, &page.items, policy)) }
        (table.draw(&page.items))
        (pager_here(language, &paged_here(&asked.link(), here), page.next_after.as_deref(), page.items.len(), Some(total)))
    };
    let title = language.pick("审核工作台", "Review");
    Ok(shell(viewer, here, Section::Review, title, body))
}

/// Each claim of a batch that was refused, with the catalogue's sentence.
fn refusals(language: Language, refused_claims: &[RefusedClaim]) -> Markup {
    html! {
        @if !refused_claims.is_empty() {
            div class="message error" role="alert" {
                p { (language.pick("以下核销未能通过：", "These claims were not approved:")) }
                ul {
                    @for claim in refused_claims {
                        li {
                            a href={"/redemptions/" (claim.redemption_id)} { (claim.redemption_id) }
                            "：" (claim.refusal.sentence)
                            details class="technical" {
                                summary { (language.pick("技术信息", "Technical details")) }
                                code { (claim.refusal.technical) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// After a decision: which claim comes next, linked to its row.
fn next_line(language: Language, claims: &[Redemption], next: Option<RedemptionId>) -> Markup {
    let claim = next.and_then(|id| claims.iter().find(|claim| claim.redemption_id == id));
    html! {
        @if let Some(claim) = claim {
            p class="hint next" {
                (language.pick("下一笔：", "Next: "))
                a href={"#" (claim.redemption_id)} { (claim.redemption_id) }
                " · " (claim.enterprise_credit_code)
                " · " (language.pick("补贴 ", "subsidy ")) (yuan(claim.subsidy)) (language.pick(" 元", " yuan"))
            }
        }
    }
}

fn filter_form(language: Language, programs: &[ProgramRules], asked: &Asked) -> Markup {
    html! {
        form method="get" action="/review" class="filters" {
            (program_filter(language, programs, &asked.program))
            label { (language.pick("服务商代码", "Provider code")) " " input name="provider" value=(asked.provider) size="20" maxlength="18"; }
            button type="submit" { (language.pick("筛选", "Filter")) }
        }
    }
}

/// The form the rows' checkboxes belong to (by `form=`, since a form may not hold the rows'
/// own forms): approve the ticked claims, after one confirmation.
fn batch_form(
    language: Language,
    csrf: &str,
    asked: &Asked,
    claims: &[Redemption],
    policy: &Policy,
) -> Markup {
    let approvable = claims
        .iter()
        .filter(|claim| !awaits_confirmation(policy, claim))
        .count();
    let hint = match language {
        Language::Chinese => format!(
            "本页可审核 {approvable} 笔，最早提交的在前。勾选后可一次通过（先确认笔数和金额）。"
        ),
        Language::English => format!(
            "{approvable} claims on this page may be decided, oldest first. Tick several to approve them at once (after a confirmation of their count and total)."
        ),
    };
    html! {
        form method="post" action="/actions/review-approve-selected" id="review-selected" class="filters" {
            input type="hidden" name="csrf" value=(csrf);
            (asked.hidden())
            span class="hint" { (hint) }
            button type="submit" { (language.pick("通过所选", "Approve selected")) }
        }
    }
}

/// The table of waiting claims, with the bureau's forms when `csrf` is given.
struct Workbench<'a> {
    language: Language,
    policy: &'a Policy,
    csrf: Option<&'a str>,
    asked: &'a Asked,
    next_to_decide: Option<RedemptionId>,
    /// The names beside the codes of this page's claims.
    names: &'a Names,
}

impl Workbench<'_> {
    fn draw(&self, claims: &[Redemption]) -> Markup {
        let language = self.language;
        let mut columns = Vec::new();
        if self.csrf.is_some() {
            columns.push(column(language.pick("选择", "Select")));
        }
        columns.extend([
            column(language.pick("核销编号", "Claim")),
            column(language.pick("项目", "Program")),
            column(language.pick("企业", "Enterprise")),
            column(language.pick("服务商", "Provider")),
            column(language.pick("发票号码", "Invoice")),
            column(language.pick("发票日期", "Invoice date")),
            number_column(language.pick("发票金额（元）", "Amount (yuan)")),
            number_column(language.pick("补贴（元）", "Subsidy (yuan)")),
            column(language.pick("凭证", "Evidence")),
            column(language.pick("状态", "Status")),
        ]);
        if self.csrf.is_some() {
            columns.push(column(language.pick("审核", "Decide")));
        }
        let rows = claims.iter().map(|claim| self.row(claim));
        let empty = language.pick("没有待审核的核销。", "No claim waits for review.");
        table(&columns, rows, Some(empty))
    }

    fn row(&self, claim: &Redemption) -> Markup {
        let language = self.language;
        let waiting = awaits_confirmation(self.policy, claim);
        let id = claim.redemption_id.to_string();
        let enterprise = claim.enterprise_credit_code;
        let program = self.policy.program(claim.program).map_or_else(
            |_| claim.program.as_str().to_owned(),
            |rules| program_name(language, rules),
        );
        let evidence = match claim.evidence.len() {
            0 => language.pick("无", "none").to_owned(),
            count => format!("{count} {}", language.pick("份", "documents")),
        };
        let status = if waiting {
            language.pick("待企业确认", "awaiting the enterprise")
        } else {
            language.pick("待审核", "awaiting review")
        };
        let next = self.next_to_decide == Some(claim.redemption_id);
        html! {
            tr id=(id) class=[next.then_some("next")] aria-current=[next.then_some("true")] {
                @if self.csrf.is_some() {
                    td { @if !waiting {
                        input type="checkbox" name="redemption_id" value=(id) form="review-selected"
                            aria-label={(language.pick("选择 ", "Select ")) (id)};
                    } }
                }
                (link_cell(&format!("/redemptions/{id}"), &id))
                (cell(program))
                (enterprise_cell(self.names.enterprise(&enterprise), enterprise))
                (provider_cell(self.names.provider(&claim.provider_credit_code), claim.provider_credit_code))
                (cell(&claim.invoice.number))
                (cell(claim.invoice.date))
                (number_cell(yuan(claim.invoice.amount)))
                (number_cell(yuan(claim.subsidy)))
                (cell(evidence))
                (cell(status))
                @if let Some(csrf) = self.csrf { (markup_cell(self.decide(csrf, &id, waiting))) }
            }
        }
    }

    /// Approve (not while the enterprise has to confirm first) and reject with a reason.
    fn decide(&self, csrf: &str, id: &str, waiting: bool) -> Markup {
        let language = self.language;
        let approve =
            html! { button type="submit" class="small" { (language.pick("通过", "Approve")) } };
        let reject = html! { button type="submit" class="small danger" { (language.pick("驳回", "Reject")) } };
        let reason = html! {
            (self.asked.hidden())
            input name="reason" required maxlength="500"
                placeholder=(language.pick("驳回原因", "Why"))
                aria-label=(language.pick("驳回原因", "Reason"));
        };
        html! {
            @if waiting {
                span class="hint" { (language.pick("企业确认后方可通过", "Approvable once the enterprise confirms")) }
            } @else {
                (row_form("/actions/review-approve", csrf, ("redemption_id", id), self.asked.hidden(), approve))
            }
            (row_form("/actions/review-reject", csrf, ("redemption_id", id), reason, reject))
        }
    }
}
