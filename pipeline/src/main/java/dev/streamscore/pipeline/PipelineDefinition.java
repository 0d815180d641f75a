package dev.streamscore.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A pipeline file as text, with the text of every file it names (its schemas) and where its model
 * is: everything a TaskManager needs to build the pipeline again without reading any file. It
 * travels with the job graph; {@link Pipeline#of(PipelineDefinition)} compiles it.
 *
 * @param source where the file came from, for messages: a path, or {@code classpath:...}
 * @param yaml the file's text
 * @param files the text of each file it names, by the name it gives
 * @param baseDirectory the folder relative names are resolved in; {@code null} for the classpath
 * @param modelOverride a model location that replaces the file's {@code model}, or {@code null}
 */
public record PipelineDefinition(
        String source,
        String yaml,
        Map<String, String> files,
        String baseDirectory,
        String modelOverride)
        implements Serializable {

    /** Where the bundled pipelines are on the classpath. */
    public static final String CLASSPATH_FOLDER = "pipelines/";

    /** The pipeline used when none is given: card fraud. */
    public static final String DEFAULT = "classpath:pipelines/card-fraud.yaml";

    public PipelineDefinition {
        files = Map.copyOf(files);
    }

    /** Reads a file's text, or a bundled file's ({@code classpath:pipelines/...}). */
    public static PipelineDefinition read(String location) throws PipelineException {
        if (location.startsWith("classpath:")) {
            String resource = location.substring("classpath:".length());
            try {
                return new PipelineDefinition(
                        location, readResource(location, resource), Map.of(), null, null);
            } catch (IllegalArgumentException e) {
                throw new PipelineException(
                        java.util.List.of(
                                new Problem(
                                        location,
                                        0,
                                        e.getMessage(),
                                        "bundled pipelines: classpath:pipelines/card-fraud.yaml")));
            }
        }
        Path file = Path.of(location);
        try {
            return new PipelineDefinition(
                    location,
                    Files.readString(file, StandardCharsets.UTF_8),
                    Map.of(),
                    file.toAbsolutePath().getParent().toString(),
                    null);
        } catch (IOException | RuntimeException e) {
            throw new PipelineException(
                    java.util.List.of(
                            new Problem(
                                    location,
                                    0,
                                    "cannot read the pipeline file: " + e,
                                    "give the path of a readable YAML file")));
        }
    }

    /** With a model location that replaces the file's. */
    public PipelineDefinition withModel(String model) {
        return new PipelineDefinition(source, yaml, files, baseDirectory, model);
    }

    /** With the named file's text kept. */
    PipelineDefinition withFile(String name, String text) {
        Map<String, String> more = new LinkedHashMap<>(files);
        more.put(name, text);
        return new PipelineDefinition(source, yaml, more, baseDirectory, modelOverride);
    }

    /** The text of a file the pipeline names, relative to the pipeline file. */
    String readRelative(String name) throws IOException {
        String kept = files.get(name);
        if (kept != null) {
            return kept;
        }
        if (baseDirectory == null) {
            String folder = source.substring("classpath:".length());
            folder = folder.contains("/") ? folder.substring(0, folder.lastIndexOf('/') + 1) : "";
            return readResource(source, folder + name);
        }
        return Files.readString(resolve(name), StandardCharsets.UTF_8);
    }

    /** A relative name as a path beside the pipeline file (an absolute one as it is). */
    Path resolve(String name) {
        Path p = Path.of(name);
        return p.isAbsolute() || baseDirectory == null ? p : Path.of(baseDirectory).resolve(p);
    }

    private static String readResource(String location, String resource) {
        ClassLoader loader = PipelineDefinition.class.getClassLoader();
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalArgumentException(
                        "no " + resource + " on the classpath (for " + location + ")");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + resource + ": " + e, e);
        }
    }
}
