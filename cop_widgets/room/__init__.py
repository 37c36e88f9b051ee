"""The training day: ``mode`` (`cop serve --room`: the room's address, join links, QR codes,
HTTPS files, kernels started ahead), ``load`` (a served room measured: its server, kernels,
CPU and memory, shared with the benchmarks) and ``rehearse`` (`cop rehearse`)."""
