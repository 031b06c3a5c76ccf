"""`hwgen quantize`: calibrated post-training quantization of a float ONNX model into QONNX that `hwgen build`
compiles (floatnet: the float chain; calib: scale searches; ptq: layer-by-layer quantization; export: QONNX)."""
