// The supervisor's review queue: each open request (复核) with its reason and deadline, and
// the written decision: uphold the determination, or revise it (the officer then issues a
// new version on the case page).
import { $, Banner, apiErrorText, apiFetch, caseTime, fmt, loadStrings } from "./common.js";

const t = loadStrings();
const banner = new Banner();
const list = $("rv-list");
const typed = {}; // case -> {outcome, text} the supervisor has started, kept across reloads

function item(r) {
  const li = $("tpl-review").content.firstElementChild.cloneNode(true);
  li.dataset.case = r.case_id;
  const link = li.querySelector(".rv-case");
  link.textContent = r.case_id;
  link.href = `/cases/${encodeURIComponent(r.case_id)}`;
  li.querySelector(".rv-party").textContent = fmt(t.who_party, { key: r.party || "?" });
  li.querySelector(".rv-requested").textContent = caseTime(r.requested_at);
  li.querySelector(".rv-decide-by").textContent = caseTime(r.decide_by);
  li.querySelector(".rv-reason").textContent = r.reason || "";
  const form = li.querySelector(".rv-form");
  for (const radio of form.querySelectorAll("input[type=radio]")) radio.name = `outcome-${r.case_id}`;
  const kept = typed[r.case_id];
  if (kept) {
    form.elements.text.value = kept.text || "";
    const radio = form.querySelector(`input[value="${kept.outcome}"]`);
    if (radio) radio.checked = true;
  }
  form.addEventListener("input", () => {
    form.querySelector(".rv-error").textContent = "";
    const checked = form.querySelector("input[type=radio]:checked");
    typed[r.case_id] = { outcome: checked ? checked.value : "", text: form.elements.text.value };
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    decide(r.case_id, form);
  });
  return li;
}

function confirmDecision(caseId, outcome, text) {
  const dialog = $("rv-confirm");
  $("rv-confirm-title").textContent = fmt(t.rv_confirm_title, { case: caseId });
  $("rv-confirm-text").textContent = fmt(
    outcome === "upheld" ? t.rv_confirm_upheld : t.rv_confirm_revised, { text },
  );
  return new Promise((resolve) => {
    const done = (yes) => {
      $("rv-confirm-yes").onclick = null;
      $("rv-confirm-no").onclick = null;
      dialog.oncancel = null;
      dialog.close();
      resolve(yes);
    };
    $("rv-confirm-yes").onclick = () => done(true);
    $("rv-confirm-no").onclick = () => done(false);
    dialog.oncancel = (ev) => {
      ev.preventDefault();
      done(false);
    };
    dialog.showModal();
    $("rv-confirm-yes").focus();
  });
}

async function decide(caseId, form) {
  const checked = form.querySelector("input[type=radio]:checked");
  const text = form.elements.text.value.trim();
  const error = form.querySelector(".rv-error");
  if (!checked || !text) {
    error.textContent = t.rv_need_outcome;
    return;
  }
  // A decision closes the case or withdraws a legal document: said in full, then confirmed.
  if (!(await confirmDecision(caseId, checked.value, text))) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await apiFetch("POST", `/api/cases/${encodeURIComponent(caseId)}/review-decision`, {
      outcome: checked.value,
      text,
    });
  } catch (err) {
    error.textContent = apiErrorText(t, err);
    button.disabled = false;
    return;
  }
  delete typed[caseId];
  const result = $("rv-result");
  result.textContent = fmt(checked.value === "upheld" ? t.rv_done_upheld : t.rv_done_revised, {
    case: caseId,
  });
  result.dataset.kind = "ok";
  result.hidden = false;
  await load();
}

async function load() {
  let data;
  try {
    data = await apiFetch("GET", "/api/reviews");
  } catch (err) {
    banner.show(apiErrorText(t, err));
    return;
  }
  banner.hide();
  // Do not pull the form from under a supervisor who is typing.
  if (document.activeElement && list.contains(document.activeElement)) return;
  list.textContent = "";
  for (const r of data.reviews) list.append(item(r));
  $("rv-empty").hidden = data.reviews.length > 0;
}

load();
setInterval(() => {
  if (!document.hidden) load();
}, 15000);
