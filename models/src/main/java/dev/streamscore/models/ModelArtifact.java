package dev.streamscore.models;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * A model's descriptor and ONNX bytes, loaded from a location string:
 *
 * <ul>
 *   <li>{@code bundled:gbdt}, {@code bundled:mlp} or {@code bundled:deep}: a reference model
 *       packaged in this jar;
 *   <li>{@code http://} or {@code https://}: the URL of a folder served over HTTP, from which
 *       {@code descriptor.json} and the model file it names are fetched;
 *   <li>{@code file:} URL or any other string: a folder holding {@code descriptor.json} and the
 *       model file it names.
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

    /**
     * The largest model file loaded: what one Java array can hold, just under 2 GiB, which is also
     * about the most ONNX's protobuf format can hold.
     */
    public static final long MAX_MODEL_BYTES = Integer.MAX_VALUE - 8;

    public static ModelArtifact load(String location) {
        if (location == null || location.isBlank()) {
            throw new IllegalArgumentException(
                    "model location must be 'bundled:<id>' or a folder, found none");
        }
        if (location.startsWith(BUNDLED)) {
            return fromClasspath(location, location.substring(BUNDLED.length()));
        }
        if (location.startsWith("http://") || location.startsWith("https://")) {
            return fromHttp(location);
        }
        if (location.startsWith("file:")) {
            try {
                return fromFolder(location, Path.of(URI.create(location)));
            } catch (IllegalArgumentException | FileSystemNotFoundException e) {
                throw new IllegalArgumentException(
                        "model location '" + location + "' is not a valid file: URL: " + e, e);
            }
        }
        return fromFolder(location, Path.of(location));
    }

    /** How long fetching a model over HTTP may take, connection and each file. */
    static final Duration HTTP_TIMEOUT = Duration.ofSeconds(60);

    private static ModelArtifact fromHttp(String location) {
        String base = location.endsWith("/") ? location : location + "/";
        URI descriptorUri;
        try {
            descriptorUri = URI.create(base).resolve("descriptor.json");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "model location '" + location + "' is not a valid URL: " + e.getMessage(), e);
        }
        HttpClient http =
                HttpClient.newBuilder()
                        .connectTimeout(HTTP_TIMEOUT)
                        .followRedirects(HttpClient.Redirect.NORMAL)
                        .build();
        byte[] descriptorBytes = fetch(http, descriptorUri, 1024 * 1024);
        ModelDescriptor descriptor =
                ModelDescriptor.read(
                        new ByteArrayInputStream(descriptorBytes), descriptorUri.toString());
        URI modelUri = descriptorUri.resolve(plainFileName(descriptor, descriptorUri.toString()));
        byte[] model = fetch(http, modelUri, MAX_MODEL_BYTES);
        verify(descriptor, model, modelUri.toString());
        return new ModelArtifact(location, descriptor, model);
    }

    private static byte[] fetch(HttpClient http, URI uri, long maxBytes) {
        try {
            HttpResponse<InputStream> response =
                    http.send(
                            HttpRequest.newBuilder(uri).timeout(HTTP_TIMEOUT).GET().build(),
                            HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                if (response.statusCode() != 200) {
                    throw new IllegalArgumentException(
                            "cannot fetch " + uri + ": HTTP status " + response.statusCode());
                }
                byte[] bytes = body.readNBytes((int) Math.min(maxBytes + 1, MAX_MODEL_BYTES));
                if (bytes.length > maxBytes) {
                    throw new IllegalArgumentException(
                            uri + " holds more than the " + maxBytes + " bytes allowed");
                }
                return bytes;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fetch " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while fetching " + uri, e);
        }
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
                            + "descriptor.json on the classpath (bundled models: gbdt, mlp, deep)");
        }
        ModelDescriptor descriptor =
                ModelDescriptor.read(new ByteArrayInputStream(descriptorBytes), location);
        byte[] model = resource(base + plainFileName(descriptor, location));
        if (model == null) {
            throw new IllegalArgumentException(
                    "bundled model '" + id + "' names " + descriptor.modelFile() + ", not found");
        }
        verify(descriptor, model, location);
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
            Path modelPath = folder.resolve(plainFileName(descriptor, descriptorPath.toString()));
            if (!Files.isRegularFile(modelPath)) {
                throw new IllegalArgumentException(
                        descriptorPath
                                + " names model file "
                                + modelPath
                                + ", which does not exist");
            }
            if (!modelPath.toRealPath().getParent().equals(folder.toRealPath())) {
                throw new IllegalArgumentException(
                        descriptorPath
                                + " names model file "
                                + modelPath
                                + ", which is a link to a file outside the model's folder");
            }
            long size = Files.size(modelPath);
            if (size > MAX_MODEL_BYTES) {
                throw new IllegalArgumentException(
                        "model file "
                                + modelPath
                                + " holds "
                                + size
                                + " bytes, more than the "
                                + MAX_MODEL_BYTES
                                + " an ONNX model can have");
            }
            byte[] model = Files.readAllBytes(modelPath);
            verify(descriptor, model, modelPath.toString());
            return new ModelArtifact(location, descriptor, model);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model at " + folder, e);
        }
    }

    /**
     * The descriptor's {@code model_file}, which must name a file beside the descriptor: no folder,
     * no {@code ..}, not absolute, no drive or stream ({@code :}), and (checked when it is read)
     * not a link out of the folder, so a descriptor can never make a TaskManager read elsewhere.
     */
    private static String plainFileName(ModelDescriptor descriptor, String source) {
        String name = descriptor.modelFile();
        Path path = Path.of(name);
        if (path.isAbsolute()
                || path.getRoot() != null
                || path.getNameCount() != 1
                || name.contains(":")
                || name.equals("..")
                || name.equals(".")
                || name.contains("/")
                || name.contains("\\")) {
            throw new IllegalArgumentException(
                    source
                            + " names model_file '"
                            + name
                            + "': expected the name of a file in the model's own folder (no"
                            + " folders, no .., not absolute)");
        }
        return name;
    }

    /** Refuses a model file whose SHA-256 is not the one its descriptor gives. */
    private static void verify(ModelDescriptor descriptor, byte[] model, String source) {
        String actual = sha256(model);
        if (!actual.equals(descriptor.sha256())) {
            throw new IllegalArgumentException(
                    "model file "
                            + source
                            + " has SHA-256 "
                            + actual
                            + ", but its descriptor gives "
                            + descriptor.sha256()
                            + ": the file is not the model the descriptor describes (update"
                            + " descriptor.json with sha256sum if the model was retrained)");
        }
    }

    /** The lower-case hex SHA-256 of {@code bytes}. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
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
