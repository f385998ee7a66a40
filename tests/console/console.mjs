// The managers' console in a real browser (docs/console.md): Playwright (playwright-core from
// npm, no browser download) drives Debian's Chromium against a real relay process that
// tests/tests/console_e2e.rs filled with phones' data. Everything it needs comes in through the
// environment; it prints one JSON line of figures and exits non-zero on the first failure.
//
//   FS_URL            the relay, e.g. http://127.0.0.1:PORT
//   FS_BOSS           a supervisor's user id, FS_BOSS_CODE their one-time console code
//   FS_BOSS_TOKEN     that supervisor's device token (for GET /v1/funnel, the API's numbers)
//   FS_REP, FS_REP_CODE         a rep and a valid code of theirs (must be refused)
//   FS_OTHER, FS_OTHER_CODE     a supervisor of another team
//   FS_DEAL           the id of a deal whose customer is named <script>alert(1)</script>
//   FS_VISIT, FS_DAY  a visit with a photo and a signed slip, and its day (team time)
//   FS_ADMIN, FS_ADMIN_CODE     an admin of the team (revokes FS_REP_DEVICE)
//   FS_REP_DEVICE     the rep's phone (32 hex digits)
//   FS_XLSX           a customer list (two new customers) for 导入
//   FS_SHOTS          where the screenshots go (each page at 360 px and 1280 px)
//   FS_CHROMIUM       the browser (default /usr/bin/chromium)

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("FS_URL");
const shots = env("FS_SHOTS");
mkdirSync(shots, { recursive: true });

const problems = [];
const check = (ok, what) => {
  if (!ok) {
    problems.push(what);
    throw new Error(what);
  }
};

const browser = await chromium.launch({
  executablePath: process.env.FS_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in CI: Chromium's sandbox needs user namespaces a container may not give.
  args: ["--no-sandbox"],
});
const figures = { pages: {} };

/** A page that records what it transferred, dialogs (an injected script) and console errors (a CSP violation). */
async function watched(context) {
  const page = await context.newPage();
  page.on("dialog", async (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`);
    await dialog.dismiss();
  });
  page.on("console", (message) => {
    // The refusals this test asks for (403, 404) are logged as failed loads: expected. Anything
    // else — a CSP violation above all — is a problem.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource: the server responded with a status of 40")) {
      problems.push(`console error on ${page.url()}: ${message.text()}`);
    }
  });
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() === 404 && !response.url().includes("/console/deals/")) problems.push(`404: ${response.url()}`);
  });
  return page;
}

/** Opens `path`, waits for it, records its bytes (from the page's own resource timing) and its
 * first contentful paint, and screenshots it. */
async function visit(page, path, name, width) {
  const started = Date.now();
  const response = await page.goto(base + path, { waitUntil: "load" });
  const loadMs = Date.now() - started;
  await page
    .waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, { timeout: 3000 })
    .catch(() => {});
  const timing = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    return {
      transferred: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
      body_bytes: entries.reduce((sum, e) => sum + (e.encodedBodySize || 0), 0),
      first_paint_ms: paint ? Math.round(paint.startTime) : null,
    };
  });
  await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
  figures.pages[`${name}-${width}`] = { status: response.status(), load_ms: loadMs, ...timing };
  check(timing.body_bytes <= 200 * 1024, `${path}: ${timing.body_bytes} bytes (the budget is 200 KB)`);
  return response;
}

async function signIn(page, user, code) {
  await page.goto(base + "/console");
  check(page.url().endsWith("/console/sign-in"), `not sent to the sign-in page: ${page.url()}`);
  await page.getByLabel("账号 (用户 ID) · User id").fill(user);
  await page.getByLabel("密码或一次性登录码 · Password or one-time code").fill(code);
  await page.getByRole("button", { name: "登录 Sign in" }).click();
  await page.waitForLoadState("load");
}

try {
  // --- a supervisor at a desktop's width
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await watched(desk);
  await page.goto(base + "/console/sign-in");
  await page.screenshot({ path: join(shots, "sign-in-1280.png"), fullPage: true });
  await signIn(page, env("FS_BOSS"), env("FS_BOSS_CODE"));
  check(page.url().endsWith("/console/funnel"), `sign-in did not land on the funnel: ${page.url()}`);

  // The funnel's numbers are the API's.
  const api = await (await fetch(base + "/v1/funnel", { headers: { authorization: `Bearer ${env("FS_BOSS_TOKEN")}` } })).json();
  await visit(page, "/console/funnel", "funnel", 1280);
  let total = 0;
  for (const stage of api.stages) {
    const row = page.locator(`#funnel-table tr[data-stage="${stage.stage}"]`);
    const deals = Number(await row.locator("td.deals").innerText());
    const fen = Number(await row.locator("td.amount").getAttribute("data-fen"));
    check(deals === stage.deals, `${stage.stage}: the page shows ${deals} deals, the API ${stage.deals}`);
    check(fen === stage.amount_fen, `${stage.stage}: the page shows ${fen} fen, the API ${stage.amount_fen}`);
    total += stage.deals;
  }
  check(Number(await page.locator("#total-deals").innerText()) === total, "the total is the stages' sum");
  check((await page.locator("figure.chart svg rect").count()) === api.stages.length, "one bar per stage");

  // Drill down: stage → its deals → the deal, from the keyboard-reachable links.
  await page.locator('#funnel-table tr[data-stage="ProposalSubmitted"] a').click();
  await page.waitForLoadState("load");
  check(page.url().includes("/console/funnel/ProposalSubmitted"), `stage page: ${page.url()}`);
  await page.screenshot({ path: join(shots, "stage-1280.png"), fullPage: true });
  await page.locator(`#deals a[href="/console/deals/${env("FS_DEAL")}"]`).click();
  await page.waitForLoadState("load");
  const customer = await page.locator("#deal-customer").innerText();
  check(customer === "<script>alert(1)</script>", `the hostile customer name renders as text: ${customer}`);
  check((await page.locator("#activities li").count()) >= 1, "the deal's follow-up is listed");
  await visit(page, `/console/deals/${env("FS_DEAL")}`, "deal", 1280);
  await visit(page, "/console/stalls", "stalls", 1280);

  // 拜访: the day's visits, then one visit's evidence with its images loaded.
  await visit(page, `/console/visits?day=${env("FS_DAY")}`, "visits", 1280);
  await page.locator(`#visits a[href="/console/visits/${env("FS_VISIT")}"]`).click();
  await page.waitForLoadState("load");
  check((await page.locator("#verdict").innerText()).trim().length > 0, "the visit's verdict is shown");
  check((await page.locator(".slip-verdict").innerText()).includes("验证通过"), "the signed slip verifies");
  const loaded = await page.evaluate(() => [...document.images].map((img) => img.complete && img.naturalWidth > 0));
  check(loaded.length >= 2 && loaded.every(Boolean), `the photo and the signature load: ${JSON.stringify(loaded)}`);
  check((await page.locator("figure.plan svg circle").count()) >= 4, "the plan shows the site and the fixes");
  await visit(page, `/console/visits/${env("FS_VISIT")}`, "visit", 1280);
  await visit(page, "/console/scoreboard", "scoreboard", 1280);
  check((await page.locator("#scoreboard tbody tr").count()) >= 1, "the scoreboard lists the rep");

  // 查重: both records side by side; merge them.
  await visit(page, "/console/review", "review", 1280);
  check((await page.locator("section.pair").count()) === 1, "one pair waits for review");
  await page.locator("section.pair").getByRole("button", { name: "合并 Merge" }).click();
  await page.waitForLoadState("load");
  check(page.url().endsWith("/console/review"), `after the merge: ${page.url()}`);
  check((await page.locator("section.pair").count()) === 0, "the merged pair left the queue");
  await visit(page, "/console/people", "people", 1280);

  // --- the same session on a phone's width
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await desk.storageState() });
  const small = await watched(phone);
  for (const [path, name] of [["/console/funnel", "funnel"], ["/console/funnel/ProposalSubmitted", "stage"], [`/console/deals/${env("FS_DEAL")}`, "deal"], ["/console/stalls", "stalls"], [`/console/visits?day=${env("FS_DAY")}`, "visits"], [`/console/visits/${env("FS_VISIT")}`, "visit"], ["/console/scoreboard", "scoreboard"], ["/console/review", "review"], ["/console/people", "people"]]) {
    const response = await visit(small, path, name, 360);
    check(response.status() === 200, `${path} at 360 px: ${response.status()}`);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${path} at 360 px scrolls sideways by ${overflow} px`);
  }
  await phone.close();

  // Sign out: the session ends.
  await page.getByRole("button", { name: "退出 Sign out" }).click();
  await page.waitForLoadState("load");
  check(page.url().endsWith("/console/sign-in"), `sign-out: ${page.url()}`);
  await page.goto(base + "/console/funnel");
  check(page.url().endsWith("/console/sign-in"), "after sign-out the funnel needs a sign-in");
  await desk.close();

  // --- an admin revokes the rep's phone from 人员
  const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await watched(adminContext);
  await signIn(admin, env("FS_ADMIN"), env("FS_ADMIN_CODE"));
  // 规则: an invalid value is shown in place and nothing is saved.
  await visit(admin, "/console/rules", "rules", 1280);
  await admin.getByLabel("现场半径（米）· On-site radius (m)").fill("三百");
  await admin.getByRole("button", { name: "保存 · Save" }).click();
  await admin.waitForLoadState("load");
  check(await admin.locator("#geofence_radius_m-error").isVisible(), "the radius's error is beside it");
  check(await admin.locator("#rules-problem").isVisible(), "the page says nothing was saved");
  await admin.screenshot({ path: join(shots, "rules-error-1280.png"), fullPage: true });
  const rulesPhone = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await adminContext.storageState() });
  const rulesSmall = await watched(rulesPhone);
  await visit(rulesSmall, "/console/rules", "rules", 360);
  const sideways = await rulesSmall.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(sideways <= 1, `the rules page at 360 px scrolls sideways by ${sideways} px`);
  await rulesPhone.close();
  // 导入: an XLSX list, and its report.
  await visit(admin, "/console/import", "import", 1280);
  await admin.locator("#file").setInputFiles(env("FS_XLSX"));
  await admin.getByRole("button", { name: "导入 · Import" }).click();
  await admin.waitForLoadState("load");
  check((await admin.locator("#created").innerText()) === "2", `two customers created: ${await admin.locator("#import-report").innerText()}`);
  check((await admin.locator("#skipped").innerText()) === "0", "no row skipped");
  await admin.screenshot({ path: join(shots, "import-report-1280.png"), fullPage: true });
  const importPhone = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await adminContext.storageState() });
  await visit(await watched(importPhone), "/console/import", "import", 360);
  await importPhone.close();
  await admin.goto(base + "/console/people");
  const row = admin.locator(`#devices tr[data-device="${env("FS_REP_DEVICE")}"]`);
  await row.getByRole("button", { name: "停用 Revoke" }).click();
  await admin.waitForLoadState("load");
  check((await row.innerText()).includes("已停用"), "the device shows as revoked");
  await adminContext.close();

  // --- a rep with a valid code is refused
  const repContext = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const rep = await watched(repContext);
  await signIn(rep, env("FS_REP"), env("FS_REP_CODE"));
  check(rep.url().endsWith("/console/sign-in"), `a rep got in: ${rep.url()}`);
  check((await rep.locator(".problem").innerText()).includes("主管和管理员"), "the rep is told why");
  await rep.screenshot({ path: join(shots, "sign-in-refused-360.png"), fullPage: true });
  await repContext.close();

  // --- another team's supervisor gets 404 on this team's deal by URL
  const otherContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const other = await watched(otherContext);
  await signIn(other, env("FS_OTHER"), env("FS_OTHER_CODE"));
  check(other.url().endsWith("/console/funnel"), `the other supervisor signed in: ${other.url()}`);
  const theirs = await other.goto(`${base}/console/deals/${env("FS_DEAL")}`);
  check(theirs.status() === 404, `another team's deal answered ${theirs.status()}`);
  check(!(await other.content()).includes("alert(1)"), "nothing of the deal shows");
  await otherContext.close();

  check(problems.length === 0, problems.join("; "));
  console.log(JSON.stringify({ bench: "console-browser", ok: true, ...figures }));
} catch (e) {
  console.error(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e), problems }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
