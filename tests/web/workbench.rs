//! The review workbench (`/review`, issue 16 item 3): the claims waiting for review with their
//! count on the navigation, approve and reject on each row (reject after a confirmation),
//! approving the ticked claims after one confirmation of their count and total, the next claim
//! marked after each decision; claims waiting for their enterprise offered no approval; an
//! auditor reads without forms and may not post them. Each decision checked over gRPC.

use super::enterprise::{nav_count, world_with_policy};
use super::*;

/// A bureau token of its own, so that a step can be traced to the signed-in clerk: its id and
/// its secret.
async fn clerk(bureau: &mut Client, role: pb::Role) -> (String, String) {
    let created = bureau
        .create_token(pb::CreateTokenRequest {
            role: role as i32,
            description: "workbench test".into(),
            ..Default::default()
        })
        .await
        .expect("a token")
        .into_inner();
    (created.token_id, created.token)
}

async fn claim(world: &mut World, redemption_id: &str) -> pb::Redemption {
    world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: redemption_id.to_owned(),
        })
        .await
        .expect("the claim")
        .into_inner()
}

async fn status_of(world: &mut World, redemption_id: &str) -> pb::RedemptionStatus {
    claim(world, redemption_id).await.status()
}

/// `1234.5` as the console writes amounts: `1,234.50`.
pub(super) fn grouped(plain: &str) -> String {
    let (whole, fraction) = plain.split_once('.').unwrap_or((plain, "00"));
    let mut out = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{out}.{fraction:0<2}")
}

/// Sums amounts written `1234.50`, in fen.
pub(super) fn fen(plain: &str) -> i64 {
    let (whole, fraction) = plain.split_once('.').unwrap_or((plain, "0"));
    let whole: i64 = whole.parse().expect("a whole part");
    let fraction: i64 = format!("{fraction:0<2}").parse().expect("fen");
    whole * 100 + fraction
}

pub(super) fn from_fen(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The row of claim `id` on the workbench, up to its end.
fn row_of<'p>(page: &'p str, id: &str) -> &'p str {
    let start = page
        .find(&format!("<tr id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id} in {page}"));
    let end = start + page[start..].find("</tr>").expect("the row ends");
    &page[start..end]
}

#[tokio::test]
async fn a_clerk_approves_a_row_and_the_next_claim_comes_first() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["1000.00", "2000.00", "3000.00"]).await;
    let (clerk_id, secret) = clerk(&mut world.bureau, pb::Role::Bureau).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&secret).await;
    let (status, page) = browser.get("/review").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<h1>审核工作台</h1>"), "{page}");
    assert_eq!(nav_count(&page, "审核"), "3");
    let first = page.find("<tr id=\"R000000000001\"").expect("R1 listed");
    let second = page.find("<tr id=\"R000000000002\"").expect("R2 listed");
    assert!(first < second, "oldest first");
    let row = row_of(&page, "R000000000001");
    assert!(row.contains("href=\"/redemptions/R000000000001\""), "{row}");
    assert!(row.contains(&grouped(&yuan(&claims[0].subsidy))), "{row}");
    assert!(row.contains("待审核") && row.contains("action=\"/actions/review-approve\""));

    let csrf = hidden_value(&page, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("redemption_id", "r000000000001"),
        ("program", ""),
        ("provider", ""),
    ];
    let (status, _, page) = browser.post("/actions/review-approve", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已通过 R000000000001"), "{page}");
    assert!(
        !page.contains("<tr id=\"R000000000001\""),
        "decided: off the list"
    );
    assert!(
        row_of(&page, "R000000000002").contains("class=\"next\""),
        "the next claim is marked: {page}"
    );
    assert!(page.contains("下一笔："), "{page}");
    assert_eq!(nav_count(&page, "审核"), "2");

    let approved = claim(&mut world, "R000000000001").await;
    assert_eq!(approved.status(), pb::RedemptionStatus::Approved);
    let by = approved.approved_by.expect("who approved it");
    assert_eq!(
        (by.token_id.as_str(), by.role.as_str()),
        (clerk_id.as_str(), "bureau")
    );

    // A second click on the same row approves nothing twice, as over gRPC.
    let (status, _, page) = browser.post("/actions/review-approve", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(nav_count(&page, "审核"), "2");

    browser.get("/language?to=en&back=%2Freview").await;
    let (status, page) = browser.get("/review").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<h1>Review</h1>") && page.contains("Approve selected"),
        "{page}"
    );
    assert_eq!(nav_count(&page, "Review"), "2");
}

#[tokio::test]
async fn a_clerk_rejects_a_row_with_a_reason_after_a_confirmation() {
    let mut world = world_with_console().await;
    let (_, claims) = voucher_with_claims(&mut world, &["1000.00", "2000.00"]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (_, page) = browser.get("/review?program=compute").await;
    let row = row_of(&page, "R000000000002");
    assert!(
        row.contains("name=\"reason\"") && row.contains("驳回"),
        "{row}"
    );
    let csrf = hidden_value(&page, "csrf");
    let reason = "发票与合同不符";
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("redemption_id", "R000000000002"),
        ("reason", reason),
        ("program", "compute"),
        ("provider", ""),
    ];
    let (status, _, page) = browser.post("/actions/review-reject", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let subsidy = grouped(&yuan(&claims[1].subsidy));
    assert!(
        page.contains(&format!("驳回 R000000000002：补贴 {subsidy} 元不予支付")),
        "{page}"
    );
    assert!(page.contains("name=\"confirmed\" value=\"yes\""), "{page}");
    assert!(
        page.contains("href=\"/review?program=compute&amp;provider=\""),
        "{page}"
    );
    assert_eq!(
        status_of(&mut world, "R000000000002").await,
        pb::RedemptionStatus::Accepted,
        "the first submit changes nothing"
    );

    form.push(("confirmed", "yes"));
    let (status, _, page) = browser.post("/actions/review-reject", &form).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已驳回 R000000000002"), "{page}");
    assert!(row_of(&page, "R000000000001").contains("class=\"next\""));
    let rejected = claim(&mut world, "R000000000002").await;
    assert_eq!(rejected.status(), pb::RedemptionStatus::Rejected);
    assert_eq!(rejected.rejection_reason, reason);
}

#[tokio::test]
async fn ticked_claims_are_approved_after_one_confirmation_of_their_count_and_total() {
    let mut world = world_with_console().await;
    let amounts = ["1000.00", "2000.00", "3000.00", "4000.00"];
    let (_, claims) = voucher_with_claims(&mut world, &amounts).await;
    // R4 is rejected over gRPC meanwhile: approving it is refused, the others go through.
    world
        .bureau
        .reject_redemption(pb::RejectRedemptionRequest {
            redemption_id: "R000000000004".into(),
            reason: "重复申报".into(),
        })
        .await
        .expect("rejected");
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (_, page) = browser.get("/review").await;
    assert!(
        page.contains("form=\"review-selected\""),
        "a checkbox per row"
    );
    let csrf = hidden_value(&page, "csrf");
    let ticked = [
        "R000000000001",
        "R000000000002",
        "R000000000003",
        "R000000000004",
    ];
    let mut form = vec![("csrf", csrf.as_str()), ("program", ""), ("provider", "")];
    form.extend(ticked.iter().map(|id| ("redemption_id", *id)));
    let (status, _, page) = browser
        .post("/actions/review-approve-selected", &form)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let total: i64 = claims.iter().map(|claim| fen(&yuan(&claim.subsidy))).sum();
    let expected = format!("通过 4 笔核销，补贴合计 {} 元", grouped(&from_fen(total)));
    assert!(page.contains(&expected), "{expected} in {page}");
    for id in ticked {
        assert!(page.contains(&format!("name=\"redemption_id\" value=\"{id}\"")));
    }
    for id in &ticked[..3] {
        assert_eq!(
            status_of(&mut world, id).await,
            pb::RedemptionStatus::Accepted,
            "the first submit changes nothing"
        );
    }

    form.push(("confirmed", "yes"));
    let (status, _, page) = browser
        .post("/actions/review-approve-selected", &form)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let approved: i64 = claims[..3]
        .iter()
        .map(|claim| fen(&yuan(&claim.subsidy)))
        .sum();
    let done = format!(
        "已通过 3 笔核销，补贴合计 {} 元；未通过 1 笔",
        grouped(&from_fen(approved))
    );
    assert!(page.contains(&done), "{done} in {page}");
    assert!(page.contains("以下核销未能通过"), "{page}");
    assert!(
        page.contains("href=\"/redemptions/R000000000004\""),
        "{page}"
    );
    for id in &ticked[..3] {
        assert_eq!(
            status_of(&mut world, id).await,
            pb::RedemptionStatus::Approved
        );
    }
    assert_eq!(
        status_of(&mut world, "R000000000004").await,
        pb::RedemptionStatus::Rejected
    );
}

#[tokio::test]
async fn more_claims_than_a_page_or_none_are_refused_and_nothing_changes() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["1000.00"]).await;
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let csrf = browser.csrf().await;
    let ids: Vec<String> = (1..=51).map(|n| format!("R{n:012}")).collect();
    let mut form = vec![("csrf", csrf.as_str()), ("confirmed", "yes")];
    form.extend(ids.iter().map(|id| ("redemption_id", id.as_str())));
    let (status, _, page) = browser
        .post("/actions/review-approve-selected", &form)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("TOO_MANY"), "{page}");
    assert_eq!(
        status_of(&mut world, "R000000000001").await,
        pb::RedemptionStatus::Accepted
    );
    let none = [("csrf", csrf.as_str()), ("confirmed", "yes")];
    let (status, _, page) = browser
        .post("/actions/review-approve-selected", &none)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("REQUIRED"), "{page}");
}

#[tokio::test]
async fn a_claim_waiting_for_its_enterprise_is_not_offered_for_approval() {
    let mut world = world_with_policy(&confirmation_policy()).await;
    voucher_with_claims(&mut world, &["1000.00", "2000.00"]).await;
    let token = create_enterprise_token(&mut world.bureau, ENTERPRISE).await;
    let mut enterprise = world.server.client(&token).await;
    enterprise
        .confirm_redemption(pb::ConfirmRedemptionRequest {
            redemption_id: "R000000000002".into(),
        })
        .await
        .expect("confirmed by the enterprise");
    let browser = Browser::new(&world.server);
    browser.sign_in(&world.server.bureau_token).await;
    let (status, page) = browser.get("/review").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(nav_count(&page, "审核"), "1");
    assert_eq!(nav_count(&page, "待企业确认"), "1");
    let waiting = row_of(&page, "R000000000001");
    assert!(waiting.contains("待企业确认"), "{waiting}");
    assert!(
        !waiting.contains("/actions/review-approve") && !waiting.contains("type=\"checkbox\""),
        "no way to approve it: {waiting}"
    );
    let confirmed = row_of(&page, "R000000000002");
    assert!(
        confirmed.contains("/actions/review-approve") && confirmed.contains("type=\"checkbox\"")
    );
}

#[tokio::test]
async fn an_auditor_reads_the_workbench_without_forms_and_may_not_post_them() {
    let mut world = world_with_console().await;
    voucher_with_claims(&mut world, &["1000.00"]).await;
    let (_, secret) = clerk(&mut world.bureau, pb::Role::Auditor).await;
    let auditor = Browser::new(&world.server);
    auditor.sign_in(&secret).await;
    let (status, page) = auditor.get("/review").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<tr id=\"R000000000001\""), "{page}");
    assert!(
        !page.contains("action=\"/actions/review-") && !page.contains("type=\"checkbox\""),
        "read only: {page}"
    );
    let csrf = hidden_value(&page, "csrf");
    let form = [("csrf", csrf.as_str()), ("redemption_id", "R000000000001")];
    for path in [
        "/actions/review-approve",
        "/actions/review-reject",
        "/actions/review-approve-selected",
    ] {
        let (status, _, _) = auditor.post(path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        status_of(&mut world, "R000000000001").await,
        pb::RedemptionStatus::Accepted
    );
}
