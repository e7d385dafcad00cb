//! The fragments every list on the console is drawn from: a table with its header row (and,
//! when it has no rows, one row saying so), a row of cells, the kinds of cell (text, a code, a
//! link, a name over its code, an amount, a status), and the pager under a list. A page says
//! which columns and which cells; the markup and the classes `assets/console.css` styles
//! (`table.list`, `td.number`, `.code`, `p.pager`) are written here once. Pure markup.

use std::fmt::Display;

use maud::{Markup, Render, display, html};

use super::i18n::Language;
use super::layout::{StatusWord, program_name};
use crate::domain::policy::ProgramRules;

/// One column of a table: its heading, and whether its cells are figures (amounts and counts,
/// right-aligned with tabular digits).
pub struct Column<'a> {
    heading: &'a str,
    figures: bool,
}

/// A column of words, codes, dates or links.
pub fn column(heading: &str) -> Column<'_> {
    Column {
        heading,
        figures: false,
    }
}

/// A column of amounts or counts.
pub fn number_column(heading: &str) -> Column<'_> {
    Column {
        heading,
        figures: true,
    }
}

/// A list table: the header row, then `rows` (each from [`row`]); with no rows, one row
/// across every column saying `empty`, when there is something to say.
pub fn table(
    columns: &[Column<'_>],
    rows: impl IntoIterator<Item = Markup>,
    empty: Option<&str>,
) -> Markup {
    let rows: Vec<Markup> = rows.into_iter().collect();
    html! {
        // A table wider than the window scrolls inside its box; the page never does.
        div class="table-scroll" { table class="list" {
            thead { tr {
                @for column in columns {
                    th class=[column.figures.then_some("number")] { (column.heading) }
                }
            } }
            tbody {
                @for row in &rows { (row) }
                @if let (true, Some(empty)) = (rows.is_empty(), empty) {
                    tr { td colspan=(columns.len()) { (empty) } }
                }
            }
        } }
    }
}

/// One row of a table, from its cells in column order.
pub fn row(cells: impl IntoIterator<Item = Markup>) -> Markup {
    html! {
        tr { @for cell in cells { (cell) } }
    }
}

/// A cell of text: an id, a code, a date, a name.
pub fn cell(value: impl Display) -> Markup {
    html! { td { (display(value)) } }
}

/// A cell holding markup of its own (several lines, links, a hint).
pub fn markup_cell(content: Markup) -> Markup {
    html! { td { (content) } }
}

/// A cell holding only a code, set in the code face.
pub fn code_cell(code: impl Display) -> Markup {
    html! { td class="code" { (display(code)) } }
}

/// A cell that is one link.
pub fn link_cell(href: &str, text: impl Display) -> Markup {
    html! { td { a href=(href) { (display(text)) } } }
}

/// A name (text or a link) with its code under it.
pub fn named_cell(name: impl Render, code: impl Display) -> Markup {
    html! { td { (name) div class="code" { (display(code)) } } }
}

/// An amount or a count, already written as it should read (`1,234.50`, `12`).
pub fn number_cell(figure: impl Display) -> Markup {
    html! { td class="number" { (display(figure)) } }
}

/// A voucher's or a redemption's status in the reader's language.
pub fn status_cell(language: Language, status: impl StatusWord) -> Markup {
    html! { td class="status" { (status.word(language)) } }
}

/// The link to a list's next page, when there is one.
pub fn pager(language: Language, next: Option<String>) -> Markup {
    html! {
        @if let Some(next) = next {
            p class="pager" { a class="button secondary" href=(next) { (language.pick("下一页 →", "Next page →")) } }
        }
    }
}

/// What the last form did, shown above a page's lists and forms.
pub enum LastAction {
    Done(String),
    Refused(Refusal),
}

/// A refusal as a clerk reads it: the catalogue's sentence in the reader's language, the
/// field it names (a form marks it), and the wire's words kept for a collapsed 技术信息.
pub struct Refusal {
    pub language: Language,
    pub sentence: String,
    pub field: Option<&'static str>,
    /// `REASON: message`, as gRPC would say it.
    pub technical: String,
}

/// The line saying what the last form did, when a form was just posted.
pub fn last_action(last: Option<&LastAction>) -> Markup {
    html! {
        @match last {
            Some(LastAction::Done(message)) => p class="message done" role="status" { (message) },
            Some(LastAction::Refused(refusal)) => div class="message error" role="alert" {
                p { (refusal.sentence) }
                details class="technical" {
                    summary { (refusal.language.pick("技术信息", "Technical details")) }
                    code { (refusal.technical) }
                }
            },
            None => {},
        }
    }
}

/// A small form inside a table's cell: the CSRF secret, the record it is about, its fields and
/// its button.
pub fn row_form(
    action: &str,
    csrf: &str,
    (id_name, id): (&str, &str),
    fields: Markup,
    button: Markup,
) -> Markup {
    html! {
        form method="post" action=(action) class="row-action" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name=(id_name) value=(id);
            (fields)
            (button)
        }
    }
}

/// Credit codes one under another (a voucher's or an application's providers); `none` when
/// there are none.
pub fn codes<'c>(
    codes: impl IntoIterator<Item = &'c crate::domain::credit_code::CreditCode>,
    none: &str,
) -> Markup {
    let codes: Vec<_> = codes.into_iter().collect();
    html! {
        @if codes.is_empty() {
            span class="hint" { (none) }
        } @else {
            @for code in codes { div class="code" { (code) } }
        }
    }
}

/// A claim's id, linking to its page.
pub fn claim_cell(redemption_id: impl Display) -> Markup {
    html! { td class="code" { (claim_link(redemption_id)) } }
}

/// A claim's id as a link to its page, for a cell holding more.
pub fn claim_link(redemption_id: impl Display) -> Markup {
    html! { a href={"/redemptions/" (display(&redemption_id))} { (display(&redemption_id)) } }
}

/// A voucher's id, linking to its page.
pub fn voucher_cell(voucher_id: impl Display) -> Markup {
    html! { td class="code" { (voucher_link(voucher_id)) } }
}

/// A voucher's id as a link to its page, for a cell holding more.
pub fn voucher_link(voucher_id: impl Display) -> Markup {
    html! { a href={"/vouchers/" (display(&voucher_id))} { (display(&voucher_id)) } }
}

/// An enterprise: its name linking to its page over its code (the code is the link when the
/// name is not known).
pub fn enterprise_cell(name: &str, code: impl Display) -> Markup {
    party_cell("/enterprises/", name, code)
}

/// A provider: its name linking to its page over its code (the code is the link when the
/// name is not known).
pub fn provider_cell(name: &str, code: impl Display) -> Markup {
    party_cell("/providers/", name, code)
}

/// An enterprise or a provider in a cell, see [`party`].
fn party_cell(pages: &str, name: &str, code: impl Display) -> Markup {
    html! { td { (party(pages, name, code)) } }
}

/// A party's name linking to its page (under `pages`) over its code; the code links when
/// the name is empty.
pub fn party(pages: &str, name: &str, code: impl Display) -> Markup {
    let href = format!("{pages}{code}");
    html! {
        @if name.is_empty() {
            a class="code" href=(href) { (display(&code)) }
        } @else {
            a href=(href) { (name) }
            div class="code" { (display(&code)) }
        }
    }
}

/// One record's fields, a row each: the field's name, then its value (text or markup).
pub fn field_table<'a>(fields: impl IntoIterator<Item = (&'a str, Markup)>) -> Markup {
    html! {
        table class="list fields" {
            tbody {
                @for (name, value) in fields {
                    tr { th scope="row" { (name) } td { (value) } }
                }
            }
        }
    }
}

/// A list filter's program choice: every program of the policy in the reader's language, or
/// all of them (empty); `selected` is the program's code as the query gave it.
pub fn program_filter(language: Language, programs: &[ProgramRules], selected: &str) -> Markup {
    html! {
        label { (language.pick("项目", "Program")) " "
            select name="program" {
                option value="" { (language.pick("全部", "All")) }
                @for rules in programs {
                    option value=(rules.code) selected[selected == rules.code.as_str()] { (program_name(language, rules)) }
                }
            }
        }
    }
}
