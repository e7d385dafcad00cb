//! The web console through HTTP, against a real voucherd with `--web-port 0` and a real sled
//! directory: sign-in and its refusals, every page with data in it, the bureau's forms (CSRF,
//! roles, the same refusals as gRPC), the language toggle and the downloads; and the
//! enterprise's part: its own pages, and the bureau's applications, confirmations, bindings
//! and notices; and who did what: the audit page, records' histories, finance's payments.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod clerk;
mod confirm;
mod details;
mod downloads;
mod enterprise;
mod enterprise_bureau;
mod exports;
mod forms;
mod pages;
mod print;
mod sign_in;
mod workbench;

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use common::*;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use voucher_ledger::proto::voucher::v1 as pb;

const TODAY: &str = "2026-11-20";

/// A browser: keeps cookies, does not follow redirects (tests look at them).
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(server: &TestServer) -> Browser {
        Browser::from_address(server, "127.0.0.1")
    }

    /// A browser whose connections come from `local` (any 127.x.y.z is this machine): another
    /// caller address, as the server sees it.
    fn from_address(server: &TestServer, local: &str) -> Browser {
        let web = server.web_address.expect("started with --web-port");
        let local: std::net::IpAddr = local.parse().expect("an address");
        Browser {
            http: reqwest::Client::builder()
                .local_address(local)
                .cookie_store(true)
                .redirect(Policy::none())
                .connect_timeout(CONNECT_DEADLINE)
                .timeout(CALL_DEADLINE)
                .build()
                .expect("an HTTP client"),
            base: format!("http://{web}"),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the console answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    async fn location_of(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the console answers");
        (response.status(), location(&response))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("the console answers");
        let status = response.status();
        let location = location(&response);
        (status, location, response.text().await.expect("a body"))
    }

    /// Opens the sign-in page and signs in with `token`; returns the answer to the POST.
    async fn sign_in(&self, token: &str) -> (StatusCode, String, String) {
        let (status, page) = self.get("/login").await;
        assert_eq!(status, StatusCode::OK);
        let csrf = hidden_value(&page, "csrf");
        self.post("/login", &[("token", token), ("csrf", &csrf)])
            .await
    }

    /// Posts the issue form for a compute voucher to ENTERPRISE.
    async fn issue_compute_voucher(
        &self,
        csrf: &str,
        request_id: &str,
        face_value: &str,
    ) -> (StatusCode, String, String) {
        let form = [
            ("csrf", csrf),
            ("request_id", request_id),
            ("enterprise_credit_code", ENTERPRISE),
            ("program", "compute"),
            ("face_value", face_value),
            ("valid_from", ""),
            ("valid_until", ""),
        ];
        self.post("/actions/issue-voucher", &form).await
    }

    /// The CSRF secret the signed-in pages carry.
    async fn csrf(&self) -> String {
        let (status, page) = self.get("/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        hidden_value(&page, "csrf")
    }
}

fn location(response: &reqwest::Response) -> String {
    header_of(response, reqwest::header::LOCATION)
}

/// The value of the first hidden input named `name`.
fn hidden_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').expect("a closing quote");
    page[start..end].to_owned()
}

/// The redeemed share drawn on the first bar after `anchor`.
fn redeemed_percent_after(page: &str, anchor: &str) -> f64 {
    let from = page
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} not in {page}"));
    let marker = "data-redeemed-percent=\"";
    let start = from + page[from..].find(marker).expect("a bar") + marker.len();
    let end = start + page[start..].find('"').expect("a closing quote");
    page[start..end].parse().expect("a number")
}

/// How many vouchers the ledger holds (the first page, which is enough here).
async fn vouchers_issued(bureau: &mut Client) -> usize {
    bureau
        .list_vouchers(pb::ListVouchersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .vouchers
        .len()
}

async fn world_with_console() -> World {
    World::new_in(DataDir::new(), TODAY, &["--web-port", "0"]).await
}

/// A 100,000.00 compute voucher with one claim per amount (invoices 1, 2…, dated 2026-11-02);
/// returns the voucher and the redemptions.
async fn voucher_with_claims(
    world: &mut World,
    amounts: &[&str],
) -> (pb::Voucher, Vec<pb::Redemption>) {
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("100000.00"),
    )
    .await;
    let mut redemptions = Vec::new();
    for (serial, amount) in (1..).zip(amounts) {
        let request = redeem_request(&voucher, &invoice(serial), "2026-11-02", amount);
        let redemption = world
            .compute_provider
            .redeem(request)
            .await
            .expect("redeemed");
        redemptions.push(redemption.into_inner());
    }
    (voucher, redemptions)
}

fn header_of(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
