// The driver's GPS point without the internet (issue 12): a tile-free SVG sketch (the point and
// its accuracy, the service area's borders nearby, a scale bar, north up), or the tiles of the
// centre's own tile server when --map-tiles names one (kuaichu/officer_ui/mapconfig.py). The
// former 在地图上查看 opened an internet map, unreachable on the closed networks kuaichu targets.
import { el } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const HALF_W = 700; // metres either side of the point
const HALF_H = 450;
const M_PER_DEG_LAT = 110574;
const TILE = 256;
const ZOOM = 17;

function config() {
  const blob = document.getElementById("map-config");
  try {
    return blob ? JSON.parse(blob.textContent) : {};
  } catch (_) {
    return {};
  }
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// Metres east and south of the point (an equirectangular projection is exact enough at 1 km).
function projector(lat0, lng0) {
  const mPerDegLng = 111320 * Math.cos((lat0 * Math.PI) / 180);
  return ([lng, lat]) => [(lng - lng0) * mPerDegLng, -(lat - lat0) * M_PER_DEG_LAT];
}

export function sketch(t, loc, area = []) {
  const lat = Number(loc.lat);
  const lng = Number(loc.lng);
  const project = projector(lat, lng);
  const root = svg("svg", {
    viewBox: `${-HALF_W} ${-HALF_H} ${2 * HALF_W} ${2 * HALF_H}`,
    role: "img",
    class: "map-sketch",
    "aria-label": `${t.map_point} ${lat.toFixed(5)}, ${lng.toFixed(5)}`,
  });
  root.append(svg("rect", {
    x: -HALF_W, y: -HALF_H, width: 2 * HALF_W, height: 2 * HALF_H, fill: "#f4f6f8",
  }));
  // A 100 m grid, so distances can be read anywhere on the sketch.
  for (let x = -700; x <= 700; x += 100) {
    root.append(svg("line", { x1: x, y1: -HALF_H, x2: x, y2: HALF_H, stroke: "#dde3ea", "stroke-width": 2 }));
  }
  for (let y = -400; y <= 400; y += 100) {
    root.append(svg("line", { x1: -HALF_W, y1: y, x2: HALF_W, y2: y, stroke: "#dde3ea", "stroke-width": 2 }));
  }
  for (const part of area) {
    const points = part.ring.map(project).map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    const poly = svg("polygon", {
      points,
      fill: part.include ? "rgba(10,125,50,0.08)" : "rgba(196,29,29,0.10)",
      stroke: part.include ? "#0a7d32" : "#c41d1d",
      "stroke-width": 6,
      "stroke-dasharray": part.include ? "" : "20 12",
      class: part.include ? "map-area" : "map-area map-area-out",
    });
    poly.append(svg("title"));
    poly.firstChild.textContent = `${t.map_area}: ${part.name}`;
    root.append(poly);
  }
  if (loc.accuracy) {
    root.append(svg("circle", {
      cx: 0, cy: 0, r: Math.min(Number(loc.accuracy), 600), fill: "rgba(11,91,211,0.15)",
      stroke: "#0b5bd3", "stroke-width": 3,
    }));
  }
  root.append(svg("circle", { cx: 0, cy: 0, r: 14, fill: "#c41d1d", stroke: "#fff", "stroke-width": 5, class: "map-point" }));
  const label = svg("text", { x: 24, y: -20, "font-size": 34, fill: "#111418", "font-weight": 700 });
  label.textContent = `${lat.toFixed(5)}, ${lng.toFixed(5)}`;
  root.append(label);
  // North arrow and a 200 m scale bar.
  const north = svg("text", { x: HALF_W - 110, y: -HALF_H + 60, "font-size": 40, "font-weight": 800, fill: "#0b2e6b" });
  north.textContent = "N ↑";
  root.append(north);
  const sx = -HALF_W + 40;
  const sy = HALF_H - 40;
  root.append(svg("line", { x1: sx, y1: sy, x2: sx + 200, y2: sy, stroke: "#111418", "stroke-width": 8, class: "map-scale" }));
  const scale = svg("text", { x: sx, y: sy - 16, "font-size": 30, fill: "#111418" });
  scale.textContent = `${t.map_scale} 200 m`;
  root.append(scale);
  return root;
}

// The tiles around the point from the centre's tile server, with the point marked.
export function tiles(t, loc, template) {
  const lat = (Number(loc.lat) * Math.PI) / 180;
  const n = 2 ** ZOOM;
  const fx = ((Number(loc.lng) + 180) / 360) * n;
  const fy = ((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * n;
  const box = el("div", "map-tiles");
  const cx = Math.floor(fx);
  const cy = Math.floor(fy);
  const width = 3 * TILE;
  const inner = el("div", "map-tiles-inner");
  inner.style.setProperty("--dx", `${Math.round(-(fx - cx + 1) * TILE + width / 2)}px`);
  inner.style.setProperty("--dy", `${Math.round(-(fy - cy + 1) * TILE + width / 2)}px`);
  for (let j = -1; j <= 1; j += 1) {
    for (let i = -1; i <= 1; i += 1) {
      const img = el("img", "map-tile");
      img.alt = "";
      img.src = template.replace("{z}", ZOOM).replace("{x}", cx + i).replace("{y}", cy + j);
      inner.append(img);
    }
  }
  box.append(inner, el("span", "map-tiles-point"));
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", `${t.map_point} ${Number(loc.lat).toFixed(5)}, ${Number(loc.lng).toFixed(5)}`);
  return box;
}

function dialog(t) {
  let d = document.getElementById("map-dialog");
  if (d) return d;
  // Pages without the console's dialog (the case page) get one made here.
  d = el("dialog", "cp-dialog map-dialog");
  d.id = "map-dialog";
  d.setAttribute("aria-labelledby", "map-title");
  const inner = el("div", "cp-dialog-form");
  const h = el("h2", "", t.map_sketch_title);
  h.id = "map-title";
  const view = el("div", "map-view");
  view.id = "map-view";
  const buttons = el("div", "cp-dialog-buttons");
  const close = el("button", "btn btn-secondary", t.sc_close);
  close.type = "button";
  close.id = "map-close";
  buttons.append(close);
  inner.append(h, view, buttons);
  d.append(inner);
  document.body.append(d);
  return d;
}

export function showMap(t, loc) {
  const d = dialog(t);
  const cfg = config();
  const view = document.getElementById("map-view");
  view.textContent = "";
  view.append(cfg.tiles ? tiles(t, loc, cfg.tiles) : sketch(t, loc, cfg.area || []));
  const close = document.getElementById("map-close");
  close.onclick = () => d.close();
  if (!d.open) d.showModal();
  close.focus();
}

// The button that replaces the internet map link next to a position.
export function mapButton(t, loc) {
  const b = el("button", "btn btn-small btn-secondary map-open", t.map_sketch);
  b.type = "button";
  b.addEventListener("click", () => showMap(t, loc));
  return b;
}
