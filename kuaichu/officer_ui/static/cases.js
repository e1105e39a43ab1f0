// The officer's recent cases (a supervisor may list every case), newest first: who and which
// vehicles (names, plates), what needs this officer's action (a revised review, an agreement to
// approve, a determination to issue, a review to decide), and a search (issue 12).
import { $, Banner, apiErrorText, apiFetch, caseTime, el, loadStrings } from "./common.js";

const t = loadStrings();
const banner = new Banner();
const body = $("cases-body");
const all = $("cases-all");
const query = $("cases-q");
const onlyAction = $("cases-action");
const COLUMNS = 7;
let cases = [];

function row(c) {
  const tr = el("tr");
  tr.dataset.case = c.id;
  if (c.action) tr.dataset.action = c.action;
  const id = el("td");
  const a = el("a", "", c.id);
  a.href = `/cases/${encodeURIComponent(c.id)}`;
  id.append(a);
  const status = el("td");
  const pill = el("span", "cp-status", t["cs_" + c.status] || c.status);
  pill.dataset.status = c.status;
  status.append(pill);
  const action = el("td", "cases-action");
  if (c.action) {
    action.append(el("b", "cases-flag", t.cases_needs_action));
    action.append(" ", el("span", "", t["todo_kind_" + c.action] || c.action));
  }
  const parties = c.parties || [];
  tr.append(id, status, action);
  tr.append(el("td", "cases-names", parties.map((p) => [p.key, p.name].filter(Boolean).join(" ")).join("、")));
  tr.append(el("td", "cases-plates", parties.map((p) => p.plate).filter(Boolean).join("、")));
  tr.append(el("td", "num", caseTime(c.created_at)));
  tr.append(el("td", "num",
    c.lat === null || c.lat === undefined ? t.gps_none
      : `${Number(c.lat).toFixed(5)}, ${Number(c.lng).toFixed(5)}`));
  return tr;
}

// A plate matches however it is typed: 黑a12345 finds 黑A·12345.
function squash(text) {
  return String(text || "").toUpperCase().replace(/[\s·.\-]/g, "");
}

function matches(c, q) {
  if (!q) return true;
  const hay = [c.id, ...(c.parties || []).flatMap((p) => [p.name, p.plate])].map(squash);
  return hay.some((h) => h.includes(q));
}

function render() {
  const q = squash(query.value.trim());
  const shown = cases.filter((c) => matches(c, q) && (!onlyAction.checked || c.action));
  body.textContent = "";
  if (!shown.length) {
    const tr = el("tr", "empty");
    const td = el("td", "", cases.length ? t.cases_none_match : t.cases_empty);
    td.colSpan = COLUMNS;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const c of shown) body.append(row(c));
}

async function load() {
  const scope = all && all.checked ? "all" : "mine";
  let data;
  try {
    data = await apiFetch("GET", `/api/case-list?scope=${scope}`);
  } catch (err) {
    banner.show(apiErrorText(t, err));
    return;
  }
  banner.hide();
  cases = data.cases || [];
  render();
}

if (all) {
  all.checked = new URLSearchParams(window.location.search).get("scope") === "all";
  all.addEventListener("change", () => {
    const url = new URL(window.location.href);
    if (all.checked) url.searchParams.set("scope", "all");
    else url.searchParams.delete("scope");
    window.history.replaceState(null, "", url);
    load();
  });
}
query.addEventListener("input", render);
onlyAction.addEventListener("change", render);
load();
setInterval(() => {
  if (!document.hidden) load();
}, 15000);
