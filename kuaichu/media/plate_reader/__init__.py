"""Reading Chinese civil licence plates from one video frame, offline, on one CPU thread.

The evidence still of a "plate" capture (``kuaichu.evidence.captures``) is handed to
:meth:`PlateReader.read` in a worker thread and the console proposes what it saw. The same
reader runs unasked at a low rate on other frames (the plate patrol), so its cost is bounded:
stages run cheapest first, each only if the ones before read nothing sure, each with a capped
number of candidates, and the dearest (the text detector) only for a reading somebody asked
for: the patrol's quick reads stop before it (docs/benchmarks.md has the figures per set of
pictures). The bound is a count of candidates, not a clock: a clock-time budget made the same
picture read differently on a busy machine.

1. **Candidates**: (a) colour: plate backgrounds are a saturated blue, yellow or green, in a
   rectangle about 3.1-3.4 times as wide as high; hue masks give outlines and four corners (a
   green new-energy plate fades to white at the top, so its top is extrapolated). (b) edges,
   whatever the colour (a blue plate on a blue car, dusk): bands dense in vertical strokes, of
   plate shape, the halves split at the "·" joined; at two sizes of the frame (a near plate's
   strokes stand too far apart at the finer one to close into a band). (c) a candidate that read
   as the serial alone is extended to the whole plate; a whole-plate reading that does not hold
   the serial read before is never sure. (d) last, the PP-OCR text detector: around an unsure
   reading when there is one (a region three boxes wide and four high, at the frame's own
   scale; also when only the province is in doubt, the candidate's box may have hidden it), or
   else around the strip that showed most of a serial alone; on the whole frame scaled to 640
   px when there is neither or nothing was found there; a box of it that showed part of a plate
   is tried wider (a dark plate's ends fade into it). The models' subnormal weights are zeroed
   at load (:mod:`.subnormals`: on Intel cores they made the detector three times slower).
   A plate seen from the side is a parallelogram: the colour stage judges a blob by how well
   it fills its own four corners, not its bounding rectangle. A yellow blob of about
   2:1 is also tried as a two-row plate (a lorry's or a bus's rear plate: the province and
   letter above the serial), each row cut to its own strip, side by side.
2. **Plate grid**: the corners give a homography from the plate's own millimetres (GA 36
   layout: 440x140 mm, characters 90 mm high in known cells; 480 mm for green) to the frame,
   nudged by a search that puts the character band and cells on the strokes (`grid.refine`).
   Where the band is clearly taller at one end (a plate filmed from the side, whose candidate
   was a rectangle), the grid is tilted in depth to match. A green plate read as seven
   characters is read again through a grid longer at the right: a new-energy plate has eight.
3. **Recognition** (~10-20 ms per candidate, batched by strip width; most of a hard frame's
   cost, so a strip without a row of strokes along it is not sent): the PP-OCR text
   recogniser shipped inside the ``rapidocr`` wheel, run with onnxruntime on a flat strip
   cut through the grid. Its
   per-frame character probabilities are aligned to the plate grammar (GA 36: province,
   authority letter without I/O, five serial characters with at most two letters; new energy:
   D/F then a letter or digit and four digits, or five digits then D/F) as a constraint of the
   decoding, so an O in a serial comes out as 0, a 之 as Z, a blurred 8 where only a letter may
   stand as B.
4. **Province**: the recogniser's too (it has seen real Chinese text in many faces), from the
   whole strip and from two cuts of the plate's left end; the three opinions multiply.
5. **Confidence**: the product of the characters' confidences, the province's shrunk when no
   view saw it clearly, and nil when the plate is cut by the frame's edge before it. At or
   above SURE_CONFIDENCE the reading is proposed as read; below, it is offered as unsure
   with its alternatives (another box's reading of the same plate and the crossings of the
   two, the next provinces, the runner-up of the least certain character).
   What reads as no plate at all (a road sign in Chinese, a "新手上路"
   sticker, a model badge: the free reading disagrees with the grammar, characters uncertain,
   more than two serial letters) is not returned.

The models load lazily (thread-safe) on the first :meth:`read` or in :meth:`warm_up`; nothing
is downloaded: the ONNX files come from the installed ``rapidocr`` wheel. Loading them sets
OpenCV to one thread for the whole process (:func:`models.one_opencv_thread`). The work is numpy,
OpenCV and onnxruntime calls on whole arrays, which release the GIL: the Python between them
is small, so a read in a worker thread leaves the event loop free.
"""

from .acceptance import SURE_CONFIDENCE, PlateReading
from .reader import PlateReader

__all__ = ["SURE_CONFIDENCE", "PlateReader", "PlateReading"]
