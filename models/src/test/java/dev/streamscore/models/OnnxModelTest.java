package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {

    @Test
    void handlesOfTheSameModelShareOneSessionUntilTheLastCloses() throws Exception {
        assertThat(OnnxModel.openSessions()).isZero();
        OnnxModel a = OnnxModel.open("bundled:mlp", OnnxOptions.DEFAULT);
        OnnxModel b = OnnxModel.open("bundled:mlp", OnnxOptions.DEFAULT);
        assertThat(OnnxModel.openSessions()).isEqualTo(1);
        a.close();
        a.close(); // idempotent: must not release b's reference
        assertThat(OnnxModel.openSessions()).isEqualTo(1);
        assertThat(b.score(new float[][] {new float[b.featureCount()]})).hasSize(1);
        b.close();
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void manyOpenCloseCyclesLeaveNothingOpen() throws Exception {
        for (int i = 0; i < 50; i++) {
            try (OnnxModel m = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT)) {
                m.score(new float[][] {new float[m.featureCount()]});
            }
        }
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void anUnknownBundledModelIsAClearError() {
        assertThatThrownBy(() -> OnnxModel.open("bundled:nope", OnnxOptions.DEFAULT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no bundled model 'nope'")
                .hasMessageContaining("gbdt, mlp, deep");
    }

    @Test
    void aFolderWithoutDescriptorIsAClearError(@TempDir Path dir) {
        assertThatThrownBy(() -> OnnxModel.open(dir.toString(), OnnxOptions.DEFAULT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("descriptor.json")
                .hasMessageContaining("does not exist");
    }

    @Test
    void aDescriptorNamingTheWrongInputIsRejectedAtOpen(@TempDir Path dir) throws Exception {
        Path source = Path.of("artifacts", "mlp");
        Files.copy(source.resolve("model.onnx"), dir.resolve("model.onnx"));
        Files.writeString(
                dir.resolve("descriptor.json"),
                Files.readString(source.resolve("descriptor.json"))
                        .replace("\"input_name\": \"features\"", "\"input_name\": \"inputs\""));
        assertThatThrownBy(() -> OnnxModel.open(dir.toString(), OnnxOptions.DEFAULT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has no input named 'inputs'");
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @Test
    void thresholdsOutOfOrderAreRejected() {
        assertThatThrownBy(() -> new ModelDescriptor.Thresholds(0.9, 0.5))
                .hasMessage(
                        "thresholds must satisfy 0 <= review <= decline <= 1, found review=0.9"
                                + " decline=0.5");
    }
}
