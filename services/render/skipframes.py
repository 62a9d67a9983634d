"""Repeat a still without encoding it again: H.264 P-frames whose every macroblock is skipped.

A still shown for N frames needs one real picture. x264 encodes that picture once, as an IDR frame
(CAVLC, one reference, no weighted prediction); every following frame is a P slice that says "all
macroblocks: copy the previous picture". Such a slice is a few bytes, built here from the fields of
x264's own SPS and PPS, and it decodes to exactly the still (the decoder copies, it never predicts).
That turns the cost of a still from one encode per frame into one encode per still.

Only what this needs of H.264 is read and written (ITU-T H.264, 7.3.2.1, 7.3.2.2, 7.3.3, 7.3.4):
exp-Golomb codes, emulation prevention, and the SPS/PPS fields a P slice header depends on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
NAL_SLICE, NAL_IDR, NAL_SPS, NAL_PPS = 1, 5, 7, 8
P_ALL_SLICES = 5  # slice_type 5: P, and every slice of the picture is P


class Unsupported(Exception):
    """The encoder's stream uses something these skip frames cannot follow; encode every frame."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.data[self.position >> 3]
            value = (value << 1) | ((byte >> (7 - (self.position & 7))) & 1)
            self.position += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bits(1) == 0:
            zeros += 1
            if zeros > 31:
                raise Unsupported("an exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


class _Writer:
    def __init__(self) -> None:
        self.values: list[int] = []

    def bits(self, value: int, count: int) -> None:
        self.values += [(value >> (count - 1 - n)) & 1 for n in range(count)]

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.bits(0, length - 1)
        self.bits(code, length)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        """The bits with rbsp_trailing_bits: a stop bit, then zeros to the byte boundary."""
        bits = [*self.values, 1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[n : n + 8])), 2) for n in range(0, len(bits), 8))


def unescape(payload: bytes) -> bytes:
    """EBSP -> RBSP: drop the emulation prevention byte of every 00 00 03."""
    out, zeros = bytearray(), 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def escape(rbsp: bytes) -> bytes:
    """RBSP -> EBSP: a 03 after any 00 00 that a byte <= 03 would follow."""
    if b"\x00\x00" not in rbsp:
        return rbsp
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def nal_units(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex-B stream (start codes removed)."""
    starts = []
    n = stream.find(b"\x00\x00\x01")
    while n != -1:
        starts.append(n + 3)
        n = stream.find(b"\x00\x00\x01", n + 3)
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(stream)
        units.append(stream[start:end].rstrip(b"\x00"))
    return units


def _sps_head(sps: bytes) -> tuple[_Reader, int, int, int]:
    """An SPS NAL read up to max_num_ref_frames: the reader there, log2_max_frame_num,
    pic_order_cnt_type and log2_max_pic_order_cnt_lsb (0 unless type 0)."""
    r = _Reader(unescape(sps[1:]))
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    if profile in HIGH_PROFILES:
        if r.ue() == 3:  # chroma_format_idc
            r.bits(1)
        r.ue()  # bit depths
        r.ue()
        r.bits(1)
        if r.bits(1):
            raise Unsupported("scaling matrices")
    log2_max_frame_num = r.ue() + 4
    poc_type = r.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = r.ue() + 4
    elif poc_type == 1:
        raise Unsupported("pic_order_cnt_type 1")
    return r, log2_max_frame_num, poc_type, log2_max_poc_lsb


@functools.lru_cache(maxsize=8)
def _sps_with_a_reference(sps: bytes) -> bytes:
    """An SPS NAL that says max_num_ref_frames 0 (x264's, for a stream of IDRs only), saying 1."""
    r = _sps_head(sps)[0]
    start = r.position
    if r.ue() != 0:  # max_num_ref_frames
        return sps
    end = r.position
    bits = [(byte >> (7 - n)) & 1 for byte in r.data for n in range(8)]
    last = max(n for n, bit in enumerate(bits) if bit)  # the rbsp stop bit
    out = _Writer()
    out.values = [*bits[:start], 0, 1, 0, *bits[end:last]]  # ue(1) for ue(0)
    return sps[:1] + escape(out.rbsp())


def with_a_reference(stream: bytes) -> bytes:
    """An encoded picture whose SPS declares the one reference frame that the skip and motion frames
    after it predict from. x264 encoding IDRs only (`keyint=1`) declares none: FFmpeg's decoder
    forgives that, a strict one need not. (Asking x264 for IDRs one by one instead costs ~12 MB.)"""
    units = nal_units(stream)
    if not any(unit[0] & 0x1F == NAL_SPS for unit in units):
        return stream
    fixed = (_sps_with_a_reference(unit) if unit[0] & 0x1F == NAL_SPS else unit for unit in units)
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in fixed)


@dataclass(frozen=True)
class Parameters:
    """What a P slice header needs from the SPS and the PPS."""

    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    macroblocks: int
    pps_id: int
    bottom_field_pic_order: bool
    redundant_pic_cnt: bool
    deblocking_control: bool
    width_mbs: int  # macroblocks per row


def parameters(stream: bytes) -> Parameters:
    """Read the first SPS and PPS of an encoded piece; Unsupported for what skip frames cannot follow."""
    units = nal_units(stream)
    sps = next((u for u in units if u[0] & 0x1F == NAL_SPS), None)
    pps = next((u for u in units if u[0] & 0x1F == NAL_PPS), None)
    if sps is None or pps is None:
        raise Unsupported("the piece has no SPS or PPS")
    r, log2_max_frame_num, poc_type, log2_max_poc_lsb = _sps_head(sps)
    r.ue()  # max_num_ref_frames
    r.bits(1)  # gaps_in_frame_num_value_allowed_flag
    width, height = r.ue() + 1, r.ue() + 1
    if not r.bits(1):
        raise Unsupported("interlaced coding")
    p = _Reader(unescape(pps[1:]))
    pps_id = p.ue()
    p.ue()  # seq_parameter_set_id
    if p.bits(1):
        raise Unsupported("CABAC (encode with cabac=0)")
    bottom_field_pic_order = bool(p.bits(1))
    if p.ue():
        raise Unsupported("slice groups")
    p.ue()  # num_ref_idx_l0_default_active_minus1
    p.ue()
    if p.bits(1) or p.bits(2):
        raise Unsupported("weighted prediction (encode with weightp=0)")
    p.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
    p.se()
    p.se()
    deblocking_control = bool(p.bits(1))
    p.bits(1)  # constrained_intra_pred_flag
    redundant = bool(p.bits(1))
    return Parameters(
        log2_max_frame_num,
        poc_type,
        log2_max_poc_lsb,
        width * height,
        pps_id,
        bottom_field_pic_order,
        redundant,
        deblocking_control,
        width,
    )


def p_slice_header(params: Parameters, index: int) -> _Writer:
    """The header of the `index`-th picture after the IDR (1, 2, ...): one P slice, the previous
    picture its only reference, no deblocking (a copy has no block edges to filter)."""
    w = _Writer()
    w.ue(0)  # first_mb_in_slice
    w.ue(P_ALL_SLICES)
    w.ue(params.pps_id)
    w.bits(index % (1 << params.log2_max_frame_num), params.log2_max_frame_num)  # frame_num
    if params.poc_type == 0:
        w.bits((2 * index) % (1 << params.log2_max_poc_lsb), params.log2_max_poc_lsb)
        if params.bottom_field_pic_order:
            w.se(0)  # delta_pic_order_cnt_bottom
    if params.redundant_pic_cnt:
        w.ue(0)
    w.bits(0, 1)  # num_ref_idx_active_override_flag
    w.bits(0, 1)  # ref_pic_list_modification_flag_l0
    w.bits(0, 1)  # adaptive_ref_pic_marking_mode_flag (sliding window)
    w.se(0)  # slice_qp_delta
    if params.deblocking_control:
        w.ue(1)  # disable_deblocking_filter_idc
    return w


def slice_nal(rbsp: bytes) -> bytes:
    """A reference (nal_ref_idc 2) non-IDR slice NAL unit, with its start code."""
    return b"\x00\x00\x00\x01" + bytes([0x40 | NAL_SLICE]) + escape(rbsp)


def skip_frame(params: Parameters, index: int) -> bytes:
    """The `index`-th frame after the IDR (1, 2, ...) as a P picture that repeats the previous one."""
    w = p_slice_header(params, index)
    w.ue(params.macroblocks)  # mb_skip_run: every macroblock
    return slice_nal(w.rbsp())


class Repeater:
    """The skip frames that follow an IDR of one stream's parameters (built once per index)."""

    def __init__(self, params: Parameters) -> None:
        self.params = params
        self._frames: list[bytes] = [b""]

    def after(self, frames: int) -> bytes:
        """What turns an IDR into `frames` frames of the same picture: frames 1 .. frames-1."""
        while len(self._frames) < frames:
            self._frames.append(skip_frame(self.params, len(self._frames)))
        return b"".join(self._frames[1:frames])


def repeated(idr_piece: bytes, frames: int) -> bytes:
    """A one-frame piece (SPS, PPS, IDR) extended to `frames` frames of the same picture."""
    return idr_piece + Repeater(parameters(idr_piece)).after(frames)
