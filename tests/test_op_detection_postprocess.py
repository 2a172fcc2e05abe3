"""TFLite_Detection_PostProcess (custom op, flexbuffer options) bit-exact with TFLM: box decoding, regular and
fast NMS, ties in scores, IoU suppression, score threshold, background column, and TFLM's scratch plan."""
from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, KernelDomainError, UnsupportedOperatorError
from opmodels import Op, T, assert_bit_exact, assert_head_matches_tflm, compare_with_tflm, prepare_op, single_op_model

NAME = "TFLite_Detection_PostProcess"


def options(**overrides) -> dict:
    opts = dict(max_detections=5, max_classes_per_detection=1, detections_per_class=4, use_regular_nms=False,
                nms_score_threshold=0.3, nms_iou_threshold=0.5, num_classes=3, y_scale=10.0, x_scale=10.0,
                h_scale=5.0, w_scale=5.0)
    opts.update(overrides)
    return opts


def detection_model(boxes: int, opts: dict, background: bool = True, anchors: np.ndarray | None = None,
                    dtype: str = "FLOAT32") -> bytes:
    classes = opts["num_classes"] + (1 if background else 0)
    rows = opts["max_detections"] * (1 if opts["use_regular_nms"] else min(opts["max_classes_per_detection"],
                                                                           opts["num_classes"]))
    if anchors is None:
        anchors = anchor_grid(boxes)
    op = Op("CUSTOM", custom_code=NAME, custom_options=bytes(flexbuffers.Dumps(opts)))
    inputs = [T(dtype, (1, boxes, 4)), T(dtype, (1, boxes, classes)), T("FLOAT32", (boxes, 4), data=anchors)]
    outputs = [T("FLOAT32", (1, rows, 4)), T("FLOAT32", (1, rows)), T("FLOAT32", (1, rows)), T("FLOAT32", (1,))]
    return single_op_model(op, inputs, outputs)


def anchor_grid(boxes: int) -> np.ndarray:
    """Anchors on a coarse grid, some overlapping heavily (same centre, similar size)."""
    k = np.arange(boxes)
    return np.stack([(k % 4) * 0.25 + 0.1, (k // 4 % 4) * 0.25 + 0.1, 0.2 + 0.05 * (k % 3), 0.2 + 0.05 * (k % 2)],
                    axis=1).astype(np.float32)


def inputs(rng: np.random.Generator, boxes: int, classes: int, ties: bool) -> list[np.ndarray]:
    encodings = rng.normal(0, 1, (1, boxes, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (1, boxes, classes)).astype(np.float32)
    if ties:  # scores on a coarse grid: many equal scores across boxes and classes
        scores = np.round(scores * 4) / 4
    return [encodings, scores.astype(np.float32)]


@pytest.mark.parametrize("regular", [True, False])
@pytest.mark.parametrize("ties", [False, True])
def test_detection_postprocess_matches_tflm(oracle, regular, ties):
    cases = [(24, options(use_regular_nms=regular), True), (40, options(use_regular_nms=regular, num_classes=4,
                                                                          max_detections=10), False),
             (16, options(use_regular_nms=regular, nms_iou_threshold=1.0, nms_score_threshold=0.0), True)]
    for boxes, opts, background in cases:
        model = detection_model(boxes, opts, background)
        classes = opts["num_classes"] + background
        sequence = [inputs(np.random.default_rng(seed), boxes, classes, ties) for seed in range(3)]
        compare_with_tflm(oracle, model, sequence, f"{boxes} boxes {opts} background {background}")


def test_fast_nms_with_two_classes_per_detection_writes_tflm_offsets(oracle):
    # TFLM's fast path writes detection k * row + col with a counter that also counts columns: with one
    # selected box and k = 2 it writes rows 0 and 3 (the other rows keep whatever the arena held).
    opts = options(max_classes_per_detection=2, max_detections=3, nms_score_threshold=0.99)
    model = detection_model(6, opts)
    encodings, scores = inputs(np.random.default_rng(4), 6, 4, False)
    scores[0, :, :] = 0.5
    scores[0, 2, 1:3] = [0.995, 0.999]
    theirs = oracle.run(model, [[encodings, scores]], backend="tflm").outputs[0]
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    interp.set_tensor(0, encodings)
    interp.set_tensor(1, scores)
    interp.invoke()
    ours = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
    for i in range(3):
        assert_bit_exact(ours[i][0, [0, 3]], np.asarray(theirs[i])[0, [0, 3]], f"output {i} rows 0 and 3")
    assert_bit_exact(ours[3], theirs[3], "detection count")


def test_planned_head_with_the_eleven_scratch_buffers_equals_tflm(oracle):
    for opts in (options(), options(use_regular_nms=True, max_detections=7, num_classes=5)):
        assert_head_matches_tflm(oracle, detection_model(30, opts))


def test_degenerate_anchor_raises_where_tflm_fails():
    anchors = anchor_grid(8)
    anchors[3, 2] = 0.0  # zero height: ymin == ymax
    interp = Interpreter(model_content=detection_model(8, options(), anchors=anchors))
    interp.allocate_tensors()
    interp.set_tensor(0, np.zeros((1, 8, 4), np.float32))
    interp.set_tensor(1, np.full((1, 8, 4), 0.5, np.float32))
    with pytest.raises(KernelDomainError, match="ValidateBoxes"):
        interp.invoke()


def test_models_tflm_refuses_are_refused_at_prepare():
    with pytest.raises(InconsistentModelError, match="nms_iou_threshold"):
        prepare_op(detection_model(8, options(nms_iou_threshold=0.0)))
    with pytest.raises(InconsistentModelError, match="num_classes"):
        prepare_op(detection_model(8, options(num_classes=0)))
    with pytest.raises(UnsupportedOperatorError, match=NAME):
        prepare_op(detection_model(8, options(), dtype="INT8"))
    bad = Op("CUSTOM", custom_code=NAME, custom_options=b"\x01\x02")
    with pytest.raises(InconsistentModelError, match="flexbuffer"):
        prepare_op(single_op_model(bad, [T("FLOAT32", (1, 2, 4))], [T("FLOAT32", (1, 2, 4))]))
