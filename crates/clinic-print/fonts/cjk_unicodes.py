#!/usr/bin/env python3
"""Prints the code points kept in NotoSansCJKsc-Regular-subset.otf, as a
comma-separated list of U+XXXX for pyftsubset's --unicodes-file.

Kept: every character of GB 2312 (6,763 simplified Hanzi, plus its symbols,
full-width Latin, kana, Greek and Cyrillic), the 5,401 common Hanzi of Big5
level 1 (traditional), the 2,350 Hangul syllables of KS X 1001, all of
hiragana and katakana, CJK symbols and punctuation (U+3000-303F) and the
half-width and full-width forms (U+FF00-FFEF). Uses only Python's own codecs.
"""


def from_codec(codec, leads, trails):
    chars = set()
    for lead in leads:
        for trail in trails:
            try:
                chars.add(bytes([lead, trail]).decode(codec))
            except UnicodeDecodeError:
                pass
    return chars


gb2312 = from_codec("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
big5_level1 = from_codec(
    "big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF))
)
ksx1001_hangul = from_codec("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))

points = {ord(c) for c in gb2312 | big5_level1 | ksx1001_hangul if len(c) == 1}
points |= set(range(0x3000, 0x3100))  # CJK symbols and punctuation, hiragana, katakana
points |= set(range(0xFF00, 0xFFF0))  # half-width and full-width forms
print(",".join("U+%04X" % p for p in sorted(points)))
