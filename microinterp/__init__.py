"""microinterp: run TensorFlow Lite models the way TFLite Micro does, bit for bit, without TensorFlow.

    from microinterp import Interpreter          # the tf.lite.Interpreter API
    interpreter = Interpreter(model_path="model.tflite")
    interpreter.allocate_tensors()
"""
from .errors import (ArenaTooSmallError, InconsistentModelError, InvocationError, MalformedModelError,
                     MicrointerpError, ModelError, ResizeError, ResourceLimitError, SoftmaxOverflowError,
                     TensorAccessError, UnsupportedCallError, UnsupportedOperatorError)
from .interpreter import Interpreter, SignatureRunner
from .model import Model, load_model

__version__ = "0.1.0"
__all__ = [
    "Interpreter", "SignatureRunner", "Model", "load_model", "MicrointerpError", "ModelError",
    "MalformedModelError", "InconsistentModelError", "UnsupportedOperatorError", "ArenaTooSmallError",
    "ResourceLimitError", "InvocationError", "TensorAccessError", "SoftmaxOverflowError", "UnsupportedCallError",
    "ResizeError",
]
