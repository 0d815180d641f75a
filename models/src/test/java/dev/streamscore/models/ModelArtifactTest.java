package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelArtifactTest {

    private static final Path MLP = Path.of("artifacts", "mlp");

    /** A copy of the bundled MLP in {@code dir}, its descriptor changed by {@code edit}. */
    private static Path copy(Path dir, java.util.function.UnaryOperator<String> edit)
            throws Exception {
        Files.copy(MLP.resolve("model.onnx"), dir.resolve("model.onnx"));
        Files.writeString(
                dir.resolve("descriptor.json"),
                edit.apply(Files.readString(MLP.resolve("descriptor.json"))));
        return dir;
    }

    @Test
    void loadsAModelWhoseFileHasTheDescriptorsSha256() throws Exception {
        ModelArtifact bundled = ModelArtifact.load("bundled:mlp");
        assertThat(ModelArtifact.sha256(bundled.onnxBytes()))
                .isEqualTo(bundled.descriptor().sha256());
        assertThat(ModelArtifact.sha256(Files.readAllBytes(MLP.resolve("model.onnx"))))
                .isEqualTo(bundled.descriptor().sha256());
        assertThat(ModelArtifact.load(MLP.toString()).descriptor()).isEqualTo(bundled.descriptor());
    }

    @Test
    void theCacheIdentityIsNameVersionAndTheHashOfTheFile() {
        ModelDescriptor d = ModelArtifact.load("bundled:mlp").descriptor();
        assertThat(d.identity()).isEqualTo(d.id() + "@" + d.sha256().substring(0, 16));
        assertThat(ModelArtifact.load("bundled:gbdt").descriptor().identity())
                .isNotEqualTo(d.identity());
    }

    @Test
    void refusesAFileThatIsNotTheOneItsDescriptorDescribes(@TempDir Path dir) throws Exception {
        String other = "0".repeat(64);
        Path folder =
                copy(
                        dir,
                        s ->
                                s.replaceFirst(
                                        "\"sha256\": \"[0-9a-f]{64}\"",
                                        "\"sha256\": \"" + other + "\""));
        assertThatThrownBy(() -> ModelArtifact.load(folder.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(
                        "has SHA-256 " + ModelArtifact.load("bundled:mlp").descriptor().sha256())
                .hasMessageContaining("but its descriptor gives " + other);
    }

    @Test
    void refusesADescriptorWithoutAValidSha256(@TempDir Path dir) throws Exception {
        Path missing = Files.createDirectories(dir.resolve("missing"));
        copy(missing, s -> s.replaceFirst("\"sha256\": \"[0-9a-f]{64}\",", ""));
        assertThatThrownBy(() -> ModelArtifact.load(missing.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'sha256' must be set");
        Path malformed = Files.createDirectories(dir.resolve("malformed"));
        copy(malformed, s -> s.replaceFirst("\"sha256\": \"[0-9a-f]{64}\"", "\"sha256\": \"ABC\""));
        assertThatThrownBy(() -> ModelArtifact.load(malformed.toString()))
                .hasMessageContaining("64 hex digits");
    }

    @Test
    void takesTheHashInUpperCaseToo(@TempDir Path dir) throws Exception {
        String hash = ModelArtifact.load("bundled:mlp").descriptor().sha256();
        copy(dir, s -> s.replace(hash, hash.toUpperCase(java.util.Locale.ROOT)));
        assertThat(ModelArtifact.load(dir.toString()).descriptor().sha256()).isEqualTo(hash);
    }

    @Test
    void refusesALinkToAFileOutsideTheModelsFolder(@TempDir Path dir) throws Exception {
        Path folder = Files.createDirectories(dir.resolve("model"));
        Files.copy(MLP.resolve("model.onnx"), dir.resolve("elsewhere.onnx"));
        Files.createSymbolicLink(folder.resolve("model.onnx"), dir.resolve("elsewhere.onnx"));
        Files.writeString(
                folder.resolve("descriptor.json"),
                Files.readString(MLP.resolve("descriptor.json")));
        assertThatThrownBy(() -> ModelArtifact.load(folder.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("which is a link to a file outside the model's folder");
    }

    @Test
    void refusesAModelFileOutsideTheModelsFolder(@TempDir Path dir) throws Exception {
        for (String name :
                new String[] {
                    "../model.onnx", "/etc/passwd", "sub/model.onnx", "..", "C:model.onnx"
                }) {
            Path folder = dir.resolve("m" + Math.abs(name.hashCode()));
            Files.createDirectories(folder);
            copy(
                    folder,
                    s ->
                            s.replace(
                                    "\"model_file\": \"model.onnx\"",
                                    "\"model_file\": \"" + name + "\""));
            assertThatThrownBy(() -> ModelArtifact.load(folder.toString()))
                    .as(name)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("names model_file '" + name + "'")
                    .hasMessageContaining("no folders, no .., not absolute");
        }
    }
}
