"""The perceptual hash (pHash) of an image, with Pillow and plain Python — no numpy or scipy.

It gives the same 64-bit hash as ``str(imagehash.phash(image))`` (hash_size 8, highfreq
factor 4), which computed every ``media.phash`` stored so far: the image in grayscale, resized
to 32×32 with Lanczos, the 2-D DCT-II ``scipy.fftpack.dct(dct(pixels, axis=0), axis=1)``,
its top-left 8×8 corner compared with that corner's median, bits in row order as 16 hex digits.

Why the DCT below is not the textbook sum: flat and symmetric pictures (screenshots, graphics,
one colour) have coefficients that are exactly zero on paper, and whether such a bit is set
depends on how scipy rounds them — exact zeros, or noise of 1e-13 either side of the median.
A textbook DCT rounds differently and would change those bits, so a re-sent flat image would
stop matching its stored hash. So this module performs the same floating-point operations, in
the same order, as scipy's DCT-II (pocketfft: a length-32 real backward FFT with radix-2 and
radix-4 passes, and pocketfft's own twiddle-factor tables), which makes every coefficient —
and therefore every hash — bit for bit the same. Python floats are IEEE doubles and Python
never fuses a multiply and an add, so the results do not depend on the machine; the one
platform input is the C library's sine and cosine, used once at import for the tables.
tests/unit/test_phash.py compares the coefficients and the hashes with scipy and imagehash.

The algorithm follows pocketfft by Martin Reinecke (BSD-3-Clause), as used by scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PIL import Image

HASH_SIZE = 8
# imagehash's highfreq_factor 4: the DCT runs on a 32×32 image, the hash keeps its 8×8 corner.
SIDE = HASH_SIZE * 4

# pocketfft's constant, the double nearest to √2.
_SQRT2 = 1.4142135623730951


def _unity_roots(n: int) -> list[tuple[float, float]]:
    """exp(2πik/n) for k in 0..n, rounded exactly as pocketfft's ``sincos_2pibyn`` rounds them.

    pocketfft evaluates sine and cosine only in the first octant and for a small table of
    "coarse" and "fine" roots, and forms the others as products of one of each — so most
    values differ from a correctly rounded cos/sin in the last bit, and must be made the
    same way here.
    """
    if n & (n - 1):
        raise ValueError("only powers of two are needed")
    # pocketfft: double(0.25L * pi / n); for n a power of two that is exactly pi / 4 / n.
    ang = math.pi / 4 / n

    def calc(x: int) -> tuple[float, float]:
        x <<= 3
        if x < 4 * n:  # first half
            if x < 2 * n:  # first quadrant
                if x < n:
                    return math.cos(x * ang), math.sin(x * ang)
                return math.sin((2 * n - x) * ang), math.cos((2 * n - x) * ang)
            x -= 2 * n  # second quadrant
            if x < n:
                return -math.sin(x * ang), math.cos(x * ang)
            return -math.cos((2 * n - x) * ang), math.sin((2 * n - x) * ang)
        x = 8 * n - x
        if x < 2 * n:  # third quadrant
            if x < n:
                return math.cos(x * ang), -math.sin(x * ang)
            return math.sin((2 * n - x) * ang), -math.cos((2 * n - x) * ang)
        x -= 2 * n  # fourth quadrant
        if x < n:
            return -math.sin(x * ang), -math.cos(x * ang)
        return -math.cos((2 * n - x) * ang), -math.sin((2 * n - x) * ang)

    values = (n + 2) // 2
    shift = 1
    while (1 << shift) * (1 << shift) < values:
        shift += 1
    mask = (1 << shift) - 1
    fine = [(1.0, 0.0)] + [calc(i) for i in range(1, mask + 1)]
    coarse = [(1.0, 0.0)] + [calc(i * (mask + 1)) for i in range(1, (values + mask) // (mask + 1))]
    roots = []
    for idx in range(n + 1):
        sign = 1.0
        if 2 * idx > n:  # the second half is the conjugate of the first
            idx, sign = n - idx, -1.0
        fr, fi = fine[idx & mask]
        cr, ci = coarse[idx >> shift]
        roots.append((fr * cr - fi * ci, sign * (fr * ci + fi * cr)))
    return roots


def _factors(n: int) -> list[int]:
    """pocketfft's factorisation of a real FFT length: fours, and a single two put first."""
    factors = []
    while n % 4 == 0:
        factors.append(4)
        n //= 4
    if n % 2 == 0:
        n //= 2
        factors.append(2)
        factors[0], factors[-1] = factors[-1], factors[0]
    if n != 1:
        raise ValueError("only powers of two are needed")
    return factors


class _Dct2:
    """The unnormalised DCT-II of one length, as scipy.fftpack.dct(x) computes it."""

    def __init__(self, n: int) -> None:
        self.n = n
        roots = _unity_roots(n)
        self.passes: list[tuple[int, int, int, list[float]]] = []  # factor, ido, l1, twiddles
        l1 = 1
        for ip in _factors(n):
            ido = n // (l1 * ip)
            self.passes.append((ip, ido, l1, _pass_twiddles(roots, ip, ido, l1)))
            l1 *= ip
        quarter = _unity_roots(4 * n)
        self.twiddle = [quarter[i + 1][0] for i in range(n)]

    def __call__(self, values: Sequence[float]) -> list[float]:
        n = self.n
        c = list(values)
        c[0] *= 2
        c[n - 1] *= 2
        for k in range(1, n - 1, 2):
            c[k + 1], c[k] = c[k + 1] - c[k], c[k + 1] + c[k]
        c = self._backward_fft(c)
        tw = self.twiddle
        for k in range(1, n // 2):
            kc = n - k
            t1 = tw[k - 1] * c[kc] + tw[kc - 1] * c[k]
            t2 = tw[k - 1] * c[k] - tw[kc - 1] * c[kc]
            c[k] = 0.5 * (t1 + t2)
            c[kc] = 0.5 * (t1 - t2)
        c[n // 2] *= tw[n // 2 - 1]
        return c

    def _backward_fft(self, c: list[float]) -> list[float]:
        """pocketfft's real backward FFT (halfcomplex in, real out), unnormalised."""
        out = [0.0] * self.n
        for ip, ido, l1, wa in self.passes:
            _backward_pass(ip, ido, l1, c, out, wa)
            c, out = out, c
        return c


def _pass_twiddles(roots: list[tuple[float, float]], ip: int, ido: int, l1: int) -> list[float]:
    """pocketfft's twiddle factors of one pass. The last pass (``ido`` 1) has none."""
    twiddles = [0.0] * ((ip - 1) * (ido - 1))
    for j in range(1, ip):
        for i in range(1, (ido - 1) // 2 + 1):
            re, im = roots[j * l1 * i]
            twiddles[(j - 1) * (ido - 1) + 2 * i - 2] = re
            twiddles[(j - 1) * (ido - 1) + 2 * i - 1] = im
    return twiddles


# A radix-ip pass reads ip rows of ido values per k, CC(a, b, k) at cc[a + ido*(b + ip*k)],
# and writes CH(a, k, b) at ch[a + ido*(k + l1*b)]: these are the starts of those rows.
def _in_rows(ido: int, ip: int, k: int) -> list[int]:
    return [ido * (b + ip * k) for b in range(ip)]


def _out_rows(ido: int, l1: int, ip: int, k: int) -> list[int]:
    return [ido * (k + l1 * b) for b in range(ip)]


def _radb2_first(ido: int, l1: int, cc: list[float], ch: list[float]) -> None:
    for k in range(l1):
        (r0, r1), (o0, o1) = _in_rows(ido, 2, k), _out_rows(ido, l1, 2, k)
        c0, c1 = cc[r0], cc[r1 + ido - 1]
        ch[o0] = c0 + c1
        ch[o1] = c0 - c1


def _radb2_last(ido: int, l1: int, cc: list[float], ch: list[float]) -> None:
    last = ido - 1
    for k in range(l1):
        (r0, r1), (o0, o1) = _in_rows(ido, 2, k), _out_rows(ido, l1, 2, k)
        ch[last + o0] = 2 * cc[last + r0]
        ch[last + o1] = -2 * cc[r1]


def _radb2_middle(ido: int, l1: int, cc: list[float], ch: list[float], wa: list[float]) -> None:
    for k in range(l1):
        (row0, row1), (out0, out1) = _in_rows(ido, 2, k), _out_rows(ido, l1, 2, k)
        for i in range(2, ido, 2):
            ic = ido - i
            ch[out0 + i - 1] = cc[row0 + i - 1] + cc[row1 + ic - 1]
            tr2 = cc[row0 + i - 1] - cc[row1 + ic - 1]
            ti2 = cc[row0 + i] + cc[row1 + ic]
            ch[out0 + i] = cc[row0 + i] - cc[row1 + ic]
            wr, wi = wa[i - 2], wa[i - 1]
            ch[out1 + i] = wr * ti2 + wi * tr2
            ch[out1 + i - 1] = wr * tr2 - wi * ti2


def _radb4_first(ido: int, l1: int, cc: list[float], ch: list[float]) -> None:
    last = ido - 1
    for k in range(l1):
        (r0, r1, r2, r3), (o0, o1, o2, o3) = _in_rows(ido, 4, k), _out_rows(ido, l1, 4, k)
        tr2 = cc[r0] + cc[r3 + last]
        tr1 = cc[r0] - cc[r3 + last]
        tr3 = 2 * cc[r1 + last]
        tr4 = 2 * cc[r2]
        ch[o0] = tr2 + tr3
        ch[o2] = tr2 - tr3
        ch[o3] = tr1 + tr4
        ch[o1] = tr1 - tr4


def _radb4_last(ido: int, l1: int, cc: list[float], ch: list[float]) -> None:
    last = ido - 1
    for k in range(l1):
        (r0, r1, r2, r3), (o0, o1, o2, o3) = _in_rows(ido, 4, k), _out_rows(ido, l1, 4, k)
        ti1 = cc[r3] + cc[r1]
        ti2 = cc[r3] - cc[r1]
        tr2 = cc[r0 + last] + cc[r2 + last]
        tr1 = cc[r0 + last] - cc[r2 + last]
        ch[last + o0] = tr2 + tr2
        ch[last + o1] = _SQRT2 * (tr1 - ti1)
        ch[last + o2] = ti2 + ti2
        ch[last + o3] = -_SQRT2 * (tr1 + ti1)


def _radb4_middle(ido: int, l1: int, cc: list[float], ch: list[float], wa: list[float]) -> None:
    last = ido - 1
    for k in range(l1):
        (r0, r1, r2, r3), (o0, o1, o2, o3) = _in_rows(ido, 4, k), _out_rows(ido, l1, 4, k)
        for i in range(2, ido, 2):
            ic = ido - i
            tr2 = cc[r0 + i - 1] + cc[r3 + ic - 1]
            tr1 = cc[r0 + i - 1] - cc[r3 + ic - 1]
            ti1 = cc[r0 + i] + cc[r3 + ic]
            ti2 = cc[r0 + i] - cc[r3 + ic]
            tr4 = cc[r2 + i] + cc[r1 + ic]
            ti3 = cc[r2 + i] - cc[r1 + ic]
            tr3 = cc[r2 + i - 1] + cc[r1 + ic - 1]
            ti4 = cc[r2 + i - 1] - cc[r1 + ic - 1]
            ch[o0 + i - 1] = tr2 + tr3
            cr3 = tr2 - tr3
            ch[o0 + i] = ti2 + ti3
            ci3 = ti2 - ti3
            cr4 = tr1 + tr4
            cr2 = tr1 - tr4
            ci2 = ti1 + ti4
            ci4 = ti1 - ti4
            for out, w, ci, cr in ((o1, 0, ci2, cr2), (o2, 1, ci3, cr3), (o3, 2, ci4, cr4)):
                wr, wi = wa[i - 2 + w * last], wa[i - 1 + w * last]
                ch[out + i] = wr * ci + wi * cr
                ch[out + i - 1] = wr * cr - wi * ci


_Edge = Callable[[int, int, list[float], list[float]], None]
_Middle = Callable[[int, int, list[float], list[float], list[float]], None]
# pocketfft's radb2 and radb4, each in its three parts: the first column of every row, the
# last column when rows have an even length, and the columns between, which use twiddles.
_BUTTERFLIES: dict[int, tuple[_Edge, _Edge, _Middle]] = {
    2: (_radb2_first, _radb2_last, _radb2_middle),
    4: (_radb4_first, _radb4_last, _radb4_middle),
}


def _backward_pass(
    ip: int, ido: int, l1: int, cc: list[float], ch: list[float], wa: list[float]
) -> None:
    """One radix-``ip`` pass of the backward FFT, from ``cc`` into ``ch``."""
    first, last, middle = _BUTTERFLIES[ip]
    first(ido, l1, cc, ch)
    if ido % 2 == 0:
        last(ido, l1, cc, ch)
    if ido > 2:
        middle(ido, l1, cc, ch, wa)


_DCT = _Dct2(SIDE)


def dct_corner(pixels: Sequence[float]) -> list[float]:
    """The top-left HASH_SIZE×HASH_SIZE corner, row by row, of the 2-D DCT-II of a SIDE×SIDE
    image given row by row: ``scipy.fftpack.dct(dct(p, axis=0), axis=1)[:8, :8]``, bit for bit.
    """
    if len(pixels) != SIDE * SIDE:
        raise ValueError(f"expected {SIDE * SIDE} pixels")
    # Along axis 0 (each column), then along axis 1 (each row) — only the rows of the corner
    # are needed, and each 1-D transform is independent of the others, so that is exact.
    columns = [_DCT(pixels[x::SIDE]) for x in range(SIDE)]
    corner: list[float] = []
    for u in range(HASH_SIZE):
        corner.extend(_DCT([column[u] for column in columns])[:HASH_SIZE])
    return corner


def phash(image: Image.Image) -> str:
    """The pHash of an image as 16 hex digits, equal to ``str(imagehash.phash(image))``."""
    small = image.convert("L").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    corner = dct_corner([float(value) for value in small.tobytes()])
    ordered = sorted(corner)
    middle = len(ordered) // 2
    # numpy.median of an even count: the mean of the two middle values, (a + b) / 2.
    median = (ordered[middle - 1] + ordered[middle]) / 2
    bits = 0
    for value in corner:
        bits = (bits << 1) | (value > median)
    return f"{bits:0{HASH_SIZE * HASH_SIZE // 4}x}"
