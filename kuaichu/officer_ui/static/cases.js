// The officer's recent cases (a supervisor may list every case), newest first.
import { $, Banner, apiErrorText, apiFetch, caseTime, el, loadStrings } from "./common.js";

const t = loadStrings();
const banner = new Banner();
const body = $("cases-body");
const all = $("cases-all");

function row(c) {
  const tr = el("tr");
  tr.dataset.case = c.id;
  const id = el("td");
  const a = el("a", "", c.id);
  a.href = `/cases/${encodeURIComponent(c.id)}`;
  id.append(a);
  const status = el("td");
  const pill = el("span", "cp-status", t["cs_" + c.status] || c.status);
  pill.dataset.status = c.status;
  status.append(pill);
  tr.append(id, status, el("td", "num", caseTime(c.created_at)));
  tr.append(el("td", "num",
    c.lat === null || c.lat === undefined ? t.gps_none
      : `${Number(c.lat).toFixed(5)}, ${Number(c.lng).toFixed(5)}`));
  return tr;
}

async function load() {
  const scope = all && all.checked ? "all" : "mine";
  let data;
  try {
    data = await apiFetch("GET", `/api/cases?scope=${scope}`);
  } catch (err) {
    banner.show(apiErrorText(t, err));
    return;
  }
  banner.hide();
  body.textContent = "";
  if (!data.cases.length) {
    const tr = el("tr", "empty");
    const td = el("td", "", t.cases_empty);
    td.colSpan = 4;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const c of data.cases) body.append(row(c));
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
load();
setInterval(() => {
  if (!document.hidden) load();
}, 15000);
