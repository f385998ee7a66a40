#!/usr/bin/env python3
"""Writes the committed seed inputs for the fuzz targets (fuzz/seeds/<target>/).

The seeds are small, made here from scratch (no third-party files), and each steers the fuzzer
into one part of a parser: TIFF blocks in both byte orders with every IFD the EXIF reader looks
at, tiny baseline/progressive/restart-interval JPEGs that `ingest_photo` fully decodes under the
fuzz limits, and lead-card payloads in every format. `scripts/fuzz.sh` adds the real camera
headers from shared/fixtures/exif and the QR texts from shared/fixtures/qr at run time.

Deterministic: running it again writes the same bytes. Usage: python3 fuzz/seeds/make_seeds.py
"""

import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# TIFF / EXIF blocks
# ---------------------------------------------------------------------------------------------

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10
TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1, SRATIONAL: 8}


def pack_value(order, typ, values):
    if typ in (ASCII, UNDEFINED, BYTE):
        data = values if isinstance(values, bytes) else values.encode() + b"\0"
        return len(data), data
    fmt = {SHORT: "H", LONG: "I", RATIONAL: "II", SRATIONAL: "ii"}[typ]
    flat = [x for v in values for x in (v if isinstance(v, tuple) else (v,))]
    return len(values), struct.pack(order + fmt * len(values), *flat)


def tiff(order, ifds, chain=("ifd0", "ifd1")):
    """ifds: name -> list of (tag, type, values) or (tag, "ptr", ifd-name).

    IFDs are laid out in dict order, each followed by its out-of-line values."""
    o = "<" if order == "II" else ">"
    offsets, pos = {}, 8
    for name, entries in ifds.items():
        offsets[name] = pos
        pos += 2 + 12 * len(entries) + 4
        for entry in entries:
            if entry[1] != "ptr":
                _, data = pack_value(o, entry[1], entry[2])
                if len(data) > 4:
                    pos += len(data) + (len(data) & 1)
    out = bytearray(order.encode() + struct.pack(o + "HI", 42, offsets[next(iter(ifds))]))
    names = list(ifds)
    for name, entries in ifds.items():
        assert len(out) == offsets[name]
        extra_at = len(out) + 2 + 12 * len(entries) + 4
        extra = bytearray()
        out += struct.pack(o + "H", len(entries))
        for entry in sorted(entries, key=lambda e: e[0]):
            tag, typ = entry[0], entry[1]
            if typ == "ptr":
                out += struct.pack(o + "HHII", tag, LONG, 1, offsets[entry[2]])
                continue
            count, data = pack_value(o, typ, entry[2])
            if len(data) <= 4:
                out += struct.pack(o + "HHI", tag, typ, count) + data.ljust(4, b"\0")
            else:
                out += struct.pack(o + "HHII", tag, typ, count, extra_at + len(extra))
                extra += data + (b"\0" if len(data) & 1 else b"")
        nxt = 0
        if name in chain and chain.index(name) + 1 < len(chain) and chain[chain.index(name) + 1] in ifds:
            nxt = offsets[chain[chain.index(name) + 1]]
        out += struct.pack(o + "I", nxt)
        out += extra
    return bytes(out)


def camera_block(order="MM", orientation=6, thumb=True):
    ifds = {
        "ifd0": [
            (0x010F, ASCII, "fieldsync"),
            (0x0110, ASCII, "seed camera"),
            (0x0112, SHORT, [orientation]),
            (0x8769, "ptr", "exif"),
            (0x8825, "ptr", "gps"),
        ],
        "exif": [
            (0x9000, UNDEFINED, b"0232"),
            (0x9003, ASCII, "2024:05:12 10:30:00"),
            (0x9011, ASCII, "+08:00"),
            (0x9291, ASCII, "25"),
            (0xA005, "ptr", "interop"),
        ],
        "interop": [(0x0001, ASCII, "R98")],
        "gps": [
            (0x0000, BYTE, bytes([2, 3, 0, 0])),
            (0x0001, ASCII, "N"),
            (0x0002, RATIONAL, [(31, 1), (18, 1), (3000, 100)]),
            (0x0003, ASCII, "E"),
            (0x0004, RATIONAL, [(120, 1), (35, 1), (1234, 100)]),
            (0x0012, ASCII, "WGS-84"),
        ],
    }
    if thumb:
        ifds["ifd1"] = [(0x0103, SHORT, [6]), (0x0201, LONG, [0]), (0x0202, LONG, [4])]
    return tiff(order, ifds)


def odd_block():
    """Values every check in exif.rs refuses: impossible date, orientation 9, zero denominator,
    another datum, signed rationals, a GPS latitude without longitude reference."""
    return tiff(
        "II",
        {
            "ifd0": [(0x0112, SHORT, [9]), (0x8769, "ptr", "exif"), (0x8825, "ptr", "gps")],
            "exif": [(0x9003, ASCII, "2023:02:29 24:00:00"), (0x9011, ASCII, "+23:00")],
            "gps": [
                (0x0001, ASCII, "S"),
                (0x0002, SRATIONAL, [(33, 1), (52, 0), (-3000, 100)]),
                (0x0004, SRATIONAL, [(70, 1), (30, 1)]),
                (0x0012, ASCII, "TOKYO"),
            ],
        },
    )


# ---------------------------------------------------------------------------------------------
# Tiny JPEGs (baseline, progressive, restart intervals), encoded from random coefficients
# ---------------------------------------------------------------------------------------------

# Flat Huffman tables: every DC category (0-11) gets a 4-bit code and every AC run/size symbol a
# 8-bit code. Valid (no all-ones code) and able to code any coefficient up to 10 bits.
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [(run << 4) | size for run in range(16) for size in range(1, 11)]


def huffman_codes(symbols, length):
    return {s: (i, length) for i, s in enumerate(symbols)}


DC_CODES = huffman_codes(DC_SYMBOLS, 4)
AC_CODES = huffman_codes(AC_SYMBOLS, 8)


def dht(table_class, table_id, symbols, length):
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    body = bytes([table_class << 4 | table_id]) + bytes(counts) + bytes(symbols)
    return segment(0xC4, body)


def segment(marker, body):
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


class Bits:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = self.acc << 1 | (value >> i) & 1
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        data, self.out = bytes(self.out), bytearray()
        return data


def magnitude(v):
    size = abs(v).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def put_dc(bits, diff):
    size, value = magnitude(diff)
    bits.put(*DC_CODES[size])
    bits.put(value, size)


def put_ac(bits, coefficients):
    """coefficients: zig-zag positions 1..63."""
    run = 0
    last = max((i for i, c in enumerate(coefficients) if c), default=-1)
    for i, c in enumerate(coefficients):
        if i > last:
            bits.put(*AC_CODES[0x00])
            return
        if c == 0:
            run += 1
            continue
        while run > 15:
            bits.put(*AC_CODES[0xF0])
            run -= 16
        size, value = magnitude(c)
        bits.put(*AC_CODES[(run << 4) | size])
        bits.put(value, size)
        run = 0


def random_block(rng):
    dc = rng.randint(-60, 60)
    ac = [0] * 63
    for _ in range(rng.randint(0, 4)):
        ac[rng.randint(0, 62)] = rng.choice([-3, -2, -1, 1, 2, 5, 17])
    return dc, ac


def tiny_jpeg(width, height, components, sampling=(1, 1), progressive=False, restart=0, app=b"", seed=1):
    """components 1 or 3; sampling is the luma factor (chroma is always 1x1)."""
    rng = random.Random(seed)
    hmax, vmax = sampling if components == 3 else (1, 1)
    factors = [(hmax, vmax)] + [(1, 1)] * (components - 1)
    mcus_x = -(-width // (8 * hmax))
    mcus_y = -(-height // (8 * vmax))
    # blocks[c][(by, bx)] over the MCU-padded grid of component c
    blocks = [
        {(by, bx): random_block(rng) for by in range(mcus_y * v) for bx in range(mcus_x * h)}
        for (h, v) in factors
    ]
    out = bytearray(b"\xFF\xD8")
    out += segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    out += app
    out += segment(0xDB, bytes([0]) + bytes([16] * 64))
    sof = bytes([8]) + struct.pack(">HHB", height, width, components)
    for c, (h, v) in enumerate(factors):
        sof += bytes([c + 1, h << 4 | v, 0])
    out += segment(0xC2 if progressive else 0xC0, sof)
    out += dht(0, 0, DC_SYMBOLS, 4) + dht(1, 0, AC_SYMBOLS, 8)
    if restart:
        out += segment(0xDD, struct.pack(">H", restart))

    def scan(comp_ids, ss, se, write_block):
        header = bytes([len(comp_ids)]) + b"".join(bytes([c + 1, 0x00]) for c in comp_ids)
        data = bytearray(segment(0xDA, header + bytes([ss, se, 0])))
        bits, predictors, count, rst = Bits(), [0] * components, 0, 0
        if len(comp_ids) == 1:
            c = comp_ids[0]
            h, v = factors[c]
            units = [[(c, (by, bx))] for by in range(-(-height * v // vmax // 8))
                     for bx in range(-(-width * h // hmax // 8))]
        else:
            units = [
                [(c, (my * factors[c][1] + y, mx * factors[c][0] + x))
                 for c in comp_ids for y in range(factors[c][1]) for x in range(factors[c][0])]
                for my in range(mcus_y) for mx in range(mcus_x)
            ]
        for unit in units:
            if restart and count and count % restart == 0:
                data += bits.flush() + bytes([0xFF, 0xD0 + rst])
                rst, predictors = (rst + 1) % 8, [0] * components
            for c, key in unit:
                write_block(bits, predictors, c, blocks[c][key])
            count += 1
        data += bits.flush()
        return bytes(data)

    def dc_and_ac(bits, predictors, c, block):
        dc, ac = block
        put_dc(bits, dc - predictors[c])
        predictors[c] = dc
        put_ac(bits, ac)

    def dc_only(bits, predictors, c, block):
        put_dc(bits, block[0] - predictors[c])
        predictors[c] = block[0]

    def ac_only(bits, predictors, c, block):
        put_ac(bits, block[1])

    if progressive:
        out += scan(list(range(components)), 0, 0, dc_only)
        for c in range(components):
            out += scan([c], 1, 63, ac_only)
    else:
        out += scan(list(range(components)), 0, 63, dc_and_ac)
    out += b"\xFF\xD9"
    return bytes(out)


def exif_app1(block):
    return segment(0xE1, b"Exif\0\0" + block)


# ---------------------------------------------------------------------------------------------
# Lead-card payloads (the project's own test strings and edge cases)
# ---------------------------------------------------------------------------------------------

PAYLOADS = {
    "vcard30_latin_n.txt": "BEGIN:VCARD\nVERSION:3.0\nN:Smith;John;;;\nTEL:+1 555 0100 123\nEND:VCARD",
    "vcard_cjk_n_fn.txt": "BEGIN:VCARD\nN:张;三;;;\nFN:张三丰 (总经理)\nTEL:13800001111\nEND:VCARD",
    "vcard30_base64.txt": "BEGIN:VCARD\r\nVERSION:3.0\r\nFN;ENCODING=b;CHARSET=UTF-8:5byg5LiJ\r\n"
    "NOTE;ENCODING=BASE64:5bGV5Lya\r\nEND:VCARD\r\n",
    "vcard_bad_base64.txt": "BEGIN:VCARD\nVERSION:3.0\nFN:x\nNOTE;ENCODING=b:!!!\nEND:VCARD",
    "vcard_bad_version.txt": "BEGIN:VCARD\nVERSION:9.9\nFN:x\nEND:VCARD",
    "vcard21_junk_lines.txt": "BEGIN:VCARD\nVERSION:2.1\nthis line has no colon\nFN:Li Lei\nEND:VCARD\n"
    "FN:Han Meimei",
    "vcard21_qp_folded.txt": "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=\r\n"
    "=A0;=E4=B8=89;;;\r\nNOTE;QUOTED-PRINTABLE:a=3Db=\r\n=ZZ=\r\nEND:VCARD\r\n"
    "ADR;HOME:;;  folded\r\n \tstreet;City;;;\r\n",
    "vcard40_quoted_params.txt": 'BEGIN:VCARD\nVERSION:4.0\nitem1.TEL;TYPE="work,voice";VALUE=uri;PREF=1:'
    "tel:+86-512-6888-8888;ext=1\nitem1.X-ABLabel:_$!<Mobile>!$_\nIMPP:weixin://wx_id\n"
    "IMPP:qq:12345\nADR:;;星湖街328号;苏州市;江苏省;215000;中国\nORG:A;B;;C\nEND:VCARD",
    "mecard_latin.txt": "MECARD:N:Owen,Sean;TEL:+12125551212;EMAIL:so@example.com;;",
    "mecard_escapes.txt": r"MECARD:N:张\,三;NOTE:a\;b\:c\\;ADR:x;URL:http\://a.cn;;",
    "bizcard_cjk.txt": "BIZCARD:N:三;X:张;M:13912345678;;",
    "link_wecom.txt": "https://work.weixin.qq.com/ca/cawcde5a3b2f1e0d9c8b",
    "link_wechat.txt": "HTTPS://WEIXIN.QQ.COM/r/o0zV0aHEvLkNrXxB90iP",
    "link_weixin_profile.txt": "weixin://contacts/profile/wxid_k2j3h4g5f6",
    "link_web_port.txt": "  https://user@[::1]:8443/contact?id=7#top \n",
    "link_tel.txt": "TEL:0512-68888888;ext=801",
    "link_mailto.txt": "mailto:sales@example.cn,%E5%BC%A0@example.cn?subject=hi",
    "plain_mixed.txt": "https://example.cn\n王五 13800138000 传真：(0512)68888889 a@b.co x@@y.cn\r"
    "+86 10 8888 6666 １３８１２３４５６７８",
}

BYTE_PAYLOADS = {
    "gbk_plain.bin": "联系人：孙丽 手机 18612345678".encode("gbk"),
    "big5_vcard.bin": "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=BIG5:林志明\r\nORG;CHARSET=BIG5:台灣精機\r\n"
    "END:VCARD".encode("big5"),
    "utf16le_bom_mecard.bin": b"\xff\xfe" + "MECARD:N:张,三;TEL:13800001111;;".encode("utf-16-le"),
    "utf8_bom_bizcard.bin": b"\xef\xbb\xbf" + "BIZCARD:N:Sean;X:Owen;E:s@o.io;;".encode(),
}


def write(target, name, data):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    for name, text in PAYLOADS.items():
        write("leadcard_payload", name, text.encode())
    for name, data in BYTE_PAYLOADS.items():
        write("leadcard_payload", name, data)

    camera_be = camera_block("MM", 6)
    write("exif", "tiff_be_camera.tiff", camera_be)
    write("exif", "tiff_le_camera_no_thumb.tiff", camera_block("II", 8, thumb=False))
    write("exif", "tiff_le_odd_values.tiff", odd_block())

    photos = {
        "rgb_16x8_baseline.jpg": tiny_jpeg(16, 8, 3, seed=1),
        "rgb_20x12_420.jpg": tiny_jpeg(20, 12, 3, sampling=(2, 2), seed=2),
        "gray_9x9_restart.jpg": tiny_jpeg(9, 9, 1, restart=1, seed=3),
        "rgb_24x16_progressive.jpg": tiny_jpeg(24, 16, 3, progressive=True, seed=4),
        "rgb_16x8_exif_orientation6.jpg": tiny_jpeg(16, 8, 3, app=exif_app1(camera_be), seed=5),
        "gray_8x16_exif_odd.jpg": tiny_jpeg(8, 16, 1, app=exif_app1(odd_block()), seed=6),
    }
    for name, data in photos.items():
        write("photo_inspect", name, data)
    write("exif", "jpeg_with_camera_block.jpg", photos["rgb_16x8_exif_orientation6.jpg"])


if __name__ == "__main__":
    main()
