package dev.streamscore.tools.model.compress;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.streamscore.models.ModelArtifact;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model as {@code model inspect} and {@code model compress} read it: the verified {@link
 * ModelArtifact}, its descriptor as JSON with the fields {@code ModelDescriptor} does not keep
 * ({@code training}, {@code provenance}), and its {@code parity-sample.csv}, when it has one.
 *
 * <p>For a folder both come from beside the model; for {@code bundled:<id>} from the classpath
 * ({@code streamscore/models/<id>/}); over HTTP only the descriptor's known fields are available.
 *
 * @param location the location as given
 * @param where the location for provenance: {@code bundled:<id>}, a URL, or a folder's absolute
 *     path
 * @param folder the model's folder, or null when it is not one
 * @param artifact the descriptor and the ONNX bytes, their SHA-256 checked
 * @param descriptorJson the whole descriptor
 * @param paritySample the bytes of {@code parity-sample.csv}, or null
 */
public record SourceModel(
        String location,
        String where,
        Path folder,
        ModelArtifact artifact,
        ObjectNode descriptorJson,
        byte[] paritySample) {

    /** The file beside a model with rows and the probabilities the model gives them. */
    public static final String PARITY_SAMPLE = "parity-sample.csv";

    private static final ObjectMapper JSON = new ObjectMapper();

    public static SourceModel load(String location) {
        ModelArtifact artifact = ModelArtifact.load(location);
        if (location.startsWith(ModelArtifact.BUNDLED)) {
            String base =
                    "streamscore/models/" + location.substring(ModelArtifact.BUNDLED.length());
            byte[] descriptor = resource(base + "/descriptor.json");
            return new SourceModel(
                    location,
                    location,
                    null,
                    artifact,
                    descriptor == null ? known(artifact) : json(descriptor, location),
                    resource(base + "/" + PARITY_SAMPLE));
        }
        if (location.startsWith("http://") || location.startsWith("https://")) {
            return new SourceModel(location, location, null, artifact, known(artifact), null);
        }
        Path folder =
                (location.startsWith("file:") ? Path.of(URI.create(location)) : Path.of(location))
                        .toAbsolutePath()
                        .normalize();
        try {
            Path parity = folder.resolve(PARITY_SAMPLE);
            return new SourceModel(
                    location,
                    folder.toString(),
                    folder,
                    artifact,
                    json(Files.readAllBytes(folder.resolve("descriptor.json")), location),
                    Files.isRegularFile(parity) ? Files.readAllBytes(parity) : null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model folder " + folder, e);
        }
    }

    private static ObjectNode known(ModelArtifact artifact) {
        return JSON.valueToTree(artifact.descriptor());
    }

    private static ObjectNode json(byte[] bytes, String location) {
        try {
            JsonNode node = JSON.readTree(bytes);
            if (!(node instanceof ObjectNode object)) {
                throw new IllegalArgumentException(
                        "descriptor of " + location + " must be a JSON object");
            }
            return object;
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "cannot read descriptor of " + location + ": " + e.getMessage(), e);
        }
    }

    private static byte[] resource(String path) {
        try (InputStream in = SourceModel.class.getClassLoader().getResourceAsStream(path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read classpath resource " + path, e);
        }
    }
}
