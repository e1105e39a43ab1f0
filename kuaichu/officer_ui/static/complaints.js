// The supervisors' claim-complaint queue: a party whose counterpart's insurer has not acted
// complained; the centre calls back within 24 hours and writes down the outcome.
import { $, Banner, apiErrorText, apiFetch, caseTime, fmt, loadStrings } from "./common.js";

const t = loadStrings();
const banner = new Banner();
const list = $("cpl-list");

function item(c) {
  const li = $("tpl-complaint").content.firstElementChild.cloneNode(true);
  li.dataset.complaint = String(c.id);
  li.dataset.overdue = String(c.overdue);
  const link = li.querySelector(".cpl-case");
  link.textContent = c.case_id;
  link.href = `/cases/${encodeURIComponent(c.case_id)}`;
  li.querySelector(".cpl-party").textContent = fmt(t.who_party, { key: c.party });
  li.querySelector(".cpl-insurer").textContent = c.insurer_name || c.insurer;
  li.querySelector(".cpl-filed").textContent = caseTime(c.filed_at);
  li.querySelector(".cpl-due").textContent =
    caseTime(c.due_at) + (c.overdue ? ` · ${t.cpl_overdue}` : "");
  li.querySelector(".cpl-text").textContent = c.text;
  const form = li.querySelector(".cpl-form");
  if (c.called_back_at) {
    form.hidden = true;
    const done = li.querySelector(".cpl-called");
    done.hidden = false;
    done.textContent = fmt(t.cpl_called_back, { time: caseTime(c.called_back_at) }) + ` ${c.outcome}`;
    return li;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const outcome = form.elements.outcome.value.trim();
    const error = form.querySelector(".rv-error");
    if (!outcome) {
      error.textContent = t.cpl_need_outcome;
      return;
    }
    try {
      await apiFetch("POST", `/api/complaints/${c.id}/callback`, { outcome });
    } catch (err) {
      error.textContent = apiErrorText(t, err);
      return;
    }
    const result = $("cpl-result");
    result.textContent = fmt(t.cpl_done_text, { case: c.case_id });
    result.dataset.kind = "ok";
    result.hidden = false;
    await load(true);
  });
  return li;
}

async function load(force = false) {
  let data;
  try {
    data = await apiFetch("GET", "/api/complaints");
  } catch (err) {
    banner.show(apiErrorText(t, err));
    return;
  }
  banner.hide();
  // Do not pull the form from under a supervisor who is typing (a callback just written
  // reloads the list anyway).
  if (!force && document.activeElement && list.contains(document.activeElement)) return;
  list.textContent = "";
  for (const c of data.complaints) list.append(item(c));
  $("cpl-empty").hidden = data.complaints.length > 0;
}

load();
setInterval(() => {
  if (!document.hidden) load();
}, 15000);
