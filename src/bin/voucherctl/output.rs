//! Where replies go: each reply as a `key: value` block or one JSON object per line (the
//! rendering itself is `voucher_ledger::client`'s), lists page by page with `--all` following
//! `next_page_token`, and the progress shown on stderr while a long transfer runs.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tonic::Status;
use voucher_ledger::client::{Record, Value, page_to_json, to_json, to_lines};

use crate::Failure;
use crate::arguments::Paging;

/// `--all` stops after this many pages, however many remain.
pub const MAX_PAGES: usize = 1000;

/// Where replies go: `key: value` blocks, or one JSON object per line.
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn record(&self, record: &Record) {
        if self.json {
            emit(&format!("{}\n", to_json(record)));
        } else {
            emit(&to_lines(record));
        }
    }

    /// Records one after another: a blank line between them as text, one per line as JSON.
    pub fn records(&self, records: impl IntoIterator<Item = Record>) {
        for (index, record) in records.into_iter().enumerate() {
            if index > 0 && !self.json {
                emit("\n");
            }
            self.record(&record);
        }
    }

    /// One page of a list; `shown` items were printed before it.
    fn page(&self, items_key: &str, page: &Page<Record>, shown: usize) {
        if self.json {
            let object = page_to_json(items_key, &page.items, &page.next_page_token);
            emit(&format!("{object}\n"));
            return;
        }
        for (index, record) in page.items.iter().enumerate() {
            if shown + index > 0 {
                emit("\n");
            }
            emit(&to_lines(record));
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

/// The record of a reply to a command that takes `--request-id`, the id first: it is the key
/// to retry with.
pub fn with_request_id(request_id: String, mut record: Record) -> Record {
    record.insert(0, ("request_id", Value::Text(request_id)));
    record
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// One page of a list reply.
pub struct Page<Item> {
    pub items: Vec<Item>,
    pub next_page_token: String,
}

impl Page<Record> {
    /// A reply's messages as records.
    pub fn of<Message>(
        messages: &[Message],
        record: fn(&Message) -> Record,
        next_page_token: String,
    ) -> Page<Record> {
        Page {
            items: messages.iter().map(record).collect(),
            next_page_token,
        }
    }
}

/// Fetches the page at `page_token` and follows next_page_token, at most `max_pages` pages,
/// handing each page to `take`. Returns the token to continue from: empty at the list's end.
pub async fn follow_pages<Item>(
    mut page_token: String,
    max_pages: usize,
    mut fetch: impl AsyncFnMut(String) -> Result<Page<Item>, Status>,
    mut take: impl FnMut(&Page<Item>),
) -> Result<String, Status> {
    for _ in 0..max_pages {
        let page = fetch(page_token).await?;
        take(&page);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    Ok(page_token)
}

/// Prints one page, or with `--all` follows next_page_token for at most [`MAX_PAGES`] pages.
pub async fn paginate(
    output: &Output,
    paging: &Paging,
    items_key: &str,
    fetch: impl AsyncFnMut(String) -> Result<Page<Record>, Status>,
) -> Result<(), Failure> {
    let max_pages = if paging.all { MAX_PAGES } else { 1 };
    let first_token = paging.page_token.clone().unwrap_or_default();
    let mut shown = 0;
    let token = follow_pages(first_token, max_pages, fetch, |page| {
        output.page(items_key, page, shown);
        shown += page.items.len();
    })
    .await?;
    output.end_of_list(items_key, shown, &token);
    if paging.all && !token.is_empty() {
        eprintln!("note: stopped after {MAX_PAGES} pages; continue with --page-token {token}");
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal; hidden in pipes and files.
pub fn progress_bar(length: u64, unit: &str) -> ProgressBar {
    on_stderr(
        Some(length),
        &format!("{{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}}"),
    )
}

/// A counter on stderr for work of unknown length (events, bytes).
pub fn progress_counter(unit: &str) -> ProgressBar {
    on_stderr(None, &format!("{{spinner}} {{pos}} {unit} {{elapsed}}"))
}

fn on_stderr(length: Option<u64>, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
