// The photo reports waiting for an officer (拍照快处, issue 13): a list with each report's age
// and why video was not possible; "take" makes the case the officer's and opens its case page
// in the lists' window (leaving the console would leave a call); a report the officer took
// offers "video callback" (an SMS link that opens the driver's page into a call of the case).
// Polled: the queue changes slowly and a missed second costs nothing.
import { $, apiErrorText, apiFetch, el, fmt, humanDuration } from "../common.js";
import { banner, t } from "./page.js";

const POLL_MS = 5000;
const list = $("pq-list");

function item(report) {
  const li = el("li", "pq-item");
  li.dataset.case = report.case_id;
  li.dataset.status = report.status;
  li.append(el("span", "pq-case", report.case_id));
  const why = t["photo_why_" + report.reason] || report.reason;
  const meta = [
    fmt(t.pq_age, { time: humanDuration(t, report.age_s) }),
    fmt(t.pq_photos, { n: report.photos }),
  ];
  li.append(el("span", "pq-meta", `${meta.join(" · ")} · ${why}`));
  const waiting = report.status === "waiting";
  const btn = el("button", "btn btn-go", waiting ? t.pq_take : t.pq_open);
  btn.type = "button";
  btn.dataset.action = waiting ? "take" : "open";
  li.append(btn);
  if (!waiting) {
    // The driver's phone gets an SMS link straight into a video call of this case; the call
    // comes to this console like any other (be available).
    const call = el("button", "btn btn-secondary", t.pq_callback);
    call.type = "button";
    call.dataset.action = "callback";
    li.append(call);
  }
  return li;
}

async function refresh() {
  let data;
  try {
    data = await apiFetch("GET", "/api/photo-reports");
  } catch (_) {
    return; // the next poll tries again; the socket's banner says when the server is gone
  }
  const reports = data.reports || [];
  list.replaceChildren(...reports.map(item));
  $("pq-empty").hidden = reports.length > 0;
  $("pq-count").textContent = String(reports.filter((r) => r.status === "waiting").length);
}

function openCase(caseId) {
  window.open(`/cases/${encodeURIComponent(caseId)}`, "kc-cases");
}

list.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button[data-action]");
  if (!btn) return;
  const caseId = btn.closest(".pq-item").dataset.case;
  if (btn.dataset.action === "open") {
    openCase(caseId);
    return;
  }
  if (btn.dataset.action === "callback") {
    btn.disabled = true;
    try {
      const sent = await apiFetch(
        "POST", `/api/cases/${encodeURIComponent(caseId)}/photo-report/callback`, {},
      );
      banner.show(fmt(t.pq_callback_sent, { phone: sent.phone }), "info", 8000);
    } catch (err) {
      banner.show(apiErrorText(t, err));
    } finally {
      btn.disabled = false;
    }
    return;
  }
  btn.disabled = true;
  try {
    await apiFetch("POST", `/api/cases/${encodeURIComponent(caseId)}/photo-report/take`, {});
    openCase(caseId);
  } catch (err) {
    banner.show(apiErrorText(t, err));
  } finally {
    refresh();
  }
});

refresh();
setInterval(refresh, POLL_MS);
