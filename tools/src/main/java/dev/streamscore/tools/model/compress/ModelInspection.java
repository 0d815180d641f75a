package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a model file holds, as {@code streamscore model inspect} prints it: its signature, ONNX
 * versions, operators, size, and the shape of its tree ensembles.
 *
 * <pre>{@code
 * ModelInspection m = ModelInspection.of("bundled:mlp");
 * long weights = m.parameterCount();
 * m.print(out);
 * }</pre>
 *
 * @param location where the model was loaded from
 * @param name descriptor name
 * @param version descriptor version
 * @param sha256 SHA-256 of the ONNX file
 * @param fileBytes size of the ONNX file
 * @param irVersion ONNX IR version
 * @param producer producer name and version, as the file records them
 * @param opsets imported opset versions by domain ({@code ai.onnx} for the default one)
 * @param inputs the graph inputs (initializers that are also inputs excluded)
 * @param outputs the graph outputs
 * @param operators node count per operator ({@code domain:Op} outside the default domain), in order
 *     of first appearance
 * @param parameterCount elements of every initializer and {@code Constant} tensor; trees hold their
 *     own numbers, in {@code treeEnsembles}
 * @param treeEnsembles one summary per tree ensemble node
 * @param provenance the descriptor's {@code provenance} (how a compressed model was made), or null
 */
public record ModelInspection(
        String location,
        String name,
        String version,
        String sha256,
        long fileBytes,
        long irVersion,
        String producer,
        Map<String, Long> opsets,
        List<Signature> inputs,
        List<Signature> outputs,
        Map<String, Integer> operators,
        long parameterCount,
        List<TreeEnsemble.Summary> treeEnsembles,
        JsonNode provenance) {

    /**
     * A graph input or output: its element type ({@code float32}, {@code float16}, ...) and shape,
     * each dimension a number, a symbolic name such as {@code batch}, or {@code ?}.
     */
    public record Signature(String name, String elementType, List<String> shape) {
        @Override
        public String toString() {
            return name + " " + elementType + " [" + String.join(", ", shape) + "]";
        }
    }

    public static ModelInspection of(String location) {
        return of(SourceModel.load(location));
    }

    public static ModelInspection of(SourceModel source) {
        var artifact = source.artifact();
        ModelProto model = OnnxProtos.parse(artifact.onnxBytes(), source.location());
        GraphProto graph = model.getGraph();
        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            String domain = OnnxProtos.normalDomain(o.getDomain());
            opsets.put(domain.isEmpty() ? "ai.onnx" : domain, o.getVersion());
        }
        List<String> initializerNames =
                graph.getInitializerList().stream().map(TensorProto::getName).toList();
        List<Signature> inputs =
                graph.getInputList().stream()
                        .filter(v -> !initializerNames.contains(v.getName()))
                        .map(ModelInspection::signature)
                        .toList();
        List<Signature> outputs =
                graph.getOutputList().stream().map(ModelInspection::signature).toList();
        Map<String, Integer> operators = new LinkedHashMap<>();
        long parameters = 0;
        List<TreeEnsemble.Summary> trees = new ArrayList<>();
        for (NodeProto n : graph.getNodeList()) {
            operators.merge(OnnxProtos.qualifiedOp(n), 1, Integer::sum);
            if (TreeEnsemble.isTreeEnsemble(n)) {
                trees.add(TreeEnsemble.of(n).summary());
            }
            if (n.getOpType().equals("Constant")) {
                for (var a : n.getAttributeList()) {
                    parameters += a.hasT() ? OnnxProtos.elementCount(a.getT()) : 0;
                }
            }
        }
        for (TensorProto t : graph.getInitializerList()) {
            parameters += OnnxProtos.elementCount(t);
        }
        JsonNode provenance = source.descriptorJson().get("provenance");
        String producer = (model.getProducerName() + " " + model.getProducerVersion()).trim();
        return new ModelInspection(
                source.location(),
                artifact.descriptor().name(),
                artifact.descriptor().version(),
                artifact.descriptor().sha256(),
                artifact.onnxBytes().length,
                model.getIrVersion(),
                producer,
                Collections.unmodifiableMap(opsets),
                inputs,
                outputs,
                Collections.unmodifiableMap(operators),
                parameters,
                List.copyOf(trees),
                provenance == null || provenance.isNull() ? null : provenance);
    }

    /** Trees over all of the model's tree ensembles (0 for a network). */
    public int treeCount() {
        return treeEnsembles.stream().mapToInt(TreeEnsemble.Summary::trees).sum();
    }

    /** Prints one aligned {@code key: value} line per fact. */
    public void print(PrintWriter out) {
        line(out, "model", name + " " + version);
        line(out, "location", location);
        line(out, "sha256", sha256);
        line(out, "file", String.format(Locale.ROOT, "%,d bytes", fileBytes));
        line(out, "ir version", Long.toString(irVersion));
        line(out, "producer", producer.isEmpty() ? "(not recorded)" : producer);
        List<String> imports = new ArrayList<>();
        opsets.forEach((domain, v) -> imports.add(domain + ":" + v));
        line(out, "opsets", String.join(", ", imports));
        inputs.forEach(s -> line(out, "input", s.toString()));
        outputs.forEach(s -> line(out, "output", s.toString()));
        List<String> ops = new ArrayList<>();
        operators.forEach((op, count) -> ops.add(op + " x" + count));
        line(out, "operators", String.join(", ", ops));
        line(
                out,
                "parameters",
                String.format(Locale.ROOT, "%,d", parameterCount)
                        + " (initializer and Constant elements"
                        + (treeEnsembles.isEmpty() ? ")" : "; the trees below hold their own)"));
        for (TreeEnsemble.Summary t : treeEnsembles) {
            line(
                    out,
                    "trees",
                    String.format(
                            Locale.ROOT,
                            "%,d (%s), max depth %d, %,d nodes, %,d leaves",
                            t.trees(),
                            t.operator(),
                            t.maxDepth(),
                            t.nodes(),
                            t.leaves()));
        }
        if (provenance == null) {
            line(out, "provenance", "(none: not made by model compress)");
        } else {
            line(
                    out,
                    "provenance",
                    String.format(
                            "%s of %s (%s %s, sha256 %s), %s",
                            provenance.path("method").asText("?"),
                            provenance.path("source_location").asText("?"),
                            provenance.path("source_name").asText("?"),
                            provenance.path("source_version").asText("?"),
                            abbreviated(provenance.path("source_sha256").asText("?")),
                            provenance.path("created_at").asText("?")));
            JsonNode parameters = provenance.path("parameters");
            if (parameters.isObject() && !parameters.isEmpty()) {
                line(out, "parameters of it", parameters.toString());
            }
        }
        out.flush();
    }

    private static String abbreviated(String sha256) {
        return sha256.length() > 16 ? sha256.substring(0, 16) + "..." : sha256;
    }

    private static void line(PrintWriter out, String key, String value) {
        out.printf("%-17s %s%n", key + ":", value);
    }

    private static Signature signature(ValueInfoProto v) {
        var tensor = v.getType().getTensorType();
        TensorProto.DataType type = TensorProto.DataType.forNumber(tensor.getElemType());
        List<String> shape = new ArrayList<>();
        for (TensorShapeProto.Dimension d : tensor.getShape().getDimList()) {
            shape.add(
                    d.hasDimValue()
                            ? Long.toString(d.getDimValue())
                            : d.hasDimParam() && !d.getDimParam().isEmpty()
                                    ? d.getDimParam()
                                    : "?");
        }
        return new Signature(v.getName(), typeName(type), List.copyOf(shape));
    }

    private static String typeName(TensorProto.DataType type) {
        if (type == null) {
            return "unknown";
        }
        return switch (type) {
            case FLOAT -> "float32";
            case DOUBLE -> "float64";
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> type.name().toLowerCase(Locale.ROOT);
        };
    }
}
