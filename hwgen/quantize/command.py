"""`hwgen quantize` on the command line (registered by hwgen.cli with add_parser)."""

from __future__ import annotations


def add_parser(sub) -> None:
    q = sub.add_parser("quantize", help="calibrated post-training quantization of a float ONNX model into QONNX "
                                        "that `hwgen build` compiles")
    q.add_argument("model", help="FLOAT.onnx (Gemm / MatMul / Conv + BatchNorm, Relu, MaxPool, Flatten)")
    q.add_argument("--calib", required=True, metavar="X.npy", help="calibration inputs, shape (N, *input shape)")
    q.add_argument("-o", "--out", required=True, metavar="Q.onnx", help="the QONNX model to write (its report "
                   "goes beside it: Q.report.json, Q.report.md)")
    q.add_argument("--weights", default="8", metavar="W", help="weight bits, 1..8 (default 8)")
    q.add_argument("--acts", default="8", metavar="A", help="activation bits, 1..8 (default 8)")
    q.add_argument("--labels", default=None, metavar="Y.npy", help="class indices of the calibration samples: "
                   "prints float and quantized accuracy")
    q.add_argument("--input-dtype", default=None, metavar="TYPE", help="the input quantizer's type (INT8, UINT8, "
                   "FIXED<8,1>, ...; default: from the calibration set)")
    q.add_argument("--accuracy-drop", type=float, default=None, metavar="PT", help="per-layer bits for the fewest "
                   "estimated LUTs within PT points of the float accuracy (needs --labels)")
    q.add_argument("--prune", type=float, default=None, metavar="R", help="remove the fraction R of each layer's "
                   "output channels, then re-calibrate")
    q.add_argument("--prune-rule", default="magnitude", choices=["magnitude", "energy"],
                   help="which channels --prune removes: smallest weight L1 norm, or smallest output energy on the "
                        "calibration set")
    q.add_argument("--board", default=None, help="board of the LUT estimate (default pynq-z2)")
    q.add_argument("--target-fps", type=float, default=None, help="rate the LUT estimate folds for")
    q.add_argument("--weight-method", default="mse", choices=["mse", "percentile", "max"])
    q.add_argument("--act-method", default="mse", choices=["mse", "percentile", "minmax"])
    q.add_argument("--no-bias-correction", action="store_true")
    q.add_argument("--scales", default="pow2", choices=["pow2", "float"],
                   help="pow2 (default): every scale a power of two, so qonnx's float32 arithmetic is exact and the "
                        "build equals qonnx on every input; float: free scales (smaller error; qonnx's float32 sums may "
                        "round across a quantizer step where the hardware's exact ones do not)")
    q.add_argument("--rounding", default="auto", choices=["auto", "nearest", "adaptive"],
                   help="weight rounding: to nearest, or adaptive (layer-wise, minimizing the layer's output error on "
                        "the calibration set); auto: adaptive for weights of 2 bits or fewer")
    q.add_argument("-q", "--quiet", action="store_true")
    q.set_defaults(fn=run)


def run(a) -> int:
    from hwgen.quantize.run import quantize

    quantize(a.model, a.calib, a.out, weights=a.weights, acts=a.acts, labels=a.labels, input_dtype=a.input_dtype,
             accuracy_drop=a.accuracy_drop, prune=a.prune, prune_rule=a.prune_rule, board=a.board,
             target_fps=a.target_fps, weight_method=a.weight_method, act_method=a.act_method,
             bias_correction=not a.no_bias_correction, rounding=a.rounding, scales=a.scales, log=None if a.quiet else print)
    return 0
