"""Inference: runtimes (PyTorch, ONNX Runtime) behind one interface, and the top-down Predictor."""
