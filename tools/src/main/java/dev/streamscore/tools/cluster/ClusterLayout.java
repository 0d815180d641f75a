package dev.streamscore.tools.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a local cluster's files are: the repository it is started from (its {@code deploy/} files,
 * the launcher classpath files under {@code tools/target/} and the job jar under {@code
 * jobs/target/}) and the work folder that holds everything the cluster writes (config, logs, pids,
 * Kafka data, checkpoints, savepoints).
 *
 * <pre>
 * ClusterLayout layout = ClusterLayout.of(ClusterLayout.findRepositoryRoot(), null);
 * layout.log("jobmanager");   // target/cluster/logs/jobmanager.log
 * </pre>
 */
public record ClusterLayout(Path repositoryRoot, Path workDir) {

    /** The default work folder, relative to the repository root. */
    public static final String DEFAULT_WORK_DIR = "target/cluster";

    public ClusterLayout {
        repositoryRoot = repositoryRoot.toAbsolutePath().normalize();
        workDir = workDir.toAbsolutePath().normalize();
    }

    /** A layout with {@code workDir}, or the default work folder when it is null. */
    public static ClusterLayout of(Path repositoryRoot, Path workDir) {
        return new ClusterLayout(
                repositoryRoot,
                workDir != null ? workDir : repositoryRoot.resolve(DEFAULT_WORK_DIR));
    }

    /**
     * The streamscore checkout that holds the working directory: the nearest folder upwards with
     * {@code deploy/flink/config.yaml} and {@code jobs/}.
     */
    public static Path findRepositoryRoot() {
        Path start = Path.of("").toAbsolutePath().normalize();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("deploy/flink/config.yaml"))
                    && Files.isDirectory(dir.resolve("jobs"))) {
                return dir;
            }
        }
        throw new IllegalArgumentException(
                "expected to run inside a streamscore checkout (a folder with"
                        + " deploy/flink/config.yaml and jobs/), but found none above "
                        + start);
    }

    public Path confDir() {
        return workDir.resolve("conf");
    }

    public Path logsDir() {
        return workDir.resolve("logs");
    }

    public Path pidsDir() {
        return workDir.resolve("pids");
    }

    public Path log(String process) {
        return logsDir().resolve(process + ".log");
    }

    public Path pidFile(String process) {
        return pidsDir().resolve(process + ".pid");
    }

    /** Ports and addresses of the running cluster, written by {@code up}. */
    public Path stateFile() {
        return workDir.resolve("cluster.properties");
    }

    public Path kafkaConfig() {
        return workDir.resolve("kafka/server.properties");
    }

    public Path savepointsDir() {
        return workDir.resolve("savepoints");
    }

    public Path deployFile(String relative) {
        return repositoryRoot.resolve("deploy").resolve(relative);
    }

    /** The shaded job jar, {@code jobs/target/streamscore-jobs-*-job.jar}. */
    public Path jobJar() {
        Path target = repositoryRoot.resolve("jobs/target");
        try (var files = Files.list(target)) {
            return files.filter(
                            p -> {
                                String name = p.getFileName().toString();
                                return name.startsWith("streamscore-jobs-")
                                        && name.endsWith("-job.jar");
                            })
                    .findFirst()
                    .orElseThrow(
                            () ->
                                    new IllegalArgumentException(
                                            "expected the job jar streamscore-jobs-*-job.jar in "
                                                    + target
                                                    + ", found none: build it with"
                                                    + " mvn -DskipTests -pl jobs -am install"));
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "expected the build output folder "
                            + target
                            + ", found none: build with"
                            + " mvn -DskipTests -pl jobs -am install",
                    e);
        }
    }

    /** The jars of one of the launcher classpath files written by the tools build. */
    public List<String> launcherClasspath(String kind) {
        Path file = repositoryRoot.resolve("tools/target/launcher-" + kind + ".classpath");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(
                    "expected the classpath file "
                            + file
                            + " written by the tools build, found none: build with"
                            + " mvn -DskipTests -pl tools -am install (or run ./streamscore once)");
        }
        try {
            String content = Files.readString(file).trim();
            return content.isEmpty()
                    ? List.of()
                    : new ArrayList<>(Arrays.asList(content.split(java.io.File.pathSeparator)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([a-z.]+)}");

    /** {@code template} with every {@code ${name}} replaced by {@code values.get(name)}. */
    static String fill(String template, java.util.Map<String, String> values) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.get(m.group(1));
            if (value == null) {
                throw new IllegalStateException(
                        "no value for placeholder ${" + m.group(1) + "} in a deploy/local file");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }
}
