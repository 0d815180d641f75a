package dev.streamscore.models.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Reading and building the few ONNX protobuf messages the graph rewriters share: parsing a model,
 * reading float tensors (raw or typed data), building initializers and nodes, finding attributes
 * and opsets, and fresh tensor names.
 *
 * <pre>{@code
 * ModelProto model = OnnxProtos.parse(artifact.onnxBytes(), artifact.location());
 * float[] weights = OnnxProtos.floats(initializer);
 * }</pre>
 */
public final class OnnxProtos {

    /** The domain of the ONNX-ML operators (tree ensembles), as opsets and nodes name it. */
    public static final String ML_DOMAIN = "ai.onnx.ml";

    private OnnxProtos() {}

    /** The model in {@code bytes}; a message naming {@code source} when they are not ONNX. */
    public static ModelProto parse(byte[] bytes, String source) {
        try {
            ModelProto model = ModelProto.parseFrom(bytes);
            if (!model.hasGraph()) {
                throw new IllegalArgumentException(
                        "model " + source + " is not an ONNX model: it has no graph");
            }
            return model;
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(
                    "model " + source + " is not an ONNX model: " + e.getMessage(), e);
        }
    }

    /** Number of elements of a tensor: the product of its dims (1 for a scalar). */
    public static long elementCount(TensorProto tensor) {
        long count = 1;
        for (long dim : tensor.getDimsList()) {
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    /** The values of a FLOAT tensor, from its raw bytes (little-endian) or its float_data. */
    public static float[] floats(TensorProto tensor) {
        if (tensor.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + tensor.getName()
                            + "' must be FLOAT, found "
                            + TensorProto.DataType.forNumber(tensor.getDataType()));
        }
        if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + tensor.getName()
                            + "' keeps its data in an external file, which is not supported");
        }
        int count = Math.toIntExact(elementCount(tensor));
        float[] values = new float[count];
        if (!tensor.getRawData().isEmpty()) {
            ByteBuffer raw = tensor.getRawData().asReadOnlyByteBuffer();
            raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        } else {
            if (tensor.getFloatDataCount() != count) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + tensor.getName()
                                + "' has dims "
                                + tensor.getDimsList()
                                + " but "
                                + tensor.getFloatDataCount()
                                + " float values");
            }
            for (int i = 0; i < count; i++) {
                values[i] = tensor.getFloatData(i);
            }
        }
        return values;
    }

    /** A FLOAT tensor with raw little-endian data. */
    public static TensorProto floatTensor(String name, long[] dims, float[] values) {
        ByteBuffer raw = ByteBuffer.allocate(values.length * Float.BYTES);
        raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values);
        return tensor(name, TensorProto.DataType.FLOAT, dims, ByteString.copyFrom(raw.array()));
    }

    /** A FLOAT16 tensor with raw little-endian data; {@code halves} are IEEE binary16 bits. */
    public static TensorProto float16Tensor(String name, long[] dims, short[] halves) {
        ByteBuffer raw = ByteBuffer.allocate(halves.length * Short.BYTES);
        raw.order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().put(halves);
        return tensor(name, TensorProto.DataType.FLOAT16, dims, ByteString.copyFrom(raw.array()));
    }

    /** An INT8 tensor with raw data. */
    public static TensorProto int8Tensor(String name, long[] dims, byte[] values) {
        return tensor(name, TensorProto.DataType.INT8, dims, ByteString.copyFrom(values));
    }

    private static TensorProto tensor(
            String name, TensorProto.DataType type, long[] dims, ByteString raw) {
        TensorProto.Builder b =
                TensorProto.newBuilder().setName(name).setDataType(type.getNumber());
        for (long dim : dims) {
            b.addDims(dim);
        }
        return b.setRawData(raw).build();
    }

    /** A node of the default domain; {@code attributes} may be empty. */
    public static NodeProto node(
            String opType,
            String name,
            Iterable<String> inputs,
            Iterable<String> outputs,
            AttributeProto... attributes) {
        NodeProto.Builder b =
                NodeProto.newBuilder()
                        .setOpType(opType)
                        .setName(name)
                        .addAllInput(inputs)
                        .addAllOutput(outputs);
        for (AttributeProto a : attributes) {
            b.addAttribute(a);
        }
        return b.build();
    }

    /** An INT attribute. */
    public static AttributeProto intAttribute(String name, long value) {
        return AttributeProto.newBuilder()
                .setName(name)
                .setType(AttributeProto.AttributeType.INT)
                .setI(value)
                .build();
    }

    /** The attribute of {@code node} named {@code name}, if it has one. */
    public static Optional<AttributeProto> attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(a -> a.getName().equals(name)).findFirst();
    }

    /** The INT attribute {@code name} of {@code node}, or {@code orElse} when it has none. */
    public static long intAttribute(NodeProto node, String name, long orElse) {
        return attribute(node, name).map(AttributeProto::getI).orElse(orElse);
    }

    /** The FLOAT attribute {@code name} of {@code node}, or {@code orElse} when it has none. */
    public static float floatAttribute(NodeProto node, String name, float orElse) {
        return attribute(node, name).map(AttributeProto::getF).orElse(orElse);
    }

    /** The STRING attribute {@code name} of {@code node}, or {@code orElse} when it has none. */
    public static String stringAttribute(NodeProto node, String name, String orElse) {
        return attribute(node, name).map(a -> a.getS().toStringUtf8()).orElse(orElse);
    }

    /**
     * The opset version the model imports for {@code domain} ({@code ""} or {@code ai.onnx} for the
     * default one), or -1 when it imports none.
     */
    public static long opsetVersion(ModelProto model, String domain) {
        for (OperatorSetIdProto opset : model.getOpsetImportList()) {
            if (normalDomain(opset.getDomain()).equals(normalDomain(domain))) {
                return opset.getVersion();
            }
        }
        return -1;
    }

    /** {@code ""} for the default domain however it is spelled, else the domain. */
    public static String normalDomain(String domain) {
        return domain.equals("ai.onnx") ? "" : domain;
    }

    /** The operator as inspection lists it: {@code domain:Op}, or just {@code Op} by default. */
    public static String qualifiedOp(NodeProto node) {
        String domain = normalDomain(node.getDomain());
        return domain.isEmpty() ? node.getOpType() : domain + ":" + node.getOpType();
    }

    /**
     * Hands out tensor and node names that no tensor or node of the graph it was made from has, nor
     * any name it handed out before.
     */
    public static final class FreshNames {
        private final Set<String> taken = new HashSet<>();

        public FreshNames(ModelProto model) {
            var g = model.getGraph();
            g.getInputList().forEach(v -> taken.add(v.getName()));
            g.getOutputList().forEach(v -> taken.add(v.getName()));
            g.getValueInfoList().forEach(v -> taken.add(v.getName()));
            g.getInitializerList().forEach(t -> taken.add(t.getName()));
            for (NodeProto n : g.getNodeList()) {
                taken.addAll(n.getInputList());
                taken.addAll(n.getOutputList());
                taken.add(n.getName());
            }
        }

        /** {@code base}, or {@code base_2}, {@code base_3}... the first one not taken. */
        public String of(String base) {
            String name = base;
            for (int i = 2; !taken.add(name); i++) {
                name = base + "_" + i;
            }
            return name;
        }
    }
}
