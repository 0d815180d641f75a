package dev.streamscore.models;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model's descriptor and ONNX bytes, loaded from a location string:
 *
 * <ul>
 *   <li>{@code bundled:gbdt} or {@code bundled:mlp}: a reference model packaged in this jar;
 *   <li>any other string: a folder holding {@code descriptor.json} and the model file it names.
 * </ul>
 *
 * <pre>{@code
 * ModelArtifact artifact = ModelArtifact.load("bundled:gbdt");
 * }</pre>
 */
public record ModelArtifact(String location, ModelDescriptor descriptor, byte[] onnxBytes) {

    /** Prefix of locations that name a model bundled on the classpath. */
    public static final String BUNDLED = "bundled:";

    private static final String CLASSPATH_ROOT = "streamscore/models/";

    public static ModelArtifact load(String location) {
        if (location == null || location.isBlank()) {
            throw new IllegalArgumentException(
                    "model location must be 'bundled:<id>' or a folder, found none");
        }
        return location.startsWith(BUNDLED)
                ? fromClasspath(location, location.substring(BUNDLED.length()))
                : fromFolder(location, Path.of(location));
    }

    private static ModelArtifact fromClasspath(String location, String id) {
        String base = CLASSPATH_ROOT + id + "/";
        byte[] descriptorBytes = resource(base + "descriptor.json");
        if (descriptorBytes == null) {
            throw new IllegalArgumentException(
                    "no bundled model '"
                            + id
                            + "': expected "
                            + base
                            + "descriptor.json on the classpath (bundled models: gbdt, mlp)");
        }
        ModelDescriptor descriptor =
                ModelDescriptor.read(new ByteArrayInputStream(descriptorBytes), location);
        byte[] model = resource(base + descriptor.modelFile());
        if (model == null) {
            throw new IllegalArgumentException(
                    "bundled model '" + id + "' names " + descriptor.modelFile() + ", not found");
        }
        return new ModelArtifact(location, descriptor, model);
    }

    private static ModelArtifact fromFolder(String location, Path folder) {
        Path descriptorPath = folder.resolve("descriptor.json");
        if (!Files.isRegularFile(descriptorPath)) {
            throw new IllegalArgumentException(
                    "model location '"
                            + location
                            + "' must be 'bundled:<id>' or a folder holding descriptor.json; "
                            + descriptorPath.toAbsolutePath()
                            + " does not exist");
        }
        try (InputStream in = Files.newInputStream(descriptorPath)) {
            ModelDescriptor descriptor = ModelDescriptor.read(in, descriptorPath.toString());
            Path modelPath = folder.resolve(descriptor.modelFile());
            if (!Files.isRegularFile(modelPath)) {
                throw new IllegalArgumentException(
                        descriptorPath
                                + " names model file "
                                + modelPath
                                + ", which does not exist");
            }
            return new ModelArtifact(location, descriptor, Files.readAllBytes(modelPath));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model at " + folder, e);
        }
    }

    private static byte[] resource(String path) {
        try (InputStream in = ModelArtifact.class.getClassLoader().getResourceAsStream(path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read classpath resource " + path, e);
        }
    }
}
