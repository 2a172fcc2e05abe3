"""Fuzzing microinterp with untrusted .tflite bytes: mutators, a crash-isolating worker, long runs, atheris."""
