// The picture the officer receives: resolution, frame rate and bitrate of the driver's video,
// read once a second from the console's peer connection (getStats), shown over the video; and a
// warning when it stays too poor for evidence (below 720p or under 15 fps for 5 s on end):
// plates and licences are then better asked of the driver's phone.
import { fmt } from "../common.js";
import { t } from "./page.js";

const MIN_LINES = 720; // min(width, height): a phone held upright sends 720x1280
const MIN_FPS = 15;
const POOR_SECONDS = 5;

let timer = null;
let watched = null;

function box() {
  let el = document.getElementById("video-quality");
  if (!el) {
    el = document.createElement("p");
    el.id = "video-quality";
    el.className = "video-quality";
    el.setAttribute("role", "status");
    el.hidden = true;
    const wrap = document.querySelector(".call-video-wrap");
    if (wrap) wrap.appendChild(el);
  }
  return el;
}

function inboundVideo(report) {
  let found = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") found = s;
  });
  return found;
}

// Start watching pc (the current officer leg); a previous watch stops.
export function watchQuality(pc) {
  stopQuality();
  watched = pc;
  const el = box();
  let last = null;
  let poorFor = 0;
  const tick = async () => {
    if (watched !== pc) return;
    let report;
    try {
      report = await pc.getStats();
    } catch (_) {
      return;
    }
    const s = inboundVideo(report);
    if (watched !== pc || !s || !s.frameWidth) return;
    const now = s.timestamp;
    let fps = s.framesPerSecond || 0;
    let kbps = 0;
    if (last && now > last.timestamp) {
      const dt = (now - last.timestamp) / 1000;
      fps = Math.max(0, (s.framesDecoded - last.framesDecoded) / dt);
      kbps = Math.max(0, ((s.bytesReceived - last.bytesReceived) * 8) / dt / 1000);
      const poor = Math.min(s.frameWidth, s.frameHeight) < MIN_LINES || fps < MIN_FPS;
      poorFor = poor ? poorFor + dt : 0;
    }
    last = s;
    const warn = poorFor >= POOR_SECONDS;
    el.textContent = fmt(t.video_quality, {
      w: s.frameWidth,
      h: s.frameHeight,
      fps: Math.round(fps),
      mbps: (kbps / 1000).toFixed(1),
    }) + (warn ? " · " + t.video_quality_poor : "");
    el.dataset.width = String(s.frameWidth);
    el.dataset.height = String(s.frameHeight);
    el.dataset.fps = fps.toFixed(1);
    el.dataset.kbps = String(Math.round(kbps));
    el.classList.toggle("video-quality-poor", warn);
    el.hidden = false;
  };
  timer = setInterval(tick, 1000);
}

export function stopQuality() {
  if (timer) clearInterval(timer);
  timer = null;
  watched = null;
  const el = document.getElementById("video-quality");
  if (el) {
    el.hidden = true;
    el.classList.remove("video-quality-poor");
  }
}
