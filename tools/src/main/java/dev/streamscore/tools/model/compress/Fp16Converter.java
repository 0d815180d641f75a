package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Converts a float network to float16 inside while keeping its float32 interface: every float
 * initializer (and {@code Constant}) becomes FLOAT16 ({@link HalfFloat}, round to nearest even), a
 * {@code Cast(to = FLOAT16)} follows each float graph input and a {@code Cast(to = FLOAT)} precedes
 * each float graph output, and the float {@code value_info} entries, stale now, are dropped (ONNX
 * Runtime infers them again).
 *
 * <p>Only graphs made of {@link #OPERATORS} are converted: operators that take any float type, so
 * that nothing but the casts at the edges needs to change. Tree ensembles are refused: {@code
 * ai.onnx.ml}'s {@code TreeEnsembleRegressor} and {@code TreeEnsembleClassifier} take float or
 * double input only.
 *
 * <pre>{@code
 * Fp16Converter.Result r = Fp16Converter.convert(model);
 * }</pre>
 */
public final class Fp16Converter {

    /** Operators a converted graph may hold: their inputs and outputs share one float type. */
    public static final Set<String> OPERATORS =
            Set.of(
                    "Add",
                    "Sub",
                    "Mul",
                    "Div",
                    "MatMul",
                    "Gemm",
                    "Relu",
                    "LeakyRelu",
                    "Sigmoid",
                    "Tanh",
                    "Softmax",
                    "Identity",
                    "Flatten",
                    "Reshape",
                    "Transpose",
                    "Concat",
                    "Neg",
                    "Abs",
                    "Sqrt",
                    "Exp",
                    "Constant");

    /**
     * The converted model, and how the float values fared: {@code converted} values in all, {@code
     * overflowed} beyond ±65504 (now ±infinity), {@code flushedToZero} nonzero ones now zero,
     * {@code subnormal} ones now below 2^-14 and so carrying fewer than 11 significant bits.
     */
    public record Result(
            ModelProto model,
            long converted,
            long overflowed,
            long flushedToZero,
            long subnormal) {}

    private Fp16Converter() {}

    /**
     * @throws IllegalArgumentException for a graph with an operator not in {@link #OPERATORS}, or
     *     without a MatMul or Gemm (nothing worth halving)
     */
    public static Result convert(ModelProto model) {
        GraphProto graph = model.getGraph();
        Set<String> unsupported = new TreeSet<>();
        boolean matmul = false;
        for (NodeProto n : graph.getNodeList()) {
            if (TreeEnsemble.isTreeEnsemble(n)) {
                throw new IllegalArgumentException(
                        "fp16 does not apply to this model: its "
                                + n.getOpType()
                                + " (ai.onnx.ml) takes float or double input only, there are no"
                                + " float16 trees; use --method prune to make a tree ensemble"
                                + " smaller");
            }
            if (!OnnxProtos.normalDomain(n.getDomain()).isEmpty()
                    || !OPERATORS.contains(n.getOpType())) {
                unsupported.add(OnnxProtos.qualifiedOp(n));
            }
            matmul |= n.getOpType().equals("MatMul") || n.getOpType().equals("Gemm");
        }
        if (!unsupported.isEmpty()) {
            throw new IllegalArgumentException(
                    "fp16 conversion handles graphs of "
                            + new TreeSet<>(OPERATORS)
                            + "; this one also has "
                            + unsupported);
        }
        if (!matmul) {
            throw new IllegalArgumentException(
                    "fp16 does not apply to this model: it has no MatMul or Gemm (its operators: "
                            + Int8Quantizer.operators(graph)
                            + ")");
        }
        Counts counts = new Counts();
        OnnxProtos.FreshNames names = new OnnxProtos.FreshNames(model);
        GraphProto.Builder out = graph.toBuilder().clearNode().clearInitializer().clearValueInfo();
        // An initializer that is also a graph input (IR 3 exports) is a default the caller may
        // override with a float tensor: it keeps its type.
        Set<String> inputs = new HashSet<>();
        graph.getInputList().forEach(i -> inputs.add(i.getName()));
        for (TensorProto t : graph.getInitializerList()) {
            boolean half =
                    t.getDataType() == TensorProto.DataType.FLOAT_VALUE
                            && !inputs.contains(t.getName());
            out.addInitializer(half ? halved(t, counts) : t);
        }
        for (ValueInfoProto v : graph.getValueInfoList()) {
            if (v.getType().getTensorType().getElemType() != TensorProto.DataType.FLOAT_VALUE) {
                out.addValueInfo(v);
            }
        }
        // Inside, each float graph input is read as its fp16 cast; each float graph output is
        // computed under a new name and cast back to float under its own.
        Map<String, String> renamed = new HashMap<>();
        for (ValueInfoProto input : graph.getInputList()) {
            if (isFloat(input)) {
                String half = names.of(input.getName() + "_fp16");
                renamed.put(input.getName(), half);
                out.addNode(cast(input.getName(), half, TensorProto.DataType.FLOAT16, names));
            }
        }
        Map<String, String> outputs = new HashMap<>();
        for (ValueInfoProto output : graph.getOutputList()) {
            if (isFloat(output) && !renamed.containsKey(output.getName())) {
                String half = names.of(output.getName() + "_fp16");
                outputs.put(output.getName(), half);
                renamed.put(output.getName(), half);
            }
        }
        for (NodeProto n : graph.getNodeList()) {
            NodeProto.Builder b = n.toBuilder().clearInput().clearOutput();
            n.getInputList().forEach(i -> b.addInput(renamed.getOrDefault(i, i)));
            n.getOutputList().forEach(o -> b.addOutput(renamed.getOrDefault(o, o)));
            if (n.getOpType().equals("Constant")) {
                b.clearAttribute();
                for (AttributeProto a : n.getAttributeList()) {
                    b.addAttribute(
                            a.hasT() && a.getT().getDataType() == TensorProto.DataType.FLOAT_VALUE
                                    ? a.toBuilder().setT(halved(a.getT(), counts)).build()
                                    : a);
                }
            }
            out.addNode(b);
        }
        outputs.forEach(
                (name, half) -> out.addNode(cast(half, name, TensorProto.DataType.FLOAT, names)));
        return new Result(
                model.toBuilder().setGraph(out).build(),
                counts.converted,
                counts.overflowed,
                counts.flushedToZero,
                counts.subnormal);
    }

    private static boolean isFloat(ValueInfoProto v) {
        return v.getType().getTensorType().getElemType() == TensorProto.DataType.FLOAT_VALUE;
    }

    private static NodeProto cast(
            String from, String to, TensorProto.DataType type, OnnxProtos.FreshNames names) {
        return OnnxProtos.node(
                "Cast",
                names.of(to + "_cast"),
                List.of(from),
                List.of(to),
                OnnxProtos.intAttribute("to", type.getNumber()));
    }

    private static TensorProto halved(TensorProto t, Counts counts) {
        float[] values = OnnxProtos.floats(t);
        short[] halves = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            halves[i] = HalfFloat.fromFloat(values[i]);
            float back = HalfFloat.toFloat(halves[i]);
            counts.converted++;
            if (Float.isInfinite(back) && !Float.isInfinite(values[i])) {
                counts.overflowed++;
            } else if (back == 0f && values[i] != 0f) {
                counts.flushedToZero++;
            } else if (back != 0f && Math.abs(back) < HalfFloat.MIN_NORMAL) {
                counts.subnormal++;
            }
        }
        long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        TensorProto half = OnnxProtos.float16Tensor(t.getName(), dims, halves);
        return t.toBuilder()
                .clearFloatData()
                .setDataType(TensorProto.DataType.FLOAT16_VALUE)
                .setRawData(half.getRawData())
                .build();
    }

    private static final class Counts {
        long converted;
        long overflowed;
        long flushedToZero;
        long subnormal;
    }
}
