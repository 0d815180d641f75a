package dev.streamscore.pipeline.registry;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Apicurio Registry (2.6.13, in-memory store) as its own process, for tests: the runner jar
 * the build unpacks into {@code target/apicurio} (system property {@code apicurio.dir}), started on
 * a free port with this JVM's {@code java}, ready when its Confluent-compatible API answers. {@link
 * #stop} and {@link #start} again on the same port simulate a registry that goes down and comes
 * back (its in-memory store then starts empty).
 */
public final class ApicurioRegistry implements AutoCloseable {

    private static final String JAR = "apicurio-registry-app-2.6.13.Final-runner.jar";

    private final Path jar;
    private final int port;
    private final Path log;
    private Process process;

    public ApicurioRegistry() throws IOException {
        Path dir = Path.of(System.getProperty("apicurio.dir", "target/apicurio"));
        this.jar = dir.resolve(JAR);
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(
                    jar.toAbsolutePath()
                            + " is missing: the build unpacks it (mvn process-test-resources)");
        }
        this.port = freePort();
        this.log = Files.createTempFile("apicurio-", ".log");
    }

    /** Starts the registry and waits until it answers (at most 90 s). */
    public ApicurioRegistry start() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process =
                new ProcessBuilder(
                                List.of(
                                        java,
                                        "-Xmx256m",
                                        "-Dquarkus.http.port=" + port,
                                        "-Dquarkus.http.host=127.0.0.1",
                                        "-jar",
                                        jar.toString()))
                        .directory(jar.getParent().toFile())
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                        .start();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(
                        "Apicurio exited with " + process.exitValue() + "; its log: " + log);
            }
            try {
                HttpResponse<Void> r =
                        http.send(
                                HttpRequest.newBuilder(url().resolve("subjects"))
                                        .timeout(Duration.ofSeconds(2))
                                        .build(),
                                HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return this;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        stop();
        throw new IllegalStateException("Apicurio did not answer within 90 s; its log: " + log);
    }

    /** The Confluent-compatible API's root, ending with a slash. */
    public URI url() {
        return URI.create("http://127.0.0.1:" + port + "/apis/ccompat/v7/");
    }

    /** Stops the process and waits for it to end. */
    public void stop() throws InterruptedException {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            process = null;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Where the process writes its output. */
    public File log() {
        return log.toFile();
    }
}
