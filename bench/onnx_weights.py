"""Read a BERT-family ONNX model's weights into numpy, for the model experiments of ``bench/answers_rerank.py``.

    python bench/onnx_weights.py MODEL.onnx OUT.npz     # needs the ``onnx`` package (not a Halo dependency)

Writes the weights under Hugging Face's names and layout (``encoder.layer.0.attention.self.query.weight``,
``[out, in]``; a cross-encoder's ``bert.`` prefix dropped), as float32. An int8 model made by ONNX Runtime's
dynamic quantization (``MatMulInteger`` with a per-tensor scale and zero point, embeddings through
``DequantizeLinear``) is dequantized: ``(q - zero_point) * scale``. Each matrix product's weight is named
after the bias added to its output, found by following the graph from the product (the exporter names the
products' weights ``onnx::MatMul_N``, which says nothing of the layer).
"""

import sys
from collections import defaultdict

import numpy as np


def main(source: str, target: str) -> int:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(source).graph
    initial = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def dequantized(base: str) -> np.ndarray:
        quantized = initial[f"{base}_quantized"].astype(np.float32)
        zero, scale = initial[f"{base}_zero_point"].astype(np.float32), initial[f"{base}_scale"].astype(np.float32)
        return ((quantized - zero) * scale).astype(np.float32)

    def bias_after(output: str) -> str:
        frontier, seen = [output], set()
        for _ in range(6):
            following = []
            for name in frontier:
                for node in consumers[name]:
                    if node.op_type == "Add":
                        for other in node.input:
                            if other in initial and other.endswith(".bias"):
                                return other
                    if id(node) not in seen:
                        seen.add(id(node))
                        following.extend(node.output)
            frontier = following
        raise SystemExit(f"no bias follows {output}")

    weights: dict[str, np.ndarray] = {}
    for name, array in initial.items():
        if name.endswith((".bias", "LayerNorm.weight")) and array.dtype == np.float32:
            weights[name] = array.astype(np.float32)
        elif name.endswith(".weight_quantized"):  # embeddings, dequantized as they are stored
            base = name[: -len("_quantized")]
            weights[base] = dequantized(base)
        elif name.endswith(".weight") and array.dtype == np.float32:
            weights[name] = array
    for node in graph.node:
        if node.op_type in ("MatMulInteger", "MatMul"):
            weight = next((name for name in node.input if name in initial), None)
            if weight is None:
                continue  # attention's products: both operands are activations
            matrix = dequantized(weight[: -len("_quantized")]) if node.op_type == "MatMulInteger" else initial[weight]
            bias = bias_after(node.output[0])
            weights[bias[: -len(".bias")] + ".weight"] = np.ascontiguousarray(matrix.T)  # [in, out] -> [out, in]
    renamed = {name.removeprefix("bert."): array for name, array in weights.items()}
    np.savez(target, **renamed)
    for name in sorted(renamed):
        if ".layer." not in name or ".layer.0." in name:
            print(name, renamed[name].shape)
    print(len(renamed), "tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
