package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;

/**
 * Shrinks a boosted tree ensemble by keeping its first trees: later trees of a boosting sequence
 * correct ever smaller residuals, so dropping them costs little quality and saves a walk per tree
 * per row.
 *
 * <ul>
 *   <li>{@link #keepFirstTrees}: the model with the first N trees of its one {@code
 *       TreeEnsembleRegressor} (every {@code nodes_*} and {@code target_*} array filtered by tree;
 *       base values, aggregation and post transform unchanged), the rest of the graph as it is.
 *   <li>{@link #prAucByTreeCount}: the PR-AUC of every N from 1 to all trees, in one pass. Each
 *       row's trees are walked once in Java ({@link TreeEnsemble.Walk}), following ONNX Runtime's
 *       float semantics, and the running margin after each tree gives that row's score for every N;
 *       the scores of each N are then ranked. This beats a binary search with ONNX Runtime, which
 *       would need a model and session per probe and would assume PR-AUC grows with N, which it
 *       need not.
 * </ul>
 *
 * <pre>{@code
 * ModelProto first100 = TreePruner.keepFirstTrees(model, 100);
 * double[] prAuc = TreePruner.prAucByTreeCount(model, rows, fraud); // prAuc[n - 1] for n trees
 * }</pre>
 */
public final class TreePruner {

    private TreePruner() {}

    /**
     * The model keeping the first {@code n} trees of its tree ensemble.
     *
     * @throws IllegalArgumentException when the graph has no single TreeEnsembleRegressor, or
     *     {@code n} is not within 1 to its number of trees
     */
    public static ModelProto keepFirstTrees(ModelProto model, int n) {
        GraphProto graph = model.getGraph();
        int at = ensembleIndex(graph);
        NodeProto pruned = TreeEnsemble.of(graph.getNode(at)).firstTrees(n);
        return model.toBuilder().setGraph(graph.toBuilder().setNode(at, pruned)).build();
    }

    /** The ensemble of the model's one TreeEnsembleRegressor. */
    public static TreeEnsemble ensemble(ModelProto model) {
        return TreeEnsemble.of(model.getGraph().getNode(ensembleIndex(model.getGraph())));
    }

    /**
     * {@code result[n - 1]}: the PR-AUC on {@code rows} of the model keeping its first {@code n}
     * trees, for every n. The scores are the graph's probabilities, computed in Java: the walk's
     * float margin, then the logistic function in float when the ensemble's post transform is
     * LOGISTIC or a Sigmoid follows it. They match ONNX Runtime's to about 1e-7, so a PR-AUC may
     * differ from ONNX Runtime's in a rare tie; callers that gate on it confirm the chosen model
     * with ONNX Runtime.
     *
     * @throws IllegalArgumentException when the graph is more than a TreeEnsembleRegressor of the
     *     graph input, optionally followed by a Sigmoid that gives the graph output
     */
    public static double[] prAucByTreeCount(ModelProto model, float[][] rows, boolean[] fraud) {
        GraphProto graph = model.getGraph();
        TreeEnsemble trees = ensemble(model);
        boolean sigmoid = logisticAfter(graph, trees.node());
        TreeEnsemble.Walk walk = trees.walk();
        int n = walk.treeCount();
        float[][] scores = new float[n][rows.length];
        float[] margins = new float[n];
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length < walk.featureCount()) {
                throw new IllegalArgumentException(
                        "the trees read feature "
                                + (walk.featureCount() - 1)
                                + ", but row "
                                + r
                                + " has "
                                + rows[r].length
                                + " features");
            }
            walk.cumulativeMargins(rows[r], margins);
            for (int t = 0; t < n; t++) {
                scores[t][r] = sigmoid ? logistic(margins[t]) : margins[t];
            }
        }
        double[] prAuc = new double[n];
        for (int t = 0; t < n; t++) {
            prAuc[t] = Metrics.averagePrecision(scores[t], fraud);
            scores[t] = null; // ranked: let it go
        }
        return prAuc;
    }

    static float logistic(float margin) {
        return (float) (1 / (1 + Math.exp(-margin)));
    }

    private static int ensembleIndex(GraphProto graph) {
        int found = -1;
        int ensembles = 0;
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto n = graph.getNode(i);
            if (TreeEnsemble.isTreeEnsemble(n)) {
                ensembles++;
                if (n.getOpType().equals("TreeEnsembleRegressor")) {
                    found = i;
                }
            }
        }
        if (ensembles == 0) {
            throw new IllegalArgumentException(
                    "prune does not apply to this model: it keeps the first trees of a tree"
                            + " ensemble, and this graph has none (its operators: "
                            + Int8Quantizer.operators(graph)
                            + "). Zeroing a network's small weights (unstructured pruning) would"
                            + " not make it faster, since ONNX Runtime's dense MatMul multiplies"
                            + " zeros as fast as any weight; only removing whole hidden units"
                            + " would, and that structured pruning is not implemented. Use"
                            + " --method int8 or fp16 for a network");
        }
        if (ensembles > 1 || found < 0) {
            throw new IllegalArgumentException(
                    "prune handles a graph with one TreeEnsembleRegressor; this one has "
                            + Int8Quantizer.operators(graph));
        }
        return found;
    }

    /**
     * Whether the graph's output is the logistic of the ensemble's margin; refuses graphs whose
     * output this class cannot compute from the margin.
     */
    private static boolean logisticAfter(GraphProto graph, NodeProto ensemble) {
        String transform = OnnxProtos.stringAttribute(ensemble, "post_transform", "NONE");
        boolean logistic = transform.equals("LOGISTIC");
        boolean fromInput =
                graph.getInputCount() >= 1
                        && ensemble.getInput(0).equals(graph.getInput(0).getName());
        String output = graph.getOutputCount() == 1 ? graph.getOutput(0).getName() : null;
        boolean simple = fromInput && (logistic || transform.equals("NONE"));
        if (simple && graph.getNodeCount() == 1 && ensemble.getOutput(0).equals(output)) {
            return logistic;
        }
        if (simple && graph.getNodeCount() == 2 && transform.equals("NONE")) {
            NodeProto next = graph.getNode(graph.getNode(0).equals(ensemble) ? 1 : 0);
            if (next.getOpType().equals("Sigmoid")
                    && OnnxProtos.normalDomain(next.getDomain()).isEmpty()
                    && next.getInput(0).equals(ensemble.getOutput(0))
                    && next.getOutput(0).equals(output)) {
                return true;
            }
        }
        throw new IllegalArgumentException(
                "--target-drop scores the trees in Java and handles a graph of a"
                        + " TreeEnsembleRegressor of the input (post_transform NONE or LOGISTIC),"
                        + " optionally followed by a Sigmoid; this graph has "
                        + Int8Quantizer.operators(graph)
                        + ". Give --trees N instead");
    }
}
