"""sw_fallback: the LLVM CPU backend of hwgen (numba). Runs the hardware graph bit-exactly on a CPU, multi-threaded
over the batch; `Accelerator(out, backend="cpu")` loads `sw_fallback.backend.CpuBackend`."""

__all__ = ["CpuBackend"]


def __getattr__(name):
    if name == "CpuBackend":
        from sw_fallback.backend import CpuBackend

        return CpuBackend
    raise AttributeError(name)
