"""Dataset evaluation: a model run on every sample of a dataset, as the microcontroller would run it.

Samples are quantized with the model's input parameters (TFLM's QUANTIZE rounding) when they are float
and the input is int8/int16, and go through the same kernels as `Interpreter.invoke`. The work is
spread in chunks over worker processes (each with its own interpreters) or over Ray actors; outputs come
back in sample order. `evaluate` scores the first output against labels (top-1/top-k accuracy for
integer class labels, mean absolute error for float targets) and against a float reference model.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .inputs import dequantize, quantize_input
from .interpreter import Interpreter

#: A model: a path, or the .tflite bytes.
ModelSource = str | os.PathLike | bytes
#: Stacked samples: one array per graph input, axis 0 = sample.
Batch = list[np.ndarray]
#: Called with (samples done, total samples) as chunks finish.
ProgressFn = Callable[[int, int], None]

_MAX_CHUNK = 256


def _content(model: ModelSource) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def _allocated(content: bytes) -> Interpreter:
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    return interp


def _convert(values: np.ndarray, detail: dict[str, Any], data_quantization: tuple[float, int]) -> np.ndarray:
    """Stacked values for one input: floats quantized for a quantized input; integers given to a float
    input (a float reference fed the quantized model's data) dequantized with the data's parameters."""
    dtype = np.dtype(detail["dtype"])
    if values.dtype.kind == "f" and dtype.kind == "f":
        return values.astype(dtype, copy=False)
    if values.dtype.kind in "iu" and dtype.kind == "f":
        return dequantize(values, *data_quantization).astype(dtype, copy=False)
    return quantize_input(values, detail)


class ChunkRunner:
    """The interpreters of one worker: one per model, each run on every sample of a chunk.

    data_quantization: per graph input, the (scale, zero point) integer samples are quantized with
    (the first model's input parameters), used to dequantize them for a float model.
    """

    def __init__(self, contents: Sequence[bytes], data_quantization: Sequence[tuple[float, int]]):
        self.interpreters = [_allocated(content) for content in contents]
        self.data_quantization = list(data_quantization)

    def run(self, batch: Batch) -> list[list[np.ndarray]]:
        """For each model, its outputs on the chunk: one stacked array per graph output."""
        return [self._run_one(interp, batch) for interp in self.interpreters]

    def _run_one(self, interp: Interpreter, batch: Batch) -> list[np.ndarray]:
        inputs, outputs = interp.get_input_details(), interp.get_output_details()
        values = [_convert(b, d, q) for b, d, q in zip(batch, inputs, self.data_quantization)]
        n = len(batch[0])
        results = [np.empty((n, *d["shape"]), d["dtype"]) for d in outputs]
        for j in range(n):
            for d, v in zip(inputs, values):
                interp.set_tensor(d["index"], v[j].reshape(d["shape"]))
            interp.invoke()
            for d, r in zip(outputs, results):
                r[j] = interp.get_tensor(d["index"])
        return results


# -- execution: in process, worker processes, Ray ------------------------------------------------------

_WORKER_RUNNER: ChunkRunner | None = None


def _start_worker(contents: Sequence[bytes], data_quantization: Sequence[tuple[float, int]]) -> None:
    global _WORKER_RUNNER
    _WORKER_RUNNER = ChunkRunner(contents, data_quantization)


def _run_in_worker(batch: Batch) -> list[list[np.ndarray]]:
    assert _WORKER_RUNNER is not None, "worker used before its initializer ran"
    return _WORKER_RUNNER.run(batch)


def _process_chunks(contents: Sequence[bytes], quantization: Sequence[tuple[float, int]], chunks: Iterable[Batch],
                    workers: int) -> Iterator[list[list[np.ndarray]]]:
    if workers == 1:  # no process to start, nothing to pickle
        runner = ChunkRunner(contents, quantization)
        yield from map(runner.run, chunks)
        return
    with multiprocessing.get_context().Pool(workers, _start_worker, (contents, quantization)) as pool:
        yield from pool.imap(_run_in_worker, chunks)


def _ray_chunks(contents: Sequence[bytes], quantization: Sequence[tuple[float, int]], chunks: Iterable[Batch],
                workers: int | None, address: str) -> Iterator[list[list[np.ndarray]]]:
    """Chunks run by Ray actors (one ChunkRunner each), in order. address "local" starts a local Ray
    instance for this run; otherwise an existing cluster ("auto", "ray://host:10001", ...) is joined,
    unless this process is already connected to one."""
    import ray
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:
        local = address == "local"
        ray.init(address=None if local else address, num_cpus=workers if local else None,
                 include_dashboard=False, log_to_driver=False)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(ChunkRunner)
        # The model bytes go to the object store once, not once per actor.
        shared = ray.put(list(contents))
        pool = ActorPool([actor.remote(shared, quantization) for _ in range(count)])
        yield from pool.map(lambda a, batch: a.run.remote(batch), chunks)
    finally:
        if started:
            ray.shutdown()


def run_chunks(models: Sequence[ModelSource], batches: Iterable[Batch], *, workers: int | None = None,
               ray_address: str | None = None,
               data_quantization: Sequence[tuple[float, int]] | None = None) -> Iterator[list[list[np.ndarray]]]:
    """Run every model on each batch of stacked samples; yields, per batch and in order, each model's
    stacked outputs. workers: processes (default: every core; 1 runs in this process) or, with
    ray_address, Ray actors (default: one per CPU of the cluster). data_quantization: see ChunkRunner
    (default: the first model's input parameters)."""
    contents = [_content(m) for m in models]
    if data_quantization is None:
        data_quantization = [d["quantization"] for d in _allocated(contents[0]).get_input_details()]
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if ray_address is not None:
        return _ray_chunks(contents, data_quantization, batches, workers, ray_address)
    return _process_chunks(contents, data_quantization, batches, workers or os.cpu_count() or 1)


# -- samples ----------------------------------------------------------------------------------------

def _sample_shape(detail: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in detail["shape"])


def _check_samples(arrays: Sequence[np.ndarray], details: Sequence[dict[str, Any]]) -> int:
    """The number of samples; every array must hold that many, each with the input's shape (or the
    input's shape without its leading batch dimension of 1)."""
    if len(arrays) != len(details):
        raise ValueError(f"the model takes {len(details)} inputs, the data has {len(arrays)}")
    counts = {len(a) for a in arrays}
    if len(counts) != 1:
        raise ValueError(f"every input needs the same number of samples (axis 0), found {sorted(counts)}")
    for k, (a, d) in enumerate(zip(arrays, details)):
        shape = _sample_shape(d)
        accepted = {shape} | ({shape[1:]} if shape and shape[0] == 1 else set())
        if a.shape[1:] not in accepted:
            raise ValueError(f"input {k} '{d['name']}' takes samples of shape {list(shape)}, the data's are "
                             f"{list(a.shape[1:])}")
        if a.dtype.kind not in "fiu" and a.dtype != np.bool_:
            raise ValueError(f"input {k} '{d['name']}': samples of dtype {a.dtype} cannot be fed to it")
    return counts.pop()


def dataset_inputs(data: Mapping[str, np.ndarray], details: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """The stacked samples for each graph input (tf.lite input details), from arrays keyed by input
    tensor name or by `input_0`, `input_1`, ... (axis 0 = sample)."""
    arrays = []
    for k, d in enumerate(details):
        key = d["name"] if d["name"] in data else f"input_{k}"
        if key not in data:
            raise ValueError(f"the data has no array for input {k} '{d['name']}' (keyed by that name or "
                             f"'input_{k}'; found {', '.join(sorted(data)) or 'none'})")
        arrays.append(np.asarray(data[key]))
    _check_samples(arrays, details)
    return arrays


def _chunks(arrays: Sequence[np.ndarray], size: int) -> Iterator[Batch]:
    for start in range(0, len(arrays[0]), size):
        yield [a[start:start + size] for a in arrays]


def chunk_size(samples: int, workers: int) -> int:
    """Samples per chunk: about four chunks per worker (to even out the load), at most _MAX_CHUNK."""
    return max(1, min(_MAX_CHUNK, -(-samples // (4 * workers))))


def iter_outputs(model: ModelSource, samples: Iterable[Sequence[np.ndarray] | np.ndarray], *,
                 workers: int | None = 1, ray_address: str | None = None,
                 chunk: int = 64) -> Iterator[list[np.ndarray]]:
    """The model's outputs (one array per graph output, as get_tensor returns them) for each sample of
    an iterable, in order. A sample is one array per graph input (a bare array for a single-input model),
    with the input's shape or without its leading batch dimension of 1; float samples for a quantized
    input are quantized with its parameters. Samples are read `chunk` at a time, so the iterable may be
    a generator over a dataset larger than memory. workers / ray_address: as run_chunks (default: this
    process)."""
    content = _content(model)
    details = _allocated(content).get_input_details()

    def batches() -> Iterator[Batch]:
        pending: list[list[np.ndarray]] = []
        for sample in samples:
            pending.append([sample] if isinstance(sample, np.ndarray) else list(sample))
            if len(pending) == chunk:
                yield _stacked(pending, details)
                pending = []
        if pending:
            yield _stacked(pending, details)

    for (outputs,) in run_chunks([content], batches(), workers=workers, ray_address=ray_address):
        for j in range(len(outputs[0])):
            yield [o[j] for o in outputs]


def _stacked(samples: list[list[np.ndarray]], details: Sequence[dict[str, Any]]) -> Batch:
    arrays = [np.stack([np.asarray(s[k]) for s in samples]) for k in range(len(samples[0]))]
    _check_samples(arrays, details)
    return arrays


# -- scores -----------------------------------------------------------------------------------------

@dataclass
class EvalReport:
    """What `evaluate` measured. Scores use the first graph output, dequantized, one row per sample.

    top1/topk: fraction of samples whose integer label is the largest score / among the top_k scores;
    mean_abs_error: mean |output - label| for float labels. reference_*: against the float reference
    model's first output on the same samples (its inputs dequantized when the data is integer):
    the fraction with the same largest score (outputs of more than one value), the mean |output -
    reference output|, and the reference's own top-1 accuracy or mean absolute error.
    """
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("samples_per_second",)
    model: str
    samples: int
    #: "processes" (workers processes; 1: this process) or "ray" (workers actors; 0: one per cluster CPU).
    runner: str
    workers: int
    seconds: float
    labels: str
    top_k: int
    top1: float | None = None
    topk: float | None = None
    mean_abs_error: float | None = None
    reference: str | None = None
    reference_top1_agreement: float | None = None
    reference_mean_abs_diff: float | None = None
    reference_top1: float | None = None
    reference_mean_abs_error: float | None = None

    @property
    def samples_per_second(self) -> float:
        """Throughput of the whole run (model and reference)."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def _scores(outputs: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    real = dequantize(outputs, *detail["quantization"])
    return np.asarray(real, np.float64).reshape(len(outputs), -1)


def _label_kind(labels: np.ndarray | None, samples: int) -> str:
    if labels is None:
        return "none"
    if len(labels) != samples:
        raise ValueError(f"{len(labels)} labels for {samples} samples")
    if labels.dtype.kind in "iu":
        if labels.ndim != 1:
            raise ValueError(f"class labels must have shape (N,), found {list(labels.shape)}")
        return "classes"
    if labels.dtype.kind == "f":
        return "targets"
    raise ValueError(f"labels of dtype {labels.dtype}: expected integer classes or float targets")


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the k largest scores (ties: the lower index first)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(order == labels[:, None], axis=1)))


def evaluate(model: ModelSource, data: Mapping[str, np.ndarray], labels: np.ndarray | None = None, *,
             reference: ModelSource | None = None, top_k: int = 5, workers: int | None = None,
             ray_address: str | None = None, progress: ProgressFn | None = None,
             name: str | None = None) -> EvalReport:
    """Run the model (and the reference, if given) on every sample of `data` (see dataset_inputs) and
    score it (see EvalReport). workers / ray_address: as run_chunks; progress is called as chunks
    finish."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    content = _content(model)
    interp = _allocated(content)
    arrays = dataset_inputs(data, interp.get_input_details())
    samples = len(arrays[0])
    labels = None if labels is None else np.asarray(labels)
    kind = _label_kind(labels, samples)
    models = [content] if reference is None else [content, _content(reference)]
    if reference is not None:
        _check_reference(interp, _allocated(models[1]))
    if ray_address is None:
        workers = workers or os.cpu_count() or 1
    size = chunk_size(samples, workers or 4)  # Ray without a count: one actor per CPU, sized for a few
    start = time.perf_counter()
    gathered: list[list[np.ndarray]] = [[] for _ in models]
    done = 0
    for per_model in run_chunks(models, _chunks(arrays, size), workers=workers, ray_address=ray_address):
        for store, outputs in zip(gathered, per_model):
            store.append(outputs[0])
        done += len(per_model[0][0])
        if progress is not None:
            progress(done, samples)
    seconds = time.perf_counter() - start
    scores = _scores(np.concatenate(gathered[0]), interp.get_output_details()[0])
    report = EvalReport(name or _name(model), samples, "ray" if ray_address is not None else "processes",
                        workers or 0, seconds, kind, top_k)
    if kind == "classes":
        report.top1 = top_k_accuracy(scores, labels, 1)
        report.topk = top_k_accuracy(scores, labels, top_k)
    elif kind == "targets":
        targets = labels.reshape(samples, -1).astype(np.float64)
        if targets.shape != scores.shape:
            raise ValueError(f"float labels hold {targets.shape[1]} values per sample, the first output "
                             f"{scores.shape[1]}")
        report.mean_abs_error = float(np.mean(np.abs(scores - targets)))
    if reference is not None:
        theirs = np.concatenate(gathered[1]).astype(np.float64).reshape(samples, -1)
        report.reference = _name(reference)
        if scores.shape[1] > 1:
            report.reference_top1_agreement = float(np.mean(scores.argmax(1) == theirs.argmax(1)))
        report.reference_mean_abs_diff = float(np.mean(np.abs(scores - theirs)))
        if kind == "classes":
            report.reference_top1 = top_k_accuracy(theirs, labels, 1)
        elif kind == "targets":
            report.reference_mean_abs_error = float(np.mean(np.abs(theirs - targets)))
    return report


def _name(model: ModelSource) -> str:
    return "<model bytes>" if isinstance(model, (bytes, bytearray, memoryview)) else os.fspath(model)


def _check_reference(interp: Interpreter, reference: Interpreter) -> None:
    ours, theirs = interp.get_output_details(), reference.get_output_details()
    if len(interp.get_input_details()) != len(reference.get_input_details()):
        raise ValueError(f"the reference model takes {len(reference.get_input_details())} inputs, the model "
                         f"{len(interp.get_input_details())}")
    if int(np.prod(ours[0]["shape"])) != int(np.prod(theirs[0]["shape"])):
        raise ValueError(f"the reference model's first output has shape {list(theirs[0]['shape'])}, the "
                         f"model's {list(ours[0]['shape'])}")
