"""TFLite_Detection_PostProcess, the SSD post-processing custom op (TFLM detection_postprocess.cc).

Inputs: box encodings [1, boxes, >=4] (y, x, h, w per anchor), class scores [1, boxes, classes (+1
background)], anchors [boxes, 4] (y, x, h, w), all float32 (TFLM's kernel has no other type). Outputs,
float32: boxes [.., 4] (ymin, xmin, ymax, xmax), classes, scores, and the detection count.

As TFLM does:
* decoding in double, each corner rounded to float32: center = y / y_scale * anchor_h + anchor_y,
  half = 0.5 * exp(h / h_scale) * anchor_h (C's exp);
* single-class NMS: the scores >= the score threshold, sorted by decreasing score with ties in box
  order (TFLM's stable merge sort), taken greedily, each dropping the later candidates whose float32
  IoU with it exceeds the IoU threshold, until max detections; a decoded box with ymin >= ymax or
  xmin >= xmax fails TFLM's invoke (KernelDomainError here);
* regular NMS (use_regular_nms): NMS per class (detections_per_class each), merged with the best so far
  and cut to max_detections by decreasing score, ties to the earlier entry; unused rows are zeros;
* fast NMS: each box's classes ranked (ties to the lower class), NMS on the best class score, then
  max_classes_per_detection classes per selected box written at TFLM's offsets (k * row + col with a
  row counter that also counts columns: for k > 1 TFLM writes past its rows, refused here when it would
  leave the output); rows not written keep their previous contents, as in TFLM.
TFLM's eleven scratch buffers are requested in its order and sizes so the planned head is TFLM's.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import KernelDomainError
from .registry import BindFn, OpContext, register_custom

#: TFLM's default detections_per_class when the options leave it out.
DEFAULT_DETECTIONS_PER_CLASS = 100


def _decreasing_order(values: np.ndarray) -> np.ndarray:
    """Indices by decreasing value, ties in index order (TFLM's stable sort and its partial-sort comparator)."""
    return np.argsort(-values, kind="stable")


class _Options:
    """The flexbuffer options, typed as TFLM's Init reads them (ints as int32, floats as float32)."""

    def __init__(self, ctx: OpContext):
        m = ctx.flexbuffer_options()
        try:
            self.max_detections = int(m["max_detections"])
            self.max_classes_per_detection = int(m["max_classes_per_detection"])
            self.detections_per_class = int(m.get("detections_per_class", DEFAULT_DETECTIONS_PER_CLASS))
            self.use_regular_nms = bool(m.get("use_regular_nms", False))
            self.score_threshold = np.float32(m["nms_score_threshold"])
            self.iou_threshold = np.float32(m["nms_iou_threshold"])
            self.num_classes = int(m["num_classes"])
            self.scales = [float(np.float32(m[k])) for k in ("y_scale", "x_scale", "h_scale", "w_scale")]
        except (KeyError, TypeError, ValueError) as e:
            ctx.fail(f"custom options lack or mistype a field TFLM reads: {type(e).__name__}: {e}")


def _decode(encodings: np.ndarray, anchors: np.ndarray, scales: list[float]) -> np.ndarray:
    """DecodeCenterSizeBoxes: float32 corners from double arithmetic."""
    y, x, h, w = (encodings[:, k].astype(np.float64) for k in range(4))
    ay, ax, ah, aw = (anchors[:, k].astype(np.float64) for k in range(4))
    y_scale, x_scale, h_scale, w_scale = scales
    exp = np.vectorize(math.exp, otypes=[np.float64])  # C's exp, as std::exp(double)
    ycenter = (y / y_scale * ah + ay).astype(np.float32)
    xcenter = (x / x_scale * aw + ax).astype(np.float32)
    half_h = (0.5 * exp(h / h_scale) * ah).astype(np.float32)
    half_w = (0.5 * exp(w / w_scale) * aw).astype(np.float32)
    return np.stack([ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w], axis=1)


def _iou_above(boxes: np.ndarray, i: int, others: np.ndarray, threshold: np.float32) -> np.ndarray:
    """ComputeIntersectionOverUnion(i, j) > threshold for each j in others, in float32 as TFLM."""
    bi, bj = boxes[i], boxes[others]
    area_i = (bi[2] - bi[0]) * (bi[3] - bi[1])
    area_j = (bj[:, 2] - bj[:, 0]) * (bj[:, 3] - bj[:, 1])
    inter_h = np.maximum(np.minimum(bi[2], bj[:, 2]) - np.maximum(bi[0], bj[:, 0]), np.float32(0))
    inter_w = np.maximum(np.minimum(bi[3], bj[:, 3]) - np.maximum(bi[1], bj[:, 1]), np.float32(0))
    inter = inter_h * inter_w
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_i + area_j - inter)
    iou = np.where((area_i <= 0) | (area_j <= 0), np.float32(0), iou)
    return iou > threshold


def _nms_single_class(boxes: np.ndarray, scores: np.ndarray, opts: _Options, max_detections: int) -> list[int]:
    """NonMaxSuppressionSingleClassHelper: the selected box indices, best first."""
    kept = np.flatnonzero(scores >= opts.score_threshold)
    candidates = kept[_decreasing_order(scores[kept])]
    output_size = min(len(candidates), max_detections)
    active = np.ones(len(candidates), bool)
    selected: list[int] = []
    for i in range(len(candidates)):
        if not active.any() or len(selected) >= output_size:
            break
        if not active[i]:
            continue
        selected.append(int(candidates[i]))
        active[i] = False
        later = np.flatnonzero(active[i + 1:]) + i + 1
        if later.size:
            active[later[_iou_above(boxes, candidates[i], candidates[later], opts.iou_threshold)]] = False
    return selected


@register_custom("TFLite_Detection_PostProcess")
def prepare_detection_postprocess(ctx: OpContext) -> BindFn:
    """SSD box decoding and multi-class NMS, float32, regular or fast."""
    opts = _Options(ctx)
    ctx.expect_io(3, 4)
    encodings, class_scores, anchors = ctx.input(0), ctx.input(1), ctx.input(2)
    for t in (encodings, class_scores, anchors, *(ctx.output(i) for i in range(4))):
        ctx.expect_type(t, "FLOAT32")
    ctx.expect_rank(encodings, 3)
    ctx.expect_rank(class_scores, 3)
    ctx.expect_rank(anchors, 2)
    _, boxes, coords = encodings.shape
    if encodings.shape[0] != 1 or coords < 4:
        ctx.fail(f"{encodings.describe()} must be [1, boxes, >= 4]")
    if tuple(class_scores.shape[:2]) != (1, boxes):
        ctx.fail(f"{class_scores.describe()} must be [1, {boxes}, classes]")
    if tuple(anchors.shape) != (boxes, 4):
        ctx.fail(f"{anchors.describe()} must be [{boxes}, 4]")
    with_background = class_scores.shape[2]
    num_classes = opts.num_classes
    label_offset = with_background - num_classes
    if num_classes <= 0 or label_offset not in (0, 1):
        ctx.fail(f"num_classes {num_classes} must be positive and equal the {with_background} score columns, "
                 f"or one less (a background column)")
    if not 0.0 < opts.iou_threshold <= 1.0:
        ctx.fail(f"nms_iou_threshold {opts.iou_threshold} must be in (0, 1] (TFLM fails the invoke)")
    if opts.max_detections < 0:
        ctx.fail(f"max_detections {opts.max_detections} must not be negative (TFLM fails the invoke)")
    if opts.use_regular_nms:
        if opts.detections_per_class <= 0:
            ctx.fail(f"detections_per_class {opts.detections_per_class} must be positive (TFLM fails the invoke)")
        rows, per_row = opts.max_detections, 1
    else:
        if opts.max_classes_per_detection <= 0:
            ctx.fail(f"max_classes_per_detection {opts.max_classes_per_detection} must be positive "
                     f"(TFLM fails the invoke)")
        per_row = min(opts.max_classes_per_detection, num_classes)
        rows = opts.max_detections * per_row
    out_boxes, out_classes, out_scores, out_count = (ctx.output(i) for i in range(4))
    for t, size in ((out_boxes, 4 * rows), (out_classes, rows), (out_scores, rows), (out_count, 1)):
        if t.num_elements < size:
            ctx.fail(f"{t.describe()} has {t.num_elements} elements, the options need {size}")
    if out_boxes.num_elements % 4:
        ctx.fail(f"{out_boxes.describe()} must hold whole boxes of 4 coordinates, has {out_boxes.num_elements} "
                 f"elements")
    max_det = opts.max_detections
    for nbytes in (boxes, boxes * 16, boxes * with_background * 4, boxes * 4, boxes * 4, max_det * boxes * 4,
                   max_det * boxes * 4, boxes * 4, max_det * boxes * 4, max(num_classes, max_det) * boxes * 4,
                   min(boxes, max_det) * boxes * 4):
        ctx.request_scratch(nbytes, like_tflm=True)
    where = ctx.op.describe()

    def run(encoding_values, score_values, anchor_values, box_out, class_out, score_out, count_out) -> None:
        decoded = _decode(encoding_values[0, :, :4], anchor_values, opts.scales)
        if boxes and ((decoded[:, 0] >= decoded[:, 2]) | (decoded[:, 1] >= decoded[:, 3])).any():
            raise KernelDomainError(f"{where}: a decoded box has ymin >= ymax or xmin >= xmax (TFLM's "
                                    f"ValidateBoxes fails the invoke)")
        scores = score_values[0, :, label_offset:]
        if opts.use_regular_nms:
            _regular_nms(decoded, scores, box_out, class_out, score_out, count_out)
        else:
            _fast_nms(decoded, scores, box_out, class_out, score_out, count_out)

    def _regular_nms(decoded, scores, box_out, class_out, score_out, count_out) -> None:
        best: list[tuple[int, int, np.float32]] = []  # (box, class, score), best first
        for col in range(num_classes):
            class_column = scores[:, col]
            picks = _nms_single_class(decoded, class_column, opts, opts.detections_per_class)
            merged = best + [(box, col, class_column[box]) for box in picks]
            order = _decreasing_order(np.array([score for _, _, score in merged], np.float32))
            best = [merged[k] for k in order[:min(len(merged), max_det)]]
        box_out[:max_det] = 0
        class_out[:max_det] = 0
        score_out[:max_det] = 0
        for row, (box, col, score) in enumerate(best):
            box_out[row] = decoded[box]
            class_out[row] = col
            score_out[row] = score
        count_out[0] = len(best)

    def _fast_nms(decoded, scores, box_out, class_out, score_out, count_out) -> None:
        ranked = np.stack([_decreasing_order(row)[:per_row] for row in scores]) if boxes else np.zeros((0, per_row), int)
        best_scores = scores[np.arange(boxes), ranked[:, 0]] if boxes else np.zeros(0, np.float32)
        written = 0
        for box in _nms_single_class(decoded, best_scores, opts, max_det):
            for col in range(per_row):
                offset = per_row * written + col
                if offset >= len(class_out):
                    raise KernelDomainError(f"{where}: TFLM's fast NMS with {per_row} classes per detection "
                                            f"writes detection {offset}, past the output's {len(class_out)}")
                box_out[offset] = decoded[box]
                class_out[offset] = ranked[box, col]
                score_out[offset] = scores[box, ranked[box, col]]
                written += 1
        count_out[0] = written

    def bind(inputs, outputs, scratch):
        views = (inputs[0], inputs[1], inputs[2], outputs[0].reshape(-1, 4), outputs[1].reshape(-1),
                 outputs[2].reshape(-1), outputs[3].reshape(-1))
        return lambda: run(*views)
    return bind
