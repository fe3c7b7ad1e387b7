#!/usr/bin/env python3
"""Remakes ledger-data/fonts/WenQuanYiMicroHei-GB2312.ttf, the font of the filed-contract PDF.

Source: Debian's fonts-wqy-microhei (Apache-2.0), /usr/share/fonts/truetype/wqy/wqy-microhei.ttc,
face 0. Kept: printable ASCII, Latin-1, the whole of GB2312 (its 6,763 hanzi and its symbols,
punctuation and full-width forms), the CJK punctuation block and the yuan sign; hinting and
unused tables dropped, so that the repository stays small. The PDF renderer subsets the font
again for each document, so a PDF carries only the glyphs it shows.

Needs fonttools (pip install fonttools) and the Debian package (apt-get install fonts-wqy-microhei).
Run from the repository root: python3 scripts/subset-font.py
"""

import sys
from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = "ledger-data/fonts/WenQuanYiMicroHei-GB2312.ttf"


def gb2312_chars():
    """Every character GB2312 encodes (rows 0xA1 to 0xF7, cells 0xA1 to 0xFE)."""
    out = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def main():
    codepoints = gb2312_chars()
    codepoints.update(range(0x20, 0x7F))
    codepoints.update(range(0xA0, 0x100))
    codepoints.update(range(0x3000, 0x3040))
    codepoints.update([0xA5, 0xFFE5, 0x2014, 0x2026, 0x00B7])
    font = TTCollection(SOURCE).fonts[0]
    options = subset.Options()
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.layout_features = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    font.save(OUT)
    print(f"{OUT}: {len(codepoints)} code points", file=sys.stderr)


if __name__ == "__main__":
    main()
