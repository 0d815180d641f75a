package dev.streamscore.models.explain;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import dev.streamscore.models.onnx.TreeShap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses how a model's scores are explained: TreeSHAP when the graph is one tree ensemble giving
 * the log-odds followed by a sigmoid, with node covers; otherwise occlusion when the descriptor has
 * a baseline row; otherwise none (the model's flagged scores carry no reasons, and a warning says
 * why).
 */
public final class Explainers {

    private static final Logger LOG = LoggerFactory.getLogger(Explainers.class);

    private Explainers() {}

    /**
     * The explainer of {@code artifact}, whose session is {@code model} (used by occlusion, never
     * closed here), or {@code null} when it has none.
     */
    public static Explainer of(ModelArtifact artifact, OnnxModel model) {
        ModelDescriptor d = artifact.descriptor();
        String whyNotTreeShap;
        try {
            TreeShap shap = sharedTreeShap(artifact);
            if (shap != null) {
                return new TreeShapExplainer(shap, d.featureCount());
            }
            whyNotTreeShap = "its graph is not a tree ensemble followed by a sigmoid";
        } catch (RuntimeException e) {
            // A graph TreeSHAP cannot read is no reason to refuse a model ONNX Runtime serves.
            whyNotTreeShap = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        if (d.baseline() != null) {
            LOG.info("Model {} explains flagged scores by occlusion: {}", d.id(), whyNotTreeShap);
            return new OcclusionExplainer(model, d.baseline());
        }
        LOG.warn(
                "Model {} gives no reasons with its flagged scores: TreeSHAP cannot be used ({}),"
                        + " and its descriptor has no 'baseline' row for occlusion",
                d.id(),
                whyNotTreeShap);
        return null;
    }

    /** TreeSHAP instances (immutable but for their buffers) by model file, shared by subtasks. */
    private static final Map<String, TreeShap> SHARED =
            java.util.Collections.synchronizedMap(
                    new LinkedHashMap<>(8, 0.75f, true) {
                        @Override
                        protected boolean removeEldestEntry(Map.Entry<String, TreeShap> eldest) {
                            return size() > 4;
                        }
                    });

    /** {@link #treeShap}, built once per model file (SHA-256) in this JVM, or null. */
    private static TreeShap sharedTreeShap(ModelArtifact artifact) {
        String sha = artifact.descriptor().sha256();
        TreeShap shared = SHARED.get(sha);
        if (shared != null) {
            return shared.copy();
        }
        TreeShap built = treeShap(artifact);
        if (built != null) {
            LOG.info(
                    "Model {} explains flagged scores by TreeSHAP: {} of {} trees by table ({}"
                            + " KiB), the rest by recursion",
                    artifact.descriptor().id(),
                    built.tableTrees(),
                    built.treeCount(),
                    built.tableBytes() / 1024);
            SHARED.put(sha, built);
            return built.copy();
        }
        return null;
    }

    /**
     * TreeSHAP of a graph that is exactly {@code TreeEnsembleRegressor(input) -> Sigmoid ->
     * output}, or {@code null} for another graph.
     *
     * @throws IllegalArgumentException when it is such a graph but cannot be explained (no covers,
     *     more than one target, a split past the model's features)
     */
    static TreeShap treeShap(ModelArtifact artifact) {
        ModelDescriptor d = artifact.descriptor();
        ModelProto proto = OnnxProtos.parse(artifact.onnxBytes(), artifact.location());
        GraphProto graph = proto.getGraph();
        if (graph.getNodeCount() != 2) {
            return null;
        }
        NodeProto trees = graph.getNode(0);
        NodeProto sigmoid = graph.getNode(1);
        if (!TreeEnsemble.isTreeEnsemble(trees)
                || !sigmoid.getOpType().equals("Sigmoid")
                || !OnnxProtos.normalDomain(sigmoid.getDomain()).isEmpty()
                || trees.getInputCount() != 1
                || !trees.getInput(0).equals(d.inputName())
                || sigmoid.getInputCount() != 1
                || trees.getOutputCount() != 1
                || !sigmoid.getInput(0).equals(trees.getOutput(0))
                || sigmoid.getOutputCount() != 1
                || !sigmoid.getOutput(0).equals(d.outputName())) {
            return null;
        }
        TreeEnsemble.Walk walk = TreeEnsemble.of(trees).walk();
        if (walk.featureCount() > d.featureCount()) {
            throw new IllegalArgumentException(
                    "its trees read feature "
                            + (walk.featureCount() - 1)
                            + ", past the descriptor's "
                            + d.featureCount());
        }
        return TreeShap.of(walk);
    }
}
