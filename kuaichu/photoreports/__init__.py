"""The photo channel (拍照快处, issue 13): a report made with guided photos when no officer can
take a video call, worked later by an officer from the console's photo queue.

When video is not possible (outside the service hours, the waiting queue at its cap, the wait
past its maximum, or a network that cannot carry video), the driver page offers the photo path:
one guided shot per screen (both vehicles, the collision point, both plates, both licences),
each upload checked here (:mod:`.upload`: an image by its content, bounded in bytes and
pixels, decoded, re-encoded as a plain JPEG of at most :data:`.upload.MAX_EDGE` pixels), then
"leave the scene" at once. An officer takes the report from the photo queue and works the
case like a call's (form, verification, liability, determination) on the case page.

Where things are stored (other parts read them):

- A photo is a ``captures`` row (``source = "photo_report"``, ``shot`` = the guided step,
  ``kind`` = the evidence kind) and a file in the case folder listed in the signed manifest,
  through :class:`kuaichu.evidence.captures.CaptureDesk` like every other still.
- The photo's EXIF evidence metadata is on the same row, read before the re-encoding dropped
  every tag from the stored file: ``exif_taken_at`` (DateTimeOriginal as Unix seconds, using
  OffsetTimeOriginal when present, else the server's zone), ``exif_time`` (the tag as the
  camera wrote it, with its offset if any), ``exif_lat`` / ``exif_lng`` (GPS, WGS-84 degrees,
  south/west negative). NULL when the photo carried none. The phone's own position at upload
  time (the page's geolocation) is ``lat`` / ``lng``, as for the call's stills.
- ``photo_reports`` (one row per case) holds the report's status (collecting, waiting,
  taken), why video was not possible, and who took it; the case's one ``calls`` row has the
  state ``photo``, and its ``officer_id`` is the officer who took the report.
"""
