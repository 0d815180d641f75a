package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Scoring through ONNX Runtime from Java reproduces the training framework's probabilities: each
 * model's committed parity sample holds held-out feature vectors and scikit-learn's probability for
 * each, and the bundled ONNX model must agree within 1e-5 on every row.
 */
class ModelParityTest {

    @ParameterizedTest
    @ValueSource(strings = {"gbdt", "mlp", "deep"})
    void onnxRuntimeReproducesTheTrainingFrameworksProbabilities(String id) throws Exception {
        List<String> lines = Files.readAllLines(Path.of("artifacts", id, "parity-sample.csv"));
        List<String> header = Arrays.asList(lines.get(0).split(","));
        assertThat(header.get(header.size() - 1)).isEqualTo("expected_probability");

        try (OnnxModel model = OnnxModel.open(ModelArtifact.BUNDLED + id, OnnxOptions.DEFAULT)) {
            assertThat(header.subList(0, header.size() - 1))
                    .isEqualTo(model.descriptor().features());
            int n = lines.size() - 1;
            assertThat(n).isGreaterThanOrEqualTo(100);
            float[][] rows = new float[n][];
            double[] expected = new double[n];
            for (int i = 0; i < n; i++) {
                String[] cells = lines.get(i + 1).split(",");
                rows[i] = new float[cells.length - 1];
                for (int c = 0; c < cells.length - 1; c++) {
                    rows[i][c] = Float.parseFloat(cells[c]);
                }
                expected[i] = Double.parseDouble(cells[cells.length - 1]);
            }
            float[] batched = model.score(rows);
            for (int i = 0; i < n; i++) {
                assertThat((double) batched[i])
                        .as("row %s, batched", i)
                        .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5));
                float[] single = model.score(new float[][] {rows[i]});
                assertThat((double) single[0])
                        .as("row %s, alone", i)
                        .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5));
            }
            // The sample must exercise the model: both confident frauds and clear legitimate rows.
            assertThat(Arrays.stream(expected).max().getAsDouble()).isGreaterThan(0.9);
            assertThat(Arrays.stream(expected).min().getAsDouble()).isLessThan(0.01);
        }
        assertThat(OnnxModel.openSessions()).isZero();
    }
}
