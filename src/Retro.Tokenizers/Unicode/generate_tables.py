#!/usr/bin/python3
"""Writes unicode_tables.bin (embedded in Retro.Tokenizers) from Python's unicodedata.

Run with Debian's python3 (Unicode 14.0): /usr/bin/python3 src/Retro.Tokenizers/Unicode/generate_tables.py
Format (little-endian int32): magic 'RUNT', version 1, unidata major*100+minor, then four sections, each a count
followed by its rows: combining classes (cp, ccc); canonical full decompositions (cp, len, cps...);
compatibility full decompositions (cp, len, cps...); primary composites (first, second, composite).
Hangul syllables are algorithmic and not stored.
"""
import os
import struct
import unicodedata

def is_hangul(cp):
    return 0xAC00 <= cp <= 0xD7A3

ccc, nfd, nfkd, comp = [], [], [], []
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF or is_hangul(cp):
        continue
    c = chr(cp)
    k = unicodedata.combining(c)
    if k:
        ccc.append((cp, k))
    d = unicodedata.normalize('NFD', c)
    if d != c:
        nfd.append((cp, [ord(x) for x in d]))
    kd = unicodedata.normalize('NFKD', c)
    if kd != c:
        nfkd.append((cp, [ord(x) for x in kd]))
    raw = unicodedata.decomposition(c)
    if raw and not raw.startswith('<'):
        parts = [int(x, 16) for x in raw.split()]
        if len(parts) == 2 and unicodedata.normalize('NFC', chr(parts[0]) + chr(parts[1])) == c:
            comp.append((parts[0], parts[1], cp))

out = bytearray(b'RUNT')
major, minor, _ = (int(x) for x in unicodedata.unidata_version.split('.'))
out += struct.pack('<ii', 1, major * 100 + minor)
out += struct.pack('<i', len(ccc))
for cp, k in ccc:
    out += struct.pack('<ii', cp, k)
for table in (nfd, nfkd):
    out += struct.pack('<i', len(table))
    for cp, cps in table:
        out += struct.pack('<ii', cp, len(cps)) + struct.pack('<%di' % len(cps), *cps)
out += struct.pack('<i', len(comp))
for a, b, c in comp:
    out += struct.pack('<iii', a, b, c)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'unicode_tables.bin')
with open(path, 'wb') as f:
    f.write(out)
print(path, len(out), 'bytes;', len(ccc), 'ccc,', len(nfd), 'nfd,', len(nfkd), 'nfkd,', len(comp), 'compositions')
