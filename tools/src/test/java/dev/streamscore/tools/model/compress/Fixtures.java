package dev.streamscore.tools.model.compress;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OrtException;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.models.onnx.OnnxProtos;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The committed reference models and their parity samples, read from the working tree ({@code
 * models/artifacts/<id>}, beside this module), so that each model and its sample always belong
 * together, whatever streamscore-models jar is on the class path.
 */
final class Fixtures {

    private Fixtures() {}

    /** The committed model folder of {@code id} (gbdt, mlp, deep). */
    static String folder(String id) {
        Path folder = Path.of("..", "models", "artifacts", id).toAbsolutePath().normalize();
        if (!Files.isRegularFile(folder.resolve("descriptor.json"))) {
            throw new IllegalStateException("no committed model at " + folder);
        }
        return folder.toString();
    }

    static ModelProto model(String id) {
        ModelArtifact artifact = ModelArtifact.load(folder(id));
        return OnnxProtos.parse(artifact.onnxBytes(), id);
    }

    /** The 200 held-out rows of a parity sample and scikit-learn's probability of each. */
    record ParitySample(float[][] rows, double[] expected) {}

    static ParitySample paritySample(String id) {
        try {
            List<String> lines =
                    Files.readAllLines(Path.of(folder(id)).resolve(SourceModel.PARITY_SAMPLE));
            float[][] rows = new float[lines.size() - 1][];
            double[] expected = new double[rows.length];
            for (int i = 0; i < rows.length; i++) {
                String[] cells = lines.get(i + 1).split(",");
                rows[i] = new float[cells.length - 1];
                for (int f = 0; f < rows[i].length; f++) {
                    rows[i][f] = Float.parseFloat(cells[f]);
                }
                expected[i] = Double.parseDouble(cells[cells.length - 1]);
            }
            return new ParitySample(rows, expected);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * An in-memory artifact of {@code model} with the descriptor of the committed model {@code id},
     * for scoring a rewritten graph without writing it.
     */
    static ModelArtifact artifact(String id, String label, ModelProto model) {
        ModelDescriptor d = ModelArtifact.load(folder(id)).descriptor();
        byte[] bytes = model.toByteArray();
        return new ModelArtifact(
                "test:" + id + ":" + label,
                new ModelDescriptor(
                        d.name(),
                        d.version() + "-" + label,
                        "model.onnx",
                        ModelArtifact.sha256(bytes),
                        d.inputName(),
                        d.outputName(),
                        d.features(),
                        d.thresholds(),
                        d.baseline(),
                        Map.of()),
                bytes);
    }

    /** ONNX Runtime's scores (CPU, one intra-op thread) of {@code rows} in one batch. */
    static float[] score(ModelArtifact artifact, float[][] rows) throws OrtException {
        try (OnnxModel model = OnnxModel.open(artifact, OnnxOptions.DEFAULT)) {
            return model.score(rows);
        }
    }

    /** As {@link #score(ModelArtifact, float[][])}, each row in a batch of its own. */
    static float[] scoreOneByOne(ModelArtifact artifact, float[][] rows) throws OrtException {
        float[] scores = new float[rows.length];
        try (OnnxModel model = OnnxModel.open(artifact, OnnxOptions.DEFAULT)) {
            for (int i = 0; i < rows.length; i++) {
                scores[i] = model.score(new float[][] {rows[i]})[0];
            }
        }
        return scores;
    }

    static double maxAbsDiff(float[] scores, double[] expected) {
        double max = 0;
        for (int i = 0; i < scores.length; i++) {
            max = Math.max(max, Math.abs(scores[i] - expected[i]));
        }
        return max;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
