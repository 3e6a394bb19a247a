"""TFLite: the card travels as a small zip archive appended to the flatbuffer.

The interpreter reads the flatbuffer from the start of the file and ignores trailing bytes; zip readers
find an archive from the end of a file. So one file is both a valid .tflite and a readable archive
(tests/runtime/test_modelfile.py loads such a file in LiteRT).
"""

from __future__ import annotations

import io
import zipfile

CARD_MEMBER = "edgexray_card.json"
FILE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of every .tflite


class TFLiteCardFormat:
    suffix = ".tflite"

    def split(self, data: bytes) -> tuple[bytes, str | None]:
        """(model bytes without the card, card JSON or None). Raises ValueError if not TFLite."""
        if data[4:8] != FILE_IDENTIFIER:
            raise ValueError("no TFL3 flatbuffer identifier")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                if not any(info.filename == CARD_MEMBER for info in infos):
                    return data, None
                start = min(info.header_offset for info in infos)
                text = archive.read(CARD_MEMBER).decode("utf-8")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
            return data, None
        return data[:start], text

    def join(self, payload: bytes, card_json: str) -> bytes:
        buffer = io.BytesIO()
        buffer.write(payload)
        with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(CARD_MEMBER, card_json)
        return buffer.getvalue()
