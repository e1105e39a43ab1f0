// Driver page: one step per screen, for a phone held in one hand at the roadside.
// Steps: safety -> three eligibility screens (a checklist of four conditions, the cause, the
// legal situations; the last tap asks for the camera) -> ready (one big report button)
// -> waiting -> in call -> ended. An answer that rules the video channel out goes straight to
// the "what to do instead" screen; the server checks the answers again on report.
// Once the evidence is fixed the officer pushes "leave the scene": a full-screen notice that
// beeps and vibrates until the driver acknowledges it. The report's progress link (the same
// page the SMS links to) is kept for the tab.
//
// The parts live by concept in driver/: page (state, screens), eligibility, devices (camera,
// microphone), location, call (socket, report, queue, media, end), still (the officer's photo
// request), notices (leave the scene), progress (link and case status).
import "./driver/call.js";
import "./driver/devices.js";
import { loadService } from "./driver/eligibility.js";
import { restoreLeaveNotice } from "./driver/notices.js";
import { show } from "./driver/page.js";
import { restoreProgressUrl } from "./driver/progress.js";
import { restorePhotoReport } from "./driver/photos.js";

show("safety");
// A reload of the tab keeps the progress link and an unacknowledged notice.
restoreProgressUrl();
restoreLeaveNotice();
loadService();
// A photo report (issue 13) in progress comes back after a reload.
restorePhotoReport();
