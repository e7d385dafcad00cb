// The web console end to end, in a real browser: Debian's chromium, driven by playwright-core.
//
// Starts its own voucherd (console on, a fresh data directory, the date pinned), sets up an
// enterprise and a compute provider with voucherctl (gRPC), then in the browser: signs in with
// the bureau token, issues a voucher through the form, sees the enterprise's bar at 0, redeems
// over gRPC, sees the bar move to the exact share, approves the claim on the review workbench
// (also drawn at 1024×768, where nothing may overflow the window), sees a refused form come back
// with its input and the bad field marked, confirms an irreversible step on its own page before
// anything happens, prints a statement's payment voucher (print media, A4 PDF), downloads the
// XLSX report, and switches to English. Writes a screenshot of every page to the folder it
// prints.
//
//   node e2e/console.mjs            (after `cargo build`; see e2e/README.md)
//
// Environment: VOUCHERD, VOUCHERCTL (binaries; default target/debug), CHROMIUM (default
// /usr/bin/chromium), E2E_SCREENSHOTS (default e2e/screenshots).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const voucherd = process.env.VOUCHERD ?? join(root, "target/debug/voucherd");
const voucherctl = process.env.VOUCHERCTL ?? join(root, "target/debug/voucherctl");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshots = resolve(process.env.E2E_SCREENSHOTS ?? join(root, "e2e/screenshots"));

const ENTERPRISE = "914403001922038216";
const PROVIDER = "9144030071526726XG";
const TODAY = "2026-11-20";

/** Starts voucherd and resolves with its gRPC and console addresses from its first two lines. */
function startVoucherd(dataDir) {
  const child = spawn(
    voucherd,
    ["--listen", "127.0.0.1:0", "--web-port", "0", "--data-dir", dataDir, "--today", TODAY],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: "warn" } },
  );
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolveStart, rejectStart) => {
    const seen = [];
    child.on("exit", (code) => rejectStart(new Error(`voucherd exited with ${code}`)));
    lines.on("line", (line) => {
      seen.push(line);
      if (seen.length === 2) {
        const grpc = seen[0].replace("voucherd listening on ", "");
        const web = seen[1].replace("voucherd web console on ", "");
        assert.ok(web.startsWith("http://"), `unexpected line ${seen[1]}`);
        resolveStart({ child, grpc, web });
      }
    });
  });
}

function ctl(grpc, token, ...args) {
  return execFileSync(voucherctl, ["--addr", grpc, "--token", token, ...args], {
    encoding: "utf8",
  });
}

async function shoot(page, name) {
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  console.log(`screenshot: ${path}`);
}

/** The redeemed share drawn on the enterprise's first bar, as the page states it. */
async function redeemedPercent(page) {
  const row = page.locator("tr", { hasText: ENTERPRISE }).first();
  const value = await row.locator("svg.bar").first().getAttribute("data-redeemed-percent");
  return Number(value);
}

/** Fails when the page is wider than the window (a table or the navigation overflowing). */
async function assertFitsWidth(page, width) {
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `the page is ${scrollWidth} px wide in a ${width} px window`);
}

/** The workbench at 1366 and 1024 px; the claim approved on its row, the next one marked. */
async function reviewWorkbench(page) {
  await page.click('nav a[href="/review"]');  // 审核
  const row = page.locator("tr#R000000000001");
  await row.waitFor();
  await shoot(page, "08-review");
  await page.setViewportSize({ width: 1024, height: 768 });
  await assertFitsWidth(page, 1024);
  await shoot(page, "09-review-1024");
  await page.goto(page.url().replace(/\/review.*$/, "/redemptions"));
  await assertFitsWidth(page, 1024);
  await shoot(page, "10-redemptions-1024");
  await page.setViewportSize({ width: 800, height: 700 });
  for (const path of ["/redemptions", "/review", "/", "/providers"]) {
    await page.goto(page.url().replace(/\/[a-z]*(\?.*)?$/, path));
    await assertFitsWidth(page, 800);
  }
  await shoot(page, "10b-providers-800");
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.click('nav a[href="/review"]');
  await page.locator("tr#R000000000001 button", { hasText: "通过" }).click();
  await page.waitForSelector(".message.done");
  assert.match(await page.textContent(".message.done"), /已通过 R000000000001/);
  await shoot(page, "11-review-approved");
}

/** A wrong check digit: the form comes back as typed, the field marked, a sentence in Chinese. */
async function refusedFormKeepsItsInput(page) {
  await page.click('nav a[href="/actions"]');
  const form = page.locator("form#issue-voucher");
  const wrongCode = ENTERPRISE.slice(0, 17) + "0";
  await form.locator("input[name=enterprise_credit_code]").fill(wrongCode);
  await form.locator("input[name=face_value]").fill("30万");
  await form.locator("button[type=submit]").click();
  await page.waitForSelector(".message.error");
  const again = page.locator("form#issue-voucher");
  assert.equal(await again.locator("input[name=enterprise_credit_code]").inputValue(), wrongCode);
  assert.equal(await again.locator("input[name=face_value]").inputValue(), "30万");
  assert.equal(
    await again.locator("input[name=enterprise_credit_code]").getAttribute("aria-invalid"),
    "true",
  );
  assert.doesNotMatch(await page.textContent(".message.error > p"), /INVALID_ARGUMENT/);
  await shoot(page, "12-refused-form");
}

/** A second voucher to an enterprise holding one: a confirmation first, nothing issued before. */
async function confirmationBeforeActing(page) {
  const form = page.locator("form#issue-voucher");
  await form.locator("input[name=enterprise_credit_code]").fill(ENTERPRISE);
  await form.locator("select[name=program]").selectOption("compute");
  await form.locator("input[name=face_value]").fill("10,000.00");
  await form.locator("button[type=submit]").click();
  await page.waitForSelector("form#confirm");
  assert.match(await page.content(), /V000000000001/, "the voucher it already holds is named");
  await shoot(page, "13-confirmation");
  await page.locator("form#confirm button[type=submit]").click();
  await page.waitForSelector(".message.done");
  assert.match(await page.textContent(".message.done"), /已发券 V000000000002/);
}

/** A statement made and paid over gRPC, its payment voucher printed: print media and an A4 PDF. */
async function printPaymentVoucher(page, server, bureau, dataDir) {
  ctl(server.grpc, bureau, "settlement", "create", "--provider", PROVIDER, "--program", "compute",
    "--up-to", TODAY, "--request-id", "e2e-statement");
  ctl(server.grpc, bureau, "settlement", "pay", "S000000000001", "--bank-reference", "E2E-0001",
    "--paid-on", TODAY);
  await page.goto(page.url().replace(/\/actions.*$/, "/settlements/S000000000001/print"));
  await page.emulateMedia({ media: "print" });
  const text = await page.textContent("body");
  assert.match(text, /付款凭证/);
  assert.match(text, /人民币壹拾万元整/, "the net in capitals");
  assert.match(text, /经办人/);
  await shoot(page, "14-payment-voucher-print");
  const pdf = join(dataDir, "payment-voucher.pdf");
  await page.pdf({ path: pdf, format: "A4" });
  assert.equal(readFileSync(pdf).subarray(0, 4).toString(), "%PDF");
  console.log(`printed: ${pdf} (${statSync(pdf).size} bytes)`);
  await page.emulateMedia({ media: "screen" });
  await page.goto(`${server.web}/redemptions`);
}

async function main() {
  mkdirSync(screenshots, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "voucher-e2e-"));
  const server = await startVoucherd(dataDir);
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  try {
    const bureau = readFileSync(join(dataDir, "bureau.token"), "utf8").trim();
    ctl(server.grpc, bureau, "register-enterprise", "--credit-code", ENTERPRISE, "--name", "启东智算科技有限公司");
    ctl(server.grpc, bureau, "register-provider", "--credit-code", PROVIDER, "--name", "启东云算力服务有限公司", "--program", "compute");
    const providerToken = ctl(server.grpc, bureau, "create-token", "--role", "provider", "--provider", PROVIDER)
      .match(/^token: (.+)$/m)[1];

    const context = await browser.newContext({
      viewport: { width: 1366, height: 768 },
      acceptDownloads: true,
      locale: "zh-CN",
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);

    // Sign in.
    await page.goto(`${server.web}/`);
    assert.match(page.url(), /\/login$/, "no session: the sign-in page");
    await shoot(page, "01-login");
    await page.fill("input[name=token]", bureau);
    await page.click("button[type=submit]");
    await page.waitForURL(`${server.web}/`);
    assert.equal(await page.textContent("h1"), "总览");

    // Issue a voucher through the form.
    await page.click('nav a[href="/actions"]');  // 操作
    const form = page.locator("form#issue-voucher");
    await form.locator("input[name=enterprise_credit_code]").fill(ENTERPRISE);
    await form.locator("select[name=program]").selectOption("compute");
    await form.locator("input[name=face_value]").fill("500,000.00");
    await form.locator("button[type=submit]").click();
    await page.waitForSelector(".message.done");
    const done = await page.textContent(".message.done");
    assert.match(done, /已发券 V000000000001/);
    await shoot(page, "02-actions-issued");

    // The bar before and after a redemption over gRPC.
    await page.click('nav a[href="/enterprises"]');  // 企业
    assert.equal(await redeemedPercent(page), 0);
    ctl(server.grpc, providerToken, "redeem", "--voucher", "V000000000001", "--enterprise", ENTERPRISE,
      "--invoice-number", "24322000000012345678", "--invoice-date", "2026-11-18", "--amount", "200,000.00");
    await page.reload();
    // 50% of 200,000.00 is 100,000.00: 5% of the 2,000,000.00 cap.
    assert.equal(await redeemedPercent(page), 5);
    await shoot(page, "03-enterprises");

    await page.click(`a[href="/enterprises/${ENTERPRISE}"]`);
    assert.match(await page.content(), /R000000000001/);
    await shoot(page, "04-enterprise");

    await page.click('nav a[href="/redemptions"]');  // 核销记录
    await page.fill("input[name=provider]", PROVIDER);
    await page.click("form.filters button[type=submit]");
    assert.match(await page.content(), /href="\/redemptions\/R000000000001"/);
    await shoot(page, "05-redemptions");

    await reviewWorkbench(page);
    await refusedFormKeepsItsInput(page);
    await confirmationBeforeActing(page);
    await printPaymentVoucher(page, server, bureau, dataDir);

    await page.click('nav a[href="/providers"]');  // 服务商
    assert.match(await page.content(), /启东云算力服务有限公司/);
    await shoot(page, "06-providers");

    // The overview, and the XLSX report from its button.
    await page.click('nav a[href="/"]');  // 总览
    assert.match(await page.content(), /100,000\.00/);
    await shoot(page, "00-overview");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("#compute a.button >> text=下载报表 XLSX"),
    ]);
    const file = join(dataDir, download.suggestedFilename());
    await download.saveAs(file);
    assert.equal(download.suggestedFilename(), "report-compute-2026.xlsx");
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 2).toString(), "PK", "an XLSX is a zip");
    assert.ok(statSync(file).size > 1000);
    console.log(`downloaded: ${download.suggestedFilename()} (${bytes.length} bytes)`);

    // English.
    await page.click("a.language");
    assert.equal(await page.textContent("h1"), "Overview");
    await shoot(page, "07-overview-english");

    await context.close();
    console.log("e2e: all steps passed");
  } finally {
    await browser.close();
    // Let voucherd finish its last checkpoint before its data directory goes (bounded: 10 s).
    const exited = new Promise((resolve) => server.child.once("exit", resolve));
    server.child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
