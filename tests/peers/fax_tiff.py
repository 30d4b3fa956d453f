"""A one-page fax TIFF written by hand, and a TIFF reader for what a fax machine received.

The page is what a Group 3 fax sends (ITU-T T.4 §2; TIFF 6.0 Class F's fields): bilevel,
1728 pixels a row (A4 at 8.04 pels/mm, written as 204 dpi), 98 lines per inch (standard
resolution), uncompressed in one strip (Compression 1, WhiteIsZero, FillOrder 1), so no
image library is needed. spandsp's t4_tx reads it through libtiff and codes it in T.4 itself.
The reader walks the IFD chain (TIFF 6.0 §2) of a little- or big-endian file: one IFD per page.
"""

import struct

WIDTH = 1728
X_DPI, Y_DPI = 204, 98
ROWS = 1100                      # about an A4 page at 98 lpi (1143)


def page_rows(rows: int = ROWS) -> list:
    """The page, one bytes object per row (1 = black): bars, a border and a checker block, so
    it codes to more than white runs."""
    out = []
    stride = WIDTH // 8
    for y in range(rows):
        row = bytearray(stride)
        row[0] |= 0x80
        row[-1] |= 0x01
        if y < 4 or y >= rows - 4 or (y // 50) % 4 == 1 and y % 50 < 6:
            row[:] = b"\xff" * stride
        elif 300 <= y < 500:
            for x in range(20, 120):
                row[x] = 0xF0 if (y // 8 + x) % 2 else 0x0F
        out.append(bytes(row))
    return out


def write_page(path: str, rows: int = ROWS) -> None:
    """A TIFF of one bilevel page, 1728 wide, 204x98 dpi, uncompressed."""
    data = b"".join(page_rows(rows))
    entries = []                  # (tag, type, count, value or offset)
    ifd_at = 8
    n_tags = 13
    extra_at = ifd_at + 2 + 12 * n_tags + 4
    xres_at, yres_at = extra_at, extra_at + 8
    strip_at = extra_at + 16
    SHORT, LONG, RATIONAL = 3, 4, 5
    entries = [
        (256, LONG, 1, WIDTH), (257, LONG, 1, rows), (258, SHORT, 1, 1), (259, SHORT, 1, 1),
        (262, SHORT, 1, 0), (266, SHORT, 1, 1), (273, LONG, 1, strip_at), (277, SHORT, 1, 1),
        (278, LONG, 1, rows), (279, LONG, 1, len(data)), (282, RATIONAL, 1, xres_at),
        (283, RATIONAL, 1, yres_at), (296, SHORT, 1, 2),
    ]
    assert len(entries) == n_tags
    out = b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack("<H", n_tags)
    for tag, typ, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if typ == SHORT else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0)
    out += struct.pack("<II", X_DPI, 1) + struct.pack("<II", Y_DPI, 1)
    assert len(out) == strip_at
    with open(path, "wb") as f:
        f.write(out + data)


def read_pages(path: str) -> list:
    """Each page (IFD) of a TIFF as {tag: first value} for SHORT/LONG tags."""
    with open(path, "rb") as f:
        buf = f.read()
    end = {b"II": "<", b"MM": ">"}[buf[:2]]
    assert struct.unpack(end + "H", buf[2:4])[0] == 42, "not a TIFF"
    at = struct.unpack(end + "I", buf[4:8])[0]
    pages = []
    while at and len(pages) < 100:
        n = struct.unpack(end + "H", buf[at:at + 2])[0]
        tags = {}
        for k in range(n):
            tag, typ, count = struct.unpack(end + "HHI", buf[at + 2 + 12 * k:at + 10 + 12 * k])
            raw = buf[at + 10 + 12 * k:at + 14 + 12 * k]
            if typ == 3:
                tags[tag] = struct.unpack(end + "H", raw[:2])[0]
            elif typ == 4:
                tags[tag] = struct.unpack(end + "I", raw)[0]
        pages.append(tags)
        at = struct.unpack(end + "I", buf[at + 2 + 12 * n:at + 6 + 12 * n])[0]
    return pages


def read_rows(path: str, page: int = 0) -> list:
    """The rows of page `page` of a TIFF, decoded by libtiff (ctypes over Debian's libtiff6, as
    received fax pages are T.4/T.6 coded), one bytes object per row, 1 = black; None when
    libtiff is not here."""
    import ctypes
    try:
        lib = ctypes.CDLL("libtiff.so.6")
    except OSError:
        return None
    vp = ctypes.c_void_p
    lib.TIFFOpen.restype = vp
    lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.TIFFClose.argtypes = [vp]
    lib.TIFFSetDirectory.argtypes = [vp, ctypes.c_uint16]
    lib.TIFFScanlineSize.restype = ctypes.c_ssize_t
    lib.TIFFScanlineSize.argtypes = [vp]
    lib.TIFFReadScanline.argtypes = [vp, vp, ctypes.c_uint32, ctypes.c_uint16]
    tif = lib.TIFFOpen(path.encode(), b"r")
    if not tif:
        raise OSError("libtiff cannot open %s" % path)
    try:
        if lib.TIFFSetDirectory(tif, page) != 1:
            raise ValueError("no page %d in %s" % (page, path))
        length = read_pages(path)[page][257]
        size = lib.TIFFScanlineSize(tif)
        buf = ctypes.create_string_buffer(size)
        rows = []
        for y in range(length):
            if lib.TIFFReadScanline(tif, buf, y, 0) != 1:
                raise ValueError("row %d of %s does not decode" % (y, path))
            rows.append(buf.raw)
        return rows
    finally:
        lib.TIFFClose(tif)
