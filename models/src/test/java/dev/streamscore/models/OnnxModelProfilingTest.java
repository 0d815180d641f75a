package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link OnnxOptions#profilePrefix()}: ONNX Runtime's per-node profile, written at close. */
class OnnxModelProfilingTest {

    private static final int ROWS = 16;

    /** The prefix's folder does not exist yet: ONNX Runtime alone would silently write nothing. */
    @Test
    void closingAProfiledSessionWritesNodeEventsToAFileNamedByThePrefix(@TempDir Path dir)
            throws Exception {
        String prefix = dir.resolve("profiles").resolve("ort-gbdt").toString();
        CapturedLog log = CapturedLog.of(OnnxModel.class);
        try (log;
                OnnxModel model =
                        OnnxModel.open(
                                "bundled:gbdt", OnnxOptions.DEFAULT.withProfilePrefix(prefix))) {
            float[] scores = model.score(PaddingTest.randomRows(ROWS, model.featureCount(), 3));
            assertThat(scores).hasSize(ROWS);
            // ONNX Runtime creates the file with the session and fills it when profiling ends.
            for (Path open : profiles(dir.resolve("profiles"))) {
                assertThat(open).as("profile before the session closes").isEmptyFile();
            }
        }

        List<Path> written = profiles(dir.resolve("profiles"));
        assertThat(written).hasSize(1);
        assertThat(written.get(0).getFileName().toString())
                .startsWith("ort-gbdt_")
                .endsWith(".json");
        String json = Files.readString(written.get(0));
        assertThat(json).contains("\"cat\" : \"Node\"").contains("\"name\"");
        assertThat(log.at(Level.INFO))
                .filteredOn(l -> l.contains("profile"))
                .singleElement()
                .asString()
                .contains("fraud-gbdt:2.0.0")
                .endsWith(written.get(0).toString());
    }

    @Test
    void aProfiledSessionIsNotSharedWithAnUnprofiledOne(@TempDir Path dir) throws Exception {
        int before = OnnxModel.openSessions();
        try (OnnxModel plain = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT);
                OnnxModel profiled =
                        OnnxModel.open(
                                "bundled:gbdt",
                                OnnxOptions.DEFAULT.withProfilePrefix(
                                        dir.resolve("ort").toString()))) {
            assertThat(OnnxModel.openSessions()).isEqualTo(before + 2);
            assertThat(plain.options().profilePrefix()).isNull();
            assertThat(profiled.options().profilePrefix()).isEqualTo(dir.resolve("ort").toString());
        }
        assertThat(OnnxModel.openSessions()).isEqualTo(before);
    }

    @Test
    void aBlankPrefixProfilesNothing() {
        assertThat(OnnxOptions.DEFAULT.withProfilePrefix(" ")).isEqualTo(OnnxOptions.DEFAULT);
        assertThat(OnnxOptions.DEFAULT.withProfilePrefix("p").withProfilePrefix(null))
                .isEqualTo(OnnxOptions.DEFAULT);
    }

    private static List<Path> profiles(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.sorted().toList();
        }
    }
}
