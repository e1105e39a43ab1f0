// The case panel's fraud signals (打击骗保, issue 13): flags computed on the server
// (kuaichu.fraud) from the case and the cases around it. A flag is a reason to look closer.
import { $, apiFetch, el } from "../common.js";

function flagItem(t, flag) {
  const li = el("li", "fraud-flag");
  li.dataset.code = flag.code;
  li.append(el("strong", "", t["fraud_" + flag.code] || flag.code));
  const d = flag.detail || {};
  const what = [];
  if (d.identity) what.push(d.identity);
  if (d.identities) what.push(d.identities.join(" + "));
  if (d.km !== undefined) what.push(`${d.km} km`);
  if (d.minutes !== undefined) what.push(`${d.minutes} min`);
  if (d.read) what.push(`${t.fraud_read} ${d.read} · ${t.fraud_declared} ${(d.declared || []).join(", ")}`);
  if (what.length) li.append(" ", el("span", "fraud-what", what.join(" · ")));
  if (d.cases && d.cases.length) {
    const others = el("span", "fraud-others", `${t.fraud_other_cases} `);
    d.cases.forEach((id, i) => {
      const a = el("a", "", id);
      a.href = `/cases/${encodeURIComponent(id)}`;
      if (i) others.append(", ");
      others.append(a);
    });
    li.append(" ", others);
  }
  return li;
}

export async function loadFraud(t, caseId, isCurrent) {
  const section = $("cp-fraud");
  if (!section) return;
  let found;
  try {
    found = await apiFetch("GET", `/api/cases/${encodeURIComponent(caseId)}/fraud`);
  } catch {
    return; // the flags are advice: the panel works without them
  }
  if (!isCurrent()) return;
  const list = $("cp-fraud-list");
  list.replaceChildren(...found.flags.map((flag) => flagItem(t, flag)));
  section.hidden = found.flags.length === 0;
}
