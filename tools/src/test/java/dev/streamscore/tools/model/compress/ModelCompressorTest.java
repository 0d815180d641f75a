package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.tools.model.compress.ModelCompressor.Method;
import dev.streamscore.tools.model.compress.ModelCompressor.Report;
import dev.streamscore.tools.model.compress.ModelCompressor.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelCompressor} writes whole model folders that load and score like any model, with a
 * descriptor that says where they came from, and refuses what it must not do.
 */
class ModelCompressorTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path temp;

    private static Request request(String source, Method method, Integer trees, Path out) {
        return new Request(source, method, trees, null, null, false, out, false);
    }

    /** The written folder loads, opens on the CPU and keeps the source's interface. */
    private static JsonNode checkFolder(Path out, String sourceId, String suffix) throws Exception {
        ModelArtifact source = ModelArtifact.load(Fixtures.folder(sourceId));
        ModelArtifact written = ModelArtifact.load(out.toString());
        ModelDescriptor d = written.descriptor();
        ModelDescriptor s = source.descriptor();
        assertThat(d.name()).isEqualTo(s.name());
        assertThat(d.version()).isEqualTo(s.version() + "-" + suffix);
        assertThat(d.features()).isEqualTo(s.features());
        assertThat(d.thresholds()).isEqualTo(s.thresholds());
        assertThat(d.inputName()).isEqualTo(s.inputName());
        assertThat(d.outputName()).isEqualTo(s.outputName());
        assertThat(d.sha256())
                .isEqualTo(ModelArtifact.sha256(Files.readAllBytes(out.resolve("model.onnx"))));
        assertThat(d.quality()).as("the source's quality is not this model's").isEmpty();
        try (OnnxModel model = OnnxModel.open(out.toString(), OnnxOptions.DEFAULT)) {
            assertThat(model.score(Fixtures.paritySample(sourceId).rows())).hasSize(200);
        }
        assertThat(Files.readAllBytes(out.resolve(SourceModel.PARITY_SAMPLE)))
                .isEqualTo(
                        Files.readAllBytes(
                                Path.of(Fixtures.folder(sourceId), SourceModel.PARITY_SAMPLE)));
        JsonNode json = JSON.readTree(out.resolve("descriptor.json").toFile());
        assertThat(json.has("quality")).isFalse();
        assertThat(json.has("training")).isFalse();
        JsonNode p = json.get("provenance");
        assertThat(p.get("tool").asText()).isEqualTo("streamscore model compress");
        assertThat(p.get("source_location").asText()).isEqualTo(Fixtures.folder(sourceId));
        assertThat(p.get("source_name").asText()).isEqualTo(s.name());
        assertThat(p.get("source_version").asText()).isEqualTo(s.version());
        assertThat(p.get("source_sha256").asText()).isEqualTo(s.sha256());
        assertThat(p.get("created_at").asText())
                .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ");
        assertThat(p.get("source_quality").get("pr_auc").asDouble())
                .isEqualTo(((Number) s.quality().get("pr_auc")).doubleValue());
        assertThat(p.has("source_training")).isTrue();
        return p;
    }

    @Test
    void int8WritesAFolderThatLoadsScoresAndNamesItsSource() throws Exception {
        Path out = temp.resolve("mlp-int8");
        Report r =
                ModelCompressor.compress(request(Fixtures.folder("mlp"), Method.INT8, null, out));
        JsonNode p = checkFolder(out, "mlp", "int8");
        assertThat(p.get("method").asText()).isEqualTo("int8");
        assertThat(p.at("/parameters/per_tensor").asBoolean()).isFalse();
        assertThat(p.at("/parameters/quantized")).hasSize(3);
        assertThat(r.runsOnCpu()).isTrue();
        assertThat(r.warnings())
                .satisfiesExactly(
                        w -> assertThat(w).contains("depends a little on the other rows"),
                        w -> assertThat(w).startsWith("the review and decline thresholds"));
        assertThat(r.bytes()).isLessThan(r.sourceBytes() / 2);
    }

    @Test
    void fp16IsWrittenAndSaysOnnxRuntimesCpuProviderRunsItInFloat32() throws Exception {
        Path out = temp.resolve("mlp-fp16");
        Report r =
                ModelCompressor.compress(request(Fixtures.folder("mlp"), Method.FP16, null, out));
        JsonNode p = checkFolder(out, "mlp", "fp16");
        assertThat(p.get("method").asText()).isEqualTo("fp16");
        assertThat(p.at("/parameters/values").asLong()).isEqualTo(3365);
        // Measured with ONNX Runtime 1.28: the CPU provider runs it, converting it back.
        assertThat(r.runsOnCpu()).isTrue();
        assertThat(r.warnings())
                .satisfiesExactly(
                        w -> assertThat(w).startsWith("the review and decline thresholds"),
                        w ->
                                assertThat(w)
                                        .startsWith(
                                                "ONNX Runtime's CPU provider runs this model in"
                                                        + " float32"));
    }

    @Test
    void pruneKeepsTheFirstTreesAndRecordsHowMany() throws Exception {
        Path out = temp.resolve("gbdt-prune100");
        ModelCompressor.compress(request(Fixtures.folder("gbdt"), Method.PRUNE, 100, out));
        JsonNode p = checkFolder(out, "gbdt", "prune100");
        assertThat(p.get("method").asText()).isEqualTo("prune");
        assertThat(p.at("/parameters/trees").asInt()).isEqualTo(100);
        assertThat(p.at("/parameters/source_trees").asInt()).isEqualTo(200);
        assertThat(ModelInspection.of(out.toString()).treeCount()).isEqualTo(100);
    }

    @Test
    void aSecondMethodJoinsTheVersionAndNestsTheFirstProvenance() throws Exception {
        Path pruned = temp.resolve("gbdt-prune100");
        ModelCompressor.compress(request(Fixtures.folder("gbdt"), Method.PRUNE, 100, pruned));
        Path twice = temp.resolve("gbdt-prune100-prune10");
        ModelCompressor.compress(request(pruned.toString(), Method.PRUNE, 10, twice));
        ModelDescriptor d = ModelArtifact.load(twice.toString()).descriptor();
        assertThat(d.version()).endsWith("-prune100.prune10");
        JsonNode p = JSON.readTree(twice.resolve("descriptor.json").toFile()).get("provenance");
        assertThat(p.at("/source_provenance/parameters/trees").asInt()).isEqualTo(100);
        // The first's source quality stays with the first's provenance.
        assertThat(p.has("source_quality")).isFalse();
        assertThat(p.at("/source_provenance/source_quality/pr_auc").isNumber()).isTrue();
    }

    /**
     * A labelled CSV in export-training-data's format: the gbdt's parity rows, labelled fraud where
     * scikit-learn's probability is at least 0.5 (the whole model's own decisions).
     */
    private Path labelledParityRows() throws Exception {
        Fixtures.ParitySample sample = Fixtures.paritySample("gbdt");
        List<String> features = ModelArtifact.load(Fixtures.folder("gbdt")).descriptor().features();
        List<String> lines = new ArrayList<>();
        lines.add(
                "transaction_id,card_id,event_time,fraud_pattern,label,"
                        + String.join(",", features));
        for (int i = 0; i < sample.rows().length; i++) {
            StringBuilder line = new StringBuilder("t" + i + ",c" + i + "," + i + ",none,");
            line.append(sample.expected()[i] >= 0.5 ? 1 : 0);
            for (float v : sample.rows()[i]) {
                line.append(',').append(v);
            }
            lines.add(line.toString());
        }
        Path csv = temp.resolve("labelled.csv");
        Files.write(csv, lines);
        return csv;
    }

    @Test
    void targetDropKeepsTheFewestTreesWithinThePrAucDrop() throws Exception {
        Path csv = labelledParityRows();
        var data = dev.streamscore.tools.model.LabelledSet.read(csv);
        Path out = temp.resolve("gbdt-within");
        double drop = 0.005;
        ModelCompressor.compress(
                new Request(
                        Fixtures.folder("gbdt"), Method.PRUNE, null, drop, csv, false, out, false));
        JsonNode p = JSON.readTree(out.resolve("descriptor.json").toFile()).get("provenance");
        int n = p.at("/parameters/trees").asInt();
        double full = p.at("/parameters/source_pr_auc").asDouble();
        assertThat(full).isEqualTo(1.0); // the labels are the whole model's decisions
        assertThat(n).as("a choice inside the range, or the test proves little").isBetween(2, 199);

        // Independently: ONNX Runtime's PR-AUC of the written model and of one tree fewer.
        float[] chosen = Fixtures.score(ModelArtifact.load(out.toString()), data.rows());
        double chosenPrAuc = Metrics.averagePrecision(chosen, data.fraud());
        assertThat(p.at("/parameters/pr_auc").asDouble()).isEqualTo(chosenPrAuc);
        assertThat(chosenPrAuc).isGreaterThanOrEqualTo(full - drop);
        var gbdt = Fixtures.model("gbdt");
        for (int fewer = 1; fewer < n; fewer++) {
            float[] scores =
                    Fixtures.score(
                            Fixtures.artifact(
                                    "gbdt",
                                    "prune" + fewer,
                                    TreePruner.keepFirstTrees(gbdt, fewer)),
                            data.rows());
            assertThat(Metrics.averagePrecision(scores, data.fraud()))
                    .as("%d trees", fewer)
                    .isLessThan(full - drop);
        }
    }

    @Test
    void refusesANonEmptyFolderUnlessForcedAndNeverTheSourcesOwn() throws Exception {
        Path out = temp.resolve("busy");
        Files.createDirectories(out);
        Files.writeString(out.resolve("notes.txt"), "mine");
        String mlp = Fixtures.folder("mlp");
        assertThatThrownBy(() -> ModelCompressor.compress(request(mlp, Method.INT8, null, out)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "--out "
                                + out
                                + " is not empty; give --force to overwrite its model.onnx,"
                                + " descriptor.json and parity-sample.csv");
        assertThat(Files.list(out)).hasSize(1);
        ModelCompressor.compress(new Request(mlp, Method.INT8, null, null, null, false, out, true));
        assertThat(ModelArtifact.load(out.toString()).descriptor().version()).endsWith("-int8");
        assertThat(Files.readString(out.resolve("notes.txt"))).isEqualTo("mine");
        assertThatThrownBy(
                        () ->
                                ModelCompressor.compress(
                                        new Request(
                                                mlp,
                                                Method.INT8,
                                                null,
                                                null,
                                                null,
                                                false,
                                                Path.of(mlp),
                                                true)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is the source model's own folder");
    }

    @Test
    void refusesMethodsThatDoNotApplyWithoutWritingAnything() {
        Path out = temp.resolve("never");
        assertThatThrownBy(
                        () ->
                                ModelCompressor.compress(
                                        request(Fixtures.folder("gbdt"), Method.INT8, null, out)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("int8 quantization does not apply to this model");
        assertThatThrownBy(
                        () ->
                                ModelCompressor.compress(
                                        request(Fixtures.folder("gbdt"), Method.FP16, null, out)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("fp16 does not apply to this model");
        assertThatThrownBy(
                        () ->
                                ModelCompressor.compress(
                                        request(Fixtures.folder("mlp"), Method.PRUNE, 5, out)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("prune does not apply to this model");
        assertThat(out).doesNotExist();
    }

    @Test
    void refusesArgumentsThatDoNotFitTheMethod() {
        Path out = temp.resolve("x");
        assertThatThrownBy(
                        () ->
                                new Request(
                                        "bundled:gbdt",
                                        Method.PRUNE,
                                        null,
                                        null,
                                        null,
                                        false,
                                        out,
                                        false))
                .hasMessage("--method prune needs exactly one of --trees N and --target-drop X");
        assertThatThrownBy(
                        () ->
                                new Request(
                                        "bundled:mlp",
                                        Method.INT8,
                                        5,
                                        null,
                                        null,
                                        false,
                                        out,
                                        false))
                .hasMessage("--trees, --target-drop and --data are for --method prune, not int8");
        assertThatThrownBy(
                        () ->
                                new Request(
                                        "bundled:gbdt",
                                        Method.PRUNE,
                                        null,
                                        0.01,
                                        null,
                                        false,
                                        out,
                                        false))
                .hasMessageContaining("needs --data");
        assertThatThrownBy(
                        () ->
                                new Request(
                                        "bundled:gbdt",
                                        Method.PRUNE,
                                        5,
                                        null,
                                        null,
                                        true,
                                        out,
                                        false))
                .hasMessage("--per-tensor is for --method int8");
        assertThatThrownBy(() -> Method.parse("int4"))
                .hasMessage("--method must be int8, fp16 or prune, found 'int4'");
    }

    @Test
    void aBundledModelCompressesToAFolderToo() throws Exception {
        Path out = temp.resolve("bundled-mlp-int8");
        ModelCompressor.compress(request("bundled:mlp", Method.INT8, null, out));
        ModelArtifact written = ModelArtifact.load(out.toString());
        assertThat(written.descriptor().version()).endsWith("-int8");
        JsonNode p = JSON.readTree(out.resolve("descriptor.json").toFile()).get("provenance");
        assertThat(p.get("source_location").asText()).isEqualTo("bundled:mlp");
        // The parity sample travels when the models jar bundles one.
        boolean bundled =
                getClass().getClassLoader().getResource("streamscore/models/mlp/parity-sample.csv")
                        != null;
        assertThat(Files.exists(out.resolve(SourceModel.PARITY_SAMPLE))).isEqualTo(bundled);
        try (OnnxModel model = OnnxModel.open(out.toString(), OnnxOptions.DEFAULT)) {
            assertThat(model.score(new float[1][18])).hasSize(1);
        }
    }
}
