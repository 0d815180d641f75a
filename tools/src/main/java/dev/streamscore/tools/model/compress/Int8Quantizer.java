package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.streamscore.models.onnx.OnnxProtos;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Dynamic int8 quantization of a graph's matrix multiplications by constant weights, in the form
 * ONNX Runtime's own quantizer ({@code quantize_dynamic}) writes and its CPU provider fuses into
 * one {@code DynamicQuantizeMatMul} kernel:
 *
 * <pre>
 * MatMul(X, W) -> Y    becomes
 *   DynamicQuantizeLinear(X)             -> Xq (uint8), Xscale, Xzero_point   (per call, per tensor)
 *   MatMulInteger(Xq, Wq, Xzero_point, Wzero_point) -> int32
 *   Cast(to = FLOAT)                     -> float
 *   Mul(Xscale, Wscale)                  -> scale [N]
 *   Mul(float, scale)                    -> Y
 * </pre>
 *
 * The weights {@code W} [K, N] are quantized once, here: int8, symmetric (zero point 0), one scale
 * per output column ({@code max|W[:, j]| / 127}, 1 for an all-zero column), each weight {@code
 * rint(w / scale)} (ties to even) clamped to [-127, 127]; or with one scale for the whole tensor
 * ({@code perTensor}). Every {@code MatMul} whose second input is a 2-D float initializer is
 * rewritten, however many layers the graph has, and every {@code Gemm} with such a {@code B} and
 * {@code transA = 0} ({@code transB = 1} is transposed here; {@code alpha} is folded into the
 * weight scales; {@code C} is added after, times {@code beta} when it is a constant). Everything
 * else (the scaler, biases' {@code Add}, {@code Relu}, {@code Sigmoid}) is left in float.
 *
 * <p>The activation scale comes from the whole batch of each call, so a row's score depends a
 * little on the other rows of its batch.
 *
 * <pre>{@code
 * Int8Quantizer.Result r = Int8Quantizer.quantize(model, false);
 * r.model().toByteArray();
 * }</pre>
 */
public final class Int8Quantizer {

    /** DynamicQuantizeLinear is in the default opset from 11 (MatMulInteger from 10). */
    static final long MIN_OPSET = 11;

    /** One rewritten multiplication: the node, its weight initializer and its [K, N] shape. */
    public record QuantizedMatMul(String operator, String weight, long rows, long columns) {}

    /** The rewritten model and what was quantized. */
    public record Result(ModelProto model, List<QuantizedMatMul> quantized) {}

    private Int8Quantizer() {}

    /**
     * The model with every eligible MatMul and Gemm quantized.
     *
     * @throws IllegalArgumentException when the graph has none to quantize, or imports an opset
     *     below 11
     */
    public static Result quantize(ModelProto model, boolean perTensor) {
        GraphProto graph = model.getGraph();
        Map<String, TensorProto> initializers = new LinkedHashMap<>();
        graph.getInitializerList().forEach(t -> initializers.put(t.getName(), t));
        // An initializer that is also a graph input can be overridden at run time: not constant.
        graph.getInputList().forEach(v -> initializers.remove(v.getName()));
        boolean[] eligible = new boolean[graph.getNodeCount()];
        boolean any = false;
        for (int i = 0; i < eligible.length; i++) {
            eligible[i] = eligible(graph.getNode(i), initializers);
            any |= eligible[i];
        }
        if (!any) {
            throw new IllegalArgumentException(
                    "int8 quantization does not apply to this model: it rewrites MatMul and Gemm"
                            + " nodes whose weights are constant initializers, and this graph has"
                            + " none (its operators: "
                            + operators(graph)
                            + ")");
        }
        long opset = OnnxProtos.opsetVersion(model, "");
        if (opset < MIN_OPSET) {
            throw new IllegalArgumentException(
                    "int8 quantization needs default opset "
                            + MIN_OPSET
                            + " or later (DynamicQuantizeLinear), this model imports "
                            + opset);
        }
        OnnxProtos.FreshNames names = new OnnxProtos.FreshNames(model);
        GraphProto.Builder out = graph.toBuilder().clearNode();
        List<QuantizedMatMul> quantized = new ArrayList<>();
        Map<String, QuantizedWeight> weights = new LinkedHashMap<>(); // shared weights once
        for (int i = 0; i < eligible.length; i++) {
            NodeProto node = graph.getNode(i);
            if (!eligible[i]) {
                out.addNode(node);
                continue;
            }
            boolean gemm = node.getOpType().equals("Gemm");
            boolean transposed = gemm && OnnxProtos.intAttribute(node, "transB", 0) != 0;
            float alpha = gemm ? OnnxProtos.floatAttribute(node, "alpha", 1f) : 1f;
            String weightName = node.getInput(1);
            QuantizedWeight w =
                    weights.computeIfAbsent(
                            weightName + (transposed ? "^T" : "") + "*" + alpha,
                            k ->
                                    QuantizedWeight.of(
                                            initializers.get(weightName),
                                            transposed,
                                            alpha,
                                            perTensor,
                                            names,
                                            out));
            String base = node.getName().isEmpty() ? node.getOutput(0) : node.getName();
            String x = node.getInput(0);
            String xq = names.of(base + "_input_quantized");
            String xScale = names.of(base + "_input_scale");
            String xZero = names.of(base + "_input_zero_point");
            String product = names.of(base + "_int32");
            String productFloat = names.of(base + "_int32_float");
            String scale = names.of(base + "_scale");
            out.addNode(
                    OnnxProtos.node(
                            "DynamicQuantizeLinear",
                            names.of(base + "_quantize_input"),
                            List.of(x),
                            List.of(xq, xScale, xZero)));
            out.addNode(
                    OnnxProtos.node(
                            "MatMulInteger",
                            names.of(base + "_matmul_integer"),
                            List.of(xq, w.values, xZero, w.zeroPoint),
                            List.of(product)));
            out.addNode(
                    OnnxProtos.node(
                            "Cast",
                            names.of(base + "_cast"),
                            List.of(product),
                            List.of(productFloat),
                            OnnxProtos.intAttribute("to", TensorProto.DataType.FLOAT_VALUE)));
            out.addNode(
                    OnnxProtos.node(
                            "Mul",
                            names.of(base + "_scale_product"),
                            List.of(xScale, w.scale),
                            List.of(scale)));
            boolean bias = gemm && node.getInputCount() > 2 && !node.getInput(2).isEmpty();
            String y = node.getOutput(0);
            String scaled = bias ? names.of(base + "_scaled") : y;
            out.addNode(
                    OnnxProtos.node(
                            "Mul",
                            names.of(base + "_rescale"),
                            List.of(productFloat, scale),
                            List.of(scaled)));
            if (bias) {
                out.addNode(
                        OnnxProtos.node(
                                "Add",
                                names.of(base + "_bias"),
                                List.of(scaled, gemmBias(node, initializers, names, out)),
                                List.of(y)));
            }
            quantized.add(new QuantizedMatMul(node.getOpType(), weightName, w.rows, w.columns));
        }
        removeUnused(out);
        return new Result(model.toBuilder().setGraph(out).build(), quantized);
    }

    private static boolean eligible(NodeProto node, Map<String, TensorProto> initializers) {
        if (!OnnxProtos.normalDomain(node.getDomain()).isEmpty() || node.getInputCount() < 2) {
            return false;
        }
        TensorProto b = initializers.get(node.getInput(1));
        boolean constantMatrix =
                b != null
                        && b.getDataType() == TensorProto.DataType.FLOAT_VALUE
                        && b.getDimsCount() == 2;
        return switch (node.getOpType()) {
            case "MatMul" -> constantMatrix;
            case "Gemm" -> {
                float beta = OnnxProtos.floatAttribute(node, "beta", 1f);
                boolean constantOrUnscaledBias =
                        node.getInputCount() < 3
                                || node.getInput(2).isEmpty()
                                || beta == 1f
                                || initializers.containsKey(node.getInput(2));
                yield constantMatrix
                        && OnnxProtos.intAttribute(node, "transA", 0) == 0
                        && constantOrUnscaledBias;
            }
            default -> false;
        };
    }

    /** Gemm's C, times beta: as it is when beta is 1, else a new initializer. */
    private static String gemmBias(
            NodeProto gemm,
            Map<String, TensorProto> initializers,
            OnnxProtos.FreshNames names,
            GraphProto.Builder out) {
        String c = gemm.getInput(2);
        float beta = OnnxProtos.floatAttribute(gemm, "beta", 1f);
        if (beta == 1f) {
            return c;
        }
        TensorProto bias = initializers.get(c);
        float[] values = OnnxProtos.floats(bias);
        for (int i = 0; i < values.length; i++) {
            values[i] *= beta;
        }
        String name = names.of(c + "_times_beta");
        long[] dims = bias.getDimsList().stream().mapToLong(Long::longValue).toArray();
        out.addInitializer(OnnxProtos.floatTensor(name, dims, values));
        return name;
    }

    /** A weight matrix quantized and added to the graph as three initializers. */
    private record QuantizedWeight(
            String values, String scale, String zeroPoint, long rows, long columns) {

        static QuantizedWeight of(
                TensorProto weight,
                boolean transposed,
                float alpha,
                boolean perTensor,
                OnnxProtos.FreshNames names,
                GraphProto.Builder out) {
            float[] w = OnnxProtos.floats(weight);
            int k = Math.toIntExact(weight.getDims(transposed ? 1 : 0));
            int n = Math.toIntExact(weight.getDims(transposed ? 0 : 1));
            if (transposed) { // Gemm's B given as [N, K]: MatMulInteger needs [K, N]
                float[] t = new float[w.length];
                for (int r = 0; r < n; r++) {
                    for (int c = 0; c < k; c++) {
                        t[c * n + r] = w[r * k + c];
                    }
                }
                w = t;
            }
            float[] scales = new float[perTensor ? 1 : n];
            for (int i = 0; i < w.length; i++) {
                int s = perTensor ? 0 : i % n;
                scales[s] = Math.max(scales[s], Math.abs(w[i]));
            }
            for (int s = 0; s < scales.length; s++) {
                scales[s] = scales[s] == 0f ? 1f : scales[s] / 127f;
            }
            byte[] q = new byte[w.length];
            for (int i = 0; i < w.length; i++) {
                double v = Math.rint(w[i] / scales[perTensor ? 0 : i % n]);
                q[i] = (byte) Math.max(-127, Math.min(127, v));
            }
            float[] outputScales = scales.clone();
            for (int s = 0; s < outputScales.length; s++) {
                outputScales[s] *= alpha;
            }
            long[] vector = perTensor ? new long[0] : new long[] {n};
            String base = weight.getName();
            QuantizedWeight qw =
                    new QuantizedWeight(
                            names.of(base + "_quantized"),
                            names.of(base + "_scale"),
                            names.of(base + "_zero_point"),
                            k,
                            n);
            out.addInitializer(OnnxProtos.int8Tensor(qw.values, new long[] {k, n}, q));
            out.addInitializer(OnnxProtos.floatTensor(qw.scale, vector, outputScales));
            out.addInitializer(
                    OnnxProtos.int8Tensor(qw.zeroPoint, vector, new byte[perTensor ? 1 : n]));
            return qw;
        }
    }

    /** Drops initializers no node or graph output uses any more (the float weights replaced). */
    static void removeUnused(GraphProto.Builder graph) {
        Set<String> used = new HashSet<>();
        for (NodeProto n : graph.getNodeList()) {
            used.addAll(n.getInputList());
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG() || a.getGraphsCount() > 0) {
                    return; // a subgraph may use outer initializers: keep them all
                }
            }
        }
        graph.getOutputList().stream().map(ValueInfoProto::getName).forEach(used::add);
        List<TensorProto> kept =
                graph.getInitializerList().stream()
                        .filter(t -> used.contains(t.getName()))
                        .toList();
        graph.clearInitializer().addAllInitializer(kept);
    }

    /** The graph's operators with their counts, for messages. */
    static String operators(GraphProto graph) {
        Map<String, Integer> counts = new TreeMap<>();
        graph.getNodeList().forEach(n -> counts.merge(OnnxProtos.qualifiedOp(n), 1, Integer::sum));
        List<String> parts = new ArrayList<>();
        counts.forEach((op, count) -> parts.add(count == 1 ? op : op + " x" + count));
        return String.join(", ", parts);
    }
}
