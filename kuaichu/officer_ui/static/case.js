// The case page: the case panel on its own, for work after the call (and for supervisors).
import { CasePanel } from "./casepanel/panel.js";
import { $, loadStrings } from "./common.js";
import { ClaimsBox } from "./insurer/handoff.js";

const t = loadStrings();
const panel = new CasePanel(t);
window.kcCase = panel; // for the browser tests and for debugging; nothing reads it back
panel.open($("case-app").dataset.case);
new ClaimsBox(t, $("case-app").dataset.case).load(); // the claim's hand-off (issue 13)
