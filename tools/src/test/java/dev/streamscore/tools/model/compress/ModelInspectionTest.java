package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.streamscore.models.onnx.OnnxProtos;
import dev.streamscore.models.onnx.TreeEnsemble;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link ModelInspection} reports what the committed models' files hold. */
class ModelInspectionTest {

    private static final ModelInspection.Signature FEATURES =
            new ModelInspection.Signature("features", "float32", List.of("batch", "18"));
    private static final ModelInspection.Signature PROBABILITY =
            new ModelInspection.Signature("probability", "float32", List.of("batch", "1"));

    @Test
    void reportsTheGbdtsTwoHundredTreesAndNoInitializers() throws Exception {
        ModelInspection gbdt = ModelInspection.of(Fixtures.folder("gbdt"));
        NodeProto trees = Fixtures.model("gbdt").getGraph().getNode(0);
        assertThat(gbdt.treeCount()).isEqualTo(200);
        assertThat(gbdt.treeEnsembles())
                .containsExactly(
                        new TreeEnsemble.Summary(
                                "TreeEnsembleRegressor",
                                200,
                                4, // trained with max_depth 4
                                OnnxProtos.attribute(trees, "nodes_treeids")
                                        .orElseThrow()
                                        .getIntsCount(),
                                OnnxProtos.attribute(trees, "target_weights")
                                        .orElseThrow()
                                        .getFloatsCount()));
        assertThat(gbdt.parameterCount()).isZero();
        assertThat(gbdt.operators())
                .containsExactly(
                        Map.entry("ai.onnx.ml:TreeEnsembleRegressor", 1), Map.entry("Sigmoid", 1));
        assertThat(gbdt.opsets())
                .containsExactly(Map.entry("ai.onnx", 13L), Map.entry("ai.onnx.ml", 3L));
        assertThat(gbdt.irVersion()).isEqualTo(8);
        assertThat(gbdt.inputs()).containsExactly(FEATURES);
        assertThat(gbdt.outputs()).containsExactly(PROBABILITY);
        assertThat(gbdt.fileBytes())
                .isEqualTo(Files.size(Path.of(Fixtures.folder("gbdt"), "model.onnx")));
        assertThat(gbdt.name()).isEqualTo("fraud-gbdt");
        assertThat(gbdt.provenance()).isNull();
    }

    @Test
    void countsTheMlpsParametersFromItsInitializers() {
        ModelInspection mlp = ModelInspection.of(Fixtures.folder("mlp"));
        ModelProto model = Fixtures.model("mlp");
        long fromInitializers =
                model.getGraph().getInitializerList().stream()
                        .mapToLong(t -> t.getDimsList().stream().reduce(1L, (a, b) -> a * b))
                        .sum();
        // 18-64-32-1 weights and biases, and the scaler's mean and scale of 18 features each.
        assertThat(fromInitializers).isEqualTo(18 * 64 + 64 + 64 * 32 + 32 + 32 + 1 + 2 * 18);
        assertThat(mlp.parameterCount()).isEqualTo(fromInitializers);
        assertThat(mlp.treeEnsembles()).isEmpty();
        assertThat(mlp.operators())
                .containsExactly(
                        Map.entry("Sub", 1),
                        Map.entry("Div", 1),
                        Map.entry("MatMul", 3),
                        Map.entry("Add", 3),
                        Map.entry("Relu", 2),
                        Map.entry("Sigmoid", 1));
    }

    @Test
    void printsOneAlignedLinePerFact() {
        StringWriter text = new StringWriter();
        ModelInspection.of(Fixtures.folder("gbdt")).print(new PrintWriter(text));
        List<String> lines = text.toString().lines().toList();
        // Every value starts in column 19, after its key, a colon and spaces.
        assertThat(lines).allSatisfy(l -> assertThat(l).matches("[a-z0-9 ]{1,16}: +\\S.*"));
        assertThat(lines).allSatisfy(l -> assertThat(l.substring(0, 18)).endsWith(" "));
        assertThat(lines).allSatisfy(l -> assertThat(l.charAt(18)).isNotEqualTo(' '));
        assertThat(lines)
                .contains(
                        "input:            features float32 [batch, 18]",
                        "opsets:           ai.onnx:13, ai.onnx.ml:3",
                        "operators:        ai.onnx.ml:TreeEnsembleRegressor x1, Sigmoid x1");
        assertThat(lines)
                .anyMatch(
                        l ->
                                l.startsWith(
                                        "trees:            200 (TreeEnsembleRegressor), max depth"
                                                + " 4, "));
    }
}
