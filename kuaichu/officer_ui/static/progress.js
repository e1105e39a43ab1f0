// The parties' progress page (/p/<token>): status, the steps so far, the leave-the-scene
// notice, the determination, the review request and the agreement. Read again every 10 s:
// the officer works on the case meanwhile.
import {
  $, Banner, apiErrorText, apiFetch, caseTime, deadlineTime, el, fmt, loadStrings, offsetOf,
} from "./common.js";
import { ClaimCard } from "./progress/claim.js";

const POLL_MS = 10000;
const t = loadStrings();
const banner = new Banner();
const app = $("progress-app");
const base = `/p/${app.dataset.token}`;
const TERMINAL = ["closed", "abandoned", "cancelled"];
let view = null;
let shownVersion = null;
let sending = false;
const claims = new ClaimCard(t, base);

function render(v) {
  view = v;
  const offset = offsetOf((v.timeline[0] && v.timeline[0].when) || "");
  app.dataset.status = v.status;
  app.setAttribute("aria-busy", "false");
  $("pg-loading").hidden = true;
  $("pg-summary").hidden = false;
  $("pg-case").textContent = v.case_id;
  const status = $("pg-status");
  status.textContent = t["cs_" + v.status] || v.status;
  status.dataset.status = v.status;
  $("pg-you").textContent = fmt(t.pg_you, { party: v.party });

  const det = v.determination;
  const cleared = v.scene_cleared && !det && !TERMINAL.includes(v.status);
  $("pg-leave").hidden = !cleared;
  $("pg-waiting").hidden = !cleared || Boolean(v.agreement);

  $("pg-doc").hidden = !det;
  if (det) {
    $("pg-doc-number").textContent = fmt(t.pg_doc_number, { number: det.number });
    $("pg-doc-issued").textContent = fmt(t.pg_doc_issued, { time: caseTime(det.issued_at, offset) });
    // The party's own outcome in words, and whether this document replaced an earlier one
    // (after a review or a correction): the document itself is several pages away.
    const outcome = det.liability ? t["pg_outcome_" + det.liability] : "";
    $("pg-outcome").hidden = !outcome;
    $("pg-outcome").textContent = outcome || "";
    $("pg-doc-version").hidden = !det.replaces;
    $("pg-doc-version").textContent = det.replaces
      ? fmt(t.pg_doc_new_version, { version: det.version, previous: det.replaces }) : "";
    if (shownVersion !== det.version) {
      // A corrected version replaces the one on screen.
      shownVersion = det.version;
      if ($("pg-doc-embed").open) $("pg-doc-frame").src = `${base}/document?v=${det.version}`;
    }
  }
  renderReview(v);
  renderAgreement(v);
  renderTimeline(v);
  $("pg-updated").textContent = fmt(t.pg_updated, { time: new Date().toLocaleTimeString() });
}

function renderReview(v) {
  const r = v.review || {};
  let state = "";
  if (r.outcome) state = `${t["review_" + r.outcome] || r.outcome} ${r.text || ""}`;
  else if (r.requested) state = t.pg_review_sent;
  else if (!r.open && v.determination && r.deadline) {
    state = fmt(t.pg_review_closed, { deadline: deadlineTime(r.deadline) });
  }
  const open = Boolean(r.open && !r.requested && !r.outcome);
  $("pg-review-open").hidden = !open;
  if (open) $("pg-review-hint").textContent = fmt(t.pg_review_hint, { deadline: deadlineTime(r.deadline) });
  $("pg-review-state").hidden = !state;
  $("pg-review-state").textContent = state;
  $("pg-review").hidden = !open && !state;
}

function renderAgreement(v) {
  const a = v.agreement;
  $("pg-agreement").hidden = !a;
  if (!a) return;
  const list = $("pg-agree-list");
  list.textContent = "";
  for (const [party, liability] of Object.entries(a.liabilities)) {
    const li = el("li");
    const done = a.confirmed.includes(party);
    li.dataset.confirmed = String(done);
    li.append(el("b", "", fmt(t.who_party, { key: party }) + (party === v.party ? t.pg_party_you : "")));
    li.append(el("span", "pg-liab", t["liab_" + liability] || liability));
    li.append(el("span", done ? "pg-ok" : "pg-wait",
      done ? t.pg_agreement_confirmed : t.pg_agreement_pending));
    list.append(li);
  }
  $("pg-agree-doc").hidden = !a.approved; // the approved agreement's document (协议书)
  $("pg-agree-state").hidden = !a.approved;
  $("pg-agree-state").textContent = a.approved ? t.pg_agreement_approved : "";
  const pending = ["agreement_pending", "agreement_confirmed"].includes(v.status);
  $("pg-agree-confirm").hidden = !(v.status === "agreement_pending" && !a.mine_confirmed);
  $("pg-agree-withdraw").hidden = !pending;
}

function renderTimeline(v) {
  const list = $("pg-timeline");
  list.textContent = "";
  for (const step of v.timeline) {
    const li = el("li");
    li.dataset.what = step.what;
    li.append(el("span", "pg-when", caseTime(step.when)));
    li.append(el("b", "", t["ev_" + step.what] || step.what));
    list.append(li);
  }
  $("pg-timeline-box").hidden = !v.timeline.length;
}

async function load() {
  try {
    render(await apiFetch("GET", `${base}/status`));
    banner.hide();
    await claims.load();
  } catch (err) {
    banner.show(apiErrorText(t, err));
  }
}

// ---------------------------------------------------------------- review request

// The document inside the page, loaded only when asked for (phones on mobile data).
$("pg-doc-embed").addEventListener("toggle", () => {
  const frame = $("pg-doc-frame");
  if ($("pg-doc-embed").open && shownVersion !== null && !frame.src) {
    frame.src = `${base}/document?v=${shownVersion}`;
  }
});

const reason = $("pg-review-reason");
reason.addEventListener("input", () => {
  $("pg-review-counter").textContent = `${reason.value.length}/${reason.maxLength}`;
  $("pg-review-error").textContent = "";
});

$("pg-review-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = reason.value.trim();
  if (!text) {
    $("pg-review-error").textContent = t.pg_review_empty;
    reason.focus();
    return;
  }
  if (sending) return;
  sending = true;
  $("pg-review-submit").disabled = true;
  try {
    await apiFetch("POST", `${base}/review`, { reason: text });
    reason.value = "";
  } catch (err) {
    $("pg-review-error").textContent = apiErrorText(t, err);
  } finally {
    sending = false;
    $("pg-review-submit").disabled = false;
    await load();
  }
});

// ---------------------------------------------------------------- agreement

async function agreement(action) {
  if (sending) return;
  sending = true;
  $("pg-agree-error").textContent = "";
  // The tap shows at once that it is being sent (issue 12): on a slow roadside network a
  // button that does nothing gets tapped again, or the page gets closed.
  const button = $(action === "confirm" ? "pg-agree-confirm" : "pg-agree-withdraw");
  const label = button.textContent;
  const buttons = [$("pg-agree-confirm"), $("pg-agree-withdraw")];
  for (const b of buttons) b.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = t.pg_sending;
  try {
    await apiFetch("POST", `${base}/agreement`, { action });
  } catch (err) {
    $("pg-agree-error").textContent = apiErrorText(t, err);
  } finally {
    sending = false;
    for (const b of buttons) b.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
    await load();
  }
}

$("pg-agree-confirm").addEventListener("click", () => agreement("confirm"));
$("pg-agree-withdraw").addEventListener("click", () => agreement("withdraw"));

load();
setInterval(() => {
  if (!document.hidden) load();
}, POLL_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && view) load();
});
