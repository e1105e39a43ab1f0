// The driver's position as the officer sees it: on the incoming-call card and, with a map
// link, beside the call.
import { $ } from "../common.js";
import { mapButton } from "../mapsketch.js";
import { t } from "./page.js";

export function formatLatLng(loc) {
  return `${Number(loc.lat).toFixed(5)}, ${Number(loc.lng).toFixed(5)}`
    + (loc.accuracy ? ` (±${Math.round(loc.accuracy)} m)` : "");
}

export function renderLocation(loc) {
  const dd = $("call-gps");
  dd.textContent = "";
  if (!loc) {
    dd.textContent = t.gps_none;
    return;
  }
  const text = document.createElement("div");
  text.textContent = formatLatLng(loc);
  // issue 12: a sketch (or the centre's tiles), never an internet map a closed network lacks.
  const map = mapButton(t, loc);
  map.id = "btn-map";
  map.setAttribute("aria-keyshortcuts", "Alt+M");
  dd.append(text, map);
}
