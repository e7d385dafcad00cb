//! Paging a list forwards and back, with how many there are.
//!
//! Lists are read by key (the page after the last record shown), so every page is a bounded
//! read however long the list is. Going back needs the keys the earlier pages started after:
//! the link carries them (`back=`, comma-separated, the first page's as an empty entry), at
//! most [`TRAIL_MAX`] of them; past that the oldest are dropped and "previous" still works for
//! the last [`TRAIL_MAX`] pages. How many records match is counted the same bounded way the
//! navigation's counts are: at most [`COUNT_PAGES_MAX`] pages of [`COUNT_PAGE`], then "N+".

use maud::{Markup, html};

use super::counts::Count;
use super::i18n::Language;
use super::layout::encode;

/// Pages back a link remembers.
pub const TRAIL_MAX: usize = 100;
/// The longest key kept in a trail (ids and credit codes are far shorter).
const KEY_CHARS_MAX: usize = 40;
/// Records read for one page of a total.
pub const COUNT_PAGE: usize = 1000;
/// Pages a total reads at most.
pub const COUNT_PAGES_MAX: usize = 10;

/// Where a page of a list starts, and the starts of the pages before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paging {
    after: Option<String>,
    back: Vec<String>,
}

impl Paging {
    /// From the query's `after` and `back`; a trail too long loses its oldest entries, and an
    /// entry too long to be a key ends the trail there (the page validates `after` itself).
    pub fn from_query(after: Option<&str>, back: Option<&str>) -> Paging {
        let after = after.filter(|after| !after.is_empty()).map(str::to_owned);
        let mut trail: Vec<String> = back
            .filter(|back| !back.is_empty() || after.is_some())
            .map(|back| {
                back.split(',')
                    .take_while(|key| key.chars().count() <= KEY_CHARS_MAX)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if after.is_some() && trail.is_empty() {
            // A link from before trails existed: the way back is the first page.
            trail.push(String::new());
        }
        let excess = trail.len().saturating_sub(TRAIL_MAX);
        trail.drain(..excess);
        Paging { after, back: trail }
    }

    /// This page's number, counting from 1 (as far back as the trail goes).
    pub fn number(&self) -> usize {
        self.back.len() + 1
    }

    /// The query parameters of the page after this one, which starts after `next_after`.
    pub fn next_parameters(&self, next_after: &str) -> String {
        let mut trail = self.back.clone();
        trail.push(self.after.clone().unwrap_or_default());
        let excess = trail.len().saturating_sub(TRAIL_MAX);
        trail.drain(..excess);
        format!(
            "after={}&back={}",
            encode(next_after),
            encode(&trail.join(","))
        )
    }

    /// The query parameters of the page before this one; `None` on the first page.
    pub fn previous_parameters(&self) -> Option<String> {
        let (previous_after, earlier) = self.back.split_last()?;
        if previous_after.is_empty() && earlier.is_empty() {
            return Some(String::new());
        }
        Some(format!(
            "after={}&back={}",
            encode(previous_after),
            encode(&earlier.join(","))
        ))
    }
}

/// Counts records by reading pages: `read_page(after)` gives a page's length and the key the
/// next page starts after. Stops after [`COUNT_PAGES_MAX`] pages and says "at least".
pub fn bounded_count<E>(
    mut read_page: impl FnMut(Option<String>) -> Result<(usize, Option<String>), E>,
) -> Result<Count, E> {
    let mut count = Count::default();
    let mut after = None;
    for _ in 0..COUNT_PAGES_MAX {
        let (length, next) = read_page(after)?;
        count.counted += length;
        match next {
            Some(next) => after = Some(next),
            None => return Ok(count),
        }
    }
    count.more = after.is_some();
    Ok(count)
}

/// A list's pager: where the reader is, how many there are, and the links to the pages before
/// and after. `link(parameters)` is the list's address under its filters with `parameters`
/// (`after=…&back=…`, or empty for the first page) added.
pub fn pager(
    language: Language,
    paging: &Paging,
    link: &dyn Fn(&str) -> String,
    next_after: Option<&str>,
    shown: usize,
    total: Option<Count>,
) -> Markup {
    let previous = paging.previous_parameters();
    let next = next_after.map(|after| paging.next_parameters(after));
    html! {
        p class="pager" {
            @if let Some(previous) = &previous {
                a class="button secondary" rel="prev" href=(link(previous)) { (language.pick("← 上一页", "← Previous page")) }
                " "
            }
            span class="hint page-position" {
                (position(language, paging.number(), shown, total))
            }
            @if let Some(next) = &next {
                " "
                a class="button secondary" rel="next" href=(link(next)) { (language.pick("下一页 →", "Next page →")) }
            }
        }
    }
}

/// The pager of the page at `here` (its path and query as requested): the links keep every
/// filter of the query and change only where the page starts.
pub fn pager_here(
    language: Language,
    here: &str,
    next_after: Option<&str>,
    shown: usize,
    total: Option<Count>,
) -> Markup {
    let (path, query) = here.split_once('?').unwrap_or((here, ""));
    let mut after = None;
    let mut back = None;
    let mut kept = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "after" => after = Some(value.into_owned()),
            "back" => back = Some(value.into_owned()),
            _ => kept.push(format!("{}={}", encode(&name), encode(&value))),
        }
    }
    let paging = Paging::from_query(after.as_deref(), back.as_deref());
    let filters = kept.join("&");
    let link = |parameters: &str| match (filters.is_empty(), parameters.is_empty()) {
        (true, true) => path.to_owned(),
        (true, false) => format!("{path}?{parameters}"),
        (false, true) => format!("{path}?{filters}"),
        (false, false) => format!("{path}?{filters}&{parameters}"),
    };
    pager(language, &paging, &link, next_after, shown, total)
}

/// `base` (a list's path and filters) with where the page at `here` starts (`after`, `back`):
/// for a page drawn as the answer to a form, whose own address names no filters.
pub fn paged_here(base: &str, here: &str) -> String {
    let query = here.split_once('?').map_or("", |(_, query)| query);
    let mut link = base.to_owned();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == "after" || name == "back" {
            let join = if link.contains('?') { '&' } else { '?' };
            link.push_str(&format!("{join}{name}={}", encode(&value)));
        }
    }
    link
}

/// `第 2 页 · 本页 50 条 · 共 1,234 条`.
fn position(language: Language, number: usize, shown: usize, total: Option<Count>) -> String {
    let page = match language {
        Language::Chinese => format!("第 {number} 页 · 本页 {shown} 条"),
        Language::English => format!("Page {number} · {shown} on this page"),
    };
    match (total, language) {
        (Some(total), Language::Chinese) => format!("{page} · 共 {total} 条"),
        (Some(total), Language::English) => format!("{page} · {total} in all"),
        (None, _) => page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_leads_to_the_first_page_through_every_page_between() {
        let first = Paging::from_query(None, None);
        assert_eq!(first.number(), 1);
        assert_eq!(first.previous_parameters(), None);
        let second_query = first.next_parameters("R000000000050");
        assert_eq!(second_query, "after=R000000000050&back=");
        let second = Paging::from_query(Some("R000000000050"), Some(""));
        assert_eq!(second.number(), 2);
        assert_eq!(second.previous_parameters(), Some(String::new()));
        let third_query = second.next_parameters("R000000000100");
        assert_eq!(third_query, "after=R000000000100&back=%2CR000000000050");
        let third = Paging::from_query(Some("R000000000100"), Some(",R000000000050"));
        assert_eq!(third.number(), 3);
        assert_eq!(
            third.previous_parameters(),
            Some("after=R000000000050&back=".to_owned())
        );
    }

    #[test]
    fn a_trail_is_bounded_and_a_link_without_one_goes_back_to_the_start() {
        let long: Vec<String> = (0..TRAIL_MAX + 20).map(|n| format!("K{n}")).collect();
        let paging = Paging::from_query(Some("K999"), Some(&long.join(",")));
        assert_eq!(paging.number(), TRAIL_MAX + 1);
        let old_link = Paging::from_query(Some("R000000000050"), None);
        assert_eq!(old_link.previous_parameters(), Some(String::new()));
        let hostile = format!("{},K1", "x".repeat(500));
        assert_eq!(Paging::from_query(Some("K2"), Some(&hostile)).number(), 2);
    }

    #[test]
    fn the_pager_keeps_the_filters_and_changes_only_where_the_page_starts() {
        let markup = pager_here(
            Language::English,
            "/redemptions?program=compute&status=accepted&after=R000000000100&back=%2CR000000000050",
            Some("R000000000150"),
            50,
            None,
        )
        .into_string();
        assert!(
            markup.contains(
                "href=\"/redemptions?program=compute&amp;status=accepted&amp;after=R000000000050&amp;back=\""
            ),
            "{markup}"
        );
        assert!(
            markup.contains("after=R000000000150&amp;back=%2CR000000000050%2CR000000000100"),
            "{markup}"
        );
        assert!(markup.contains("Page 3"), "{markup}");
        let first =
            pager_here(Language::Chinese, "/enterprises?q=%E6%99%BA", None, 3, None).into_string();
        assert!(
            !first.contains("上一页") && !first.contains("下一页"),
            "{first}"
        );
        assert!(first.contains("第 1 页 · 本页 3 条"), "{first}");
    }

    #[test]
    fn a_page_answering_a_form_keeps_its_filters_and_its_place() {
        assert_eq!(
            paged_here(
                "/applications?status=pending",
                "/applications?status=pending&after=A000000000050&back="
            ),
            "/applications?status=pending&after=A000000000050&back="
        );
        assert_eq!(
            paged_here("/notices", "/actions/publish-notice"),
            "/notices"
        );
        assert_eq!(
            paged_here("/notices", "/notices?after=N000000000050"),
            "/notices?after=N000000000050"
        );
    }

    #[test]
    fn a_count_stops_after_its_pages_and_says_at_least() {
        let pages = |total: usize| {
            bounded_count::<()>(|after| {
                let start: usize = after.map_or(0, |key| key.parse().unwrap_or(0));
                let length = COUNT_PAGE.min(total - start);
                let next = (start + length < total).then(|| (start + length).to_string());
                Ok((length, next))
            })
        };
        assert_eq!(
            pages(2500),
            Ok(Count {
                counted: 2500,
                more: false
            })
        );
        let capped = pages(COUNT_PAGE * COUNT_PAGES_MAX + 1).unwrap_or_default();
        assert!(capped.more);
        assert_eq!(capped.counted, COUNT_PAGE * COUNT_PAGES_MAX);
        assert_eq!(
            position(Language::Chinese, 2, 50, Some(capped)),
            "第 2 页 · 本页 50 条 · 共 10000+ 条"
        );
    }
}
