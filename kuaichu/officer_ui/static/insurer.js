// The insurer's console (/insurer): its work queue and every case of its policyholders once
// liability is set; one case at a time with its parties, documents, evidence and the claim.
// Every case opened is a read in the case's audit trail (the server records it).
import { $, Banner, apiErrorText, apiFetch, el, fmt, loadStrings } from "./common.js";
import { CaseView } from "./insurer/case.js";

const POLL_MS = 15000;
const t = loadStrings();
const banner = new Banner();
const view = new CaseView(t, banner, () => loadList());
let current = null;

function claimText(claim) {
  if (!claim) return t.ins_no_claim;
  const status = t["claim_" + claim.status] || claim.status;
  return claim.amount ? `${status} ${fmt(t.ins_yuan, { amount: claim.amount })}` : status;
}

function row(c) {
  const tr = document.createElement("tr");
  tr.dataset.case = c.case_id;
  tr.dataset.claim = c.claim ? c.claim.status : "";
  if (c.case_id === current) tr.className = "selected";
  const link = el("a", "ins-open", c.case_id);
  link.href = `#${c.case_id}`;
  link.addEventListener("click", (ev) => {
    ev.preventDefault();
    open(c.case_id);
  });
  const first = el("td");
  first.append(link);
  tr.append(
    first,
    el("td", "", t["cs_" + c.status] || c.status),
    el("td", "ins-claim-cell", claimText(c.claim)),
    el("td", "", c.policyholders.map((k) => fmt(t.who_party, { key: k })).join(" ")),
  );
  return tr;
}

async function loadList() {
  let data;
  try {
    data = await apiFetch("GET", "/api/insurer/cases");
  } catch (err) {
    banner.show(apiErrorText(t, err));
    return;
  }
  banner.hide();
  const body = $("ins-cases");
  body.textContent = "";
  // The work queue (claims handed off and not settled) first, then the other cases.
  const queued = new Set(data.queue.map((c) => c.case_id));
  const ordered = [
    ...data.cases.filter((c) => queued.has(c.case_id)),
    ...data.cases.filter((c) => !queued.has(c.case_id)),
  ];
  for (const c of ordered) body.append(row(c));
  $("ins-queue-empty").hidden = ordered.length > 0;
}

async function open(caseId) {
  current = caseId;
  for (const tr of $("ins-cases").querySelectorAll("tr")) {
    tr.className = tr.dataset.case === caseId ? "selected" : "";
  }
  await view.show(caseId);
}

loadList().then(() => {
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted) open(wanted);
});
setInterval(() => {
  if (!document.hidden) loadList();
}, POLL_MS);
