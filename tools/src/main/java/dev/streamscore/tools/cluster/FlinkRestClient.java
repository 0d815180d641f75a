package dev.streamscore.tools.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * The few calls of Flink's REST API that {@code ./streamscore cluster} needs: upload and run a jar,
 * list jobs and their checkpoints, stop a job with a savepoint, count TaskManagers.
 *
 * <pre>
 * FlinkRestClient rest = new FlinkRestClient(URI.create("http://127.0.0.1:8081"));
 * String jarId = rest.uploadJar(Path.of("jobs/target/streamscore-jobs-0.1.0-SNAPSHOT-job.jar"));
 * String jobId = rest.runJar(jarId, List.of("--delivery", "exactly-once"), null);
 * </pre>
 */
public final class FlinkRestClient {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public FlinkRestClient(URI base) {
        this.base = base;
    }

    public URI base() {
        return base;
    }

    /** GET {@code path}; the JSON answer, or an exception naming the path and the answer. */
    public JsonNode get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET(), path);
    }

    /** POST {@code body} as JSON to {@code path}. */
    public JsonNode post(String path, JsonNode body) throws IOException, InterruptedException {
        return send(
                HttpRequest.newBuilder(base.resolve(path))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))),
                path);
    }

    /** Uploads a jar ({@code POST /jars/upload}); returns its id for {@link #runJar}. */
    public String uploadJar(Path jar) throws IOException, InterruptedException {
        String boundary = "streamscore-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(
                ("--"
                                + boundary
                                + "\r\n"
                                + "Content-Disposition: form-data; name=\"jarfile\"; filename=\""
                                + jar.getFileName()
                                + "\"\r\nContent-Type: application/x-java-archive\r\n\r\n")
                        .getBytes(StandardCharsets.UTF_8));
        body.write(Files.readAllBytes(jar));
        body.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        JsonNode answer =
                send(
                        HttpRequest.newBuilder(base.resolve("/jars/upload"))
                                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                                .timeout(Duration.ofMinutes(2))
                                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())),
                        "/jars/upload");
        String filename = answer.path("filename").asText("");
        if (!"success".equals(answer.path("status").asText()) || filename.isEmpty()) {
            throw new IOException("expected a successful jar upload, Flink answered " + answer);
        }
        // The id is the uploaded file's name in the JobManager's upload folder.
        return Path.of(filename).getFileName().toString();
    }

    /**
     * Runs an uploaded jar ({@code POST /jars/<id>/run}) with the job's flags, from a savepoint
     * when {@code savepointPath} is not null; returns the job id.
     */
    public String runJar(String jarId, List<String> programArgs, String savepointPath)
            throws IOException, InterruptedException {
        ObjectNode request = JSON.createObjectNode();
        programArgs.forEach(request.putArray("programArgsList")::add);
        if (savepointPath != null) {
            request.put("savepointPath", savepointPath);
            request.put("allowNonRestoredState", false);
        }
        JsonNode answer = post("/jars/" + jarId + "/run", request);
        String jobId = answer.path("jobid").asText("");
        if (jobId.isEmpty()) {
            throw new IOException("expected a job id from /jars/" + jarId + "/run, got " + answer);
        }
        return jobId;
    }

    /** {@code GET /jobs/overview}: every job with its name and state. */
    public JsonNode jobsOverview() throws IOException, InterruptedException {
        return get("/jobs/overview").path("jobs");
    }

    /** The number of TaskManagers registered with the JobManager. */
    public int taskManagerCount() throws IOException, InterruptedException {
        return get("/taskmanagers").path("taskmanagers").size();
    }

    /** {@code GET /jobs/<id>/checkpoints}: counts, latest completed, restored. */
    public JsonNode checkpoints(String jobId) throws IOException, InterruptedException {
        return get("/jobs/" + jobId + "/checkpoints");
    }

    /** Total free task slots in the cluster. */
    public int availableSlots() throws IOException, InterruptedException {
        return get("/overview").path("slots-available").asInt();
    }

    /**
     * Stops a job with a savepoint into {@code targetDirectory} and waits for it; returns the
     * savepoint's path.
     */
    public String stopWithSavepoint(String jobId, String targetDirectory, Duration timeout)
            throws IOException, InterruptedException {
        ObjectNode request = JSON.createObjectNode();
        request.put("targetDirectory", targetDirectory);
        request.put("drain", false);
        String trigger = post("/jobs/" + jobId + "/stop", request).path("request-id").asText("");
        if (trigger.isEmpty()) {
            throw new IOException("expected a request id from /jobs/" + jobId + "/stop");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode answer = get("/jobs/" + jobId + "/savepoints/" + trigger);
            if ("COMPLETED".equals(answer.path("status").path("id").asText())) {
                JsonNode operation = answer.path("operation");
                if (operation.has("failure-cause")) {
                    throw new IOException(
                            "stop-with-savepoint of job "
                                    + jobId
                                    + " failed: "
                                    + operation
                                            .path("failure-cause")
                                            .path("stack-trace")
                                            .asText(operation.path("failure-cause").toString()));
                }
                // The job ends just after its savepoint: wait for that, so a job resumed from the
                // savepoint never runs beside it (they would share Kafka transactional ids).
                while (System.nanoTime() < deadline) {
                    String state = get("/jobs/" + jobId).path("state").asText();
                    if (List.of("FINISHED", "CANCELED", "FAILED").contains(state)) {
                        return operation.path("location").asText();
                    }
                    Thread.sleep(100);
                }
                throw new IOException(
                        "expected job " + jobId + " to end after its savepoint within " + timeout);
            }
            Thread.sleep(250);
        }
        throw new IOException(
                "expected the savepoint of job " + jobId + " within " + timeout + ", none came");
    }

    private JsonNode send(HttpRequest.Builder request, String path)
            throws IOException, InterruptedException {
        HttpResponse<String> response =
                http.send(
                        request.timeout(Duration.ofSeconds(60)).build(),
                        HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IOException(
                    "Flink REST "
                            + path
                            + " at "
                            + base
                            + ": expected HTTP 2xx, got "
                            + response.statusCode()
                            + ": "
                            + response.body());
        }
        return response.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(response.body());
    }
}
