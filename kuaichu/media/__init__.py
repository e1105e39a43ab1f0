"""Media: the two peer connections of a call, the encoded-frame bridge between them, the
recording. Entry point: :class:`kuaichu.media.call_media.CallMedia`."""
