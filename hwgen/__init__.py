"""hwgen: compile quantized ONNX networks into FPGA dataflow accelerators."""

__version__ = "0.1.0"
