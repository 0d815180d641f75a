package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.StreamscoreCli;
import dev.streamscore.tools.cluster.ClusterLayout;
import dev.streamscore.tools.cluster.FlinkRestClient;
import dev.streamscore.tools.cluster.LocalCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The job jar on a real Flink standalone cluster: {@code ./streamscore cluster up} starts a Kafka
 * broker, a JobManager and two TaskManagers as separate JVMs from the launcher's classpath; the
 * shaded job jar is submitted through Flink's REST API with exactly-once delivery; a TaskManager
 * running the job is killed with SIGKILL mid-stream and a new one started; a read_committed
 * consumer must then see every transaction scored exactly once. Then the job is stopped with a
 * savepoint, more transactions are sent while it is down, and it is resumed from the savepoint at
 * parallelism 4: again every transaction exactly once. Every score must equal the model's score of
 * the card features computed here from each card's transactions in order, so per-card state has no
 * gap and no double count across the kill and the rescale. Transactions sent before the stop and
 * sent again after it are answered from the restored result cache. A second savepoint upgrade
 * brings a new model version, which must never be answered with the old version's cached score. The
 * operator metrics must be served by Flink's Prometheus reporter. The resumed jobs run in
 * TaskManagers that already loaded ONNX Runtime for the earlier job: its native library must
 * survive a new user classloader. Everything is torn down, also when the test fails.
 */
class LocalClusterITCase {

    /** Sent before and across the TaskManager kill. */
    private static final int EVENTS = 2000;

    /** Sent while the job is stopped with a savepoint, scored after it resumes at parallelism 4. */
    private static final int EVENTS_AFTER_SAVEPOINT = 1000;

    /** Sent again after the upgrade, to find them in the restored cache. */
    private static final int RESENT = 200;

    private static final Duration RESULT_TIMEOUT = Duration.ofSeconds(120);

    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Path WORK_DIR = REPO.resolve("test/target/local-cluster-it");

    private static final String MODEL = "bundled:gbdt";

    private static LocalCluster cluster;

    /** The last score read for each transaction id. */
    private static final Map<String, FraudScore> SCORES = new HashMap<>();

    @BeforeAll
    static void up() throws Exception {
        cluster = new LocalCluster(ClusterLayout.of(REPO, WORK_DIR));
        cluster.down(Duration.ofSeconds(5)); // a cluster a killed earlier run left behind
        deleteRecursively(WORK_DIR);
        long start = System.nanoTime();
        cluster.up(2, Duration.ofMinutes(2));
        System.out.printf("cluster up in %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    @AfterAll
    static void down() throws Exception {
        if (cluster == null) {
            return;
        }
        Map<String, Long> pids = cluster.recordedPids();
        try {
            cluster.down(Duration.ofSeconds(10));
        } finally {
            // Whatever survived down, by the pids recorded, so no process outlives the test.
            for (long pid : pids.values()) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        assertThat(cluster.runningProcesses()).isEmpty();
    }

    @Test
    void scoresEveryTransactionExactlyOnceAcrossATaskManagerKillAndASavepointUpgrade()
            throws Exception {
        FlinkRestClient rest = cluster.rest();
        int exit = submit();
        assertThat(exit).as("exit code of cluster submit").isZero();
        JsonNode jobs = rest.jobsOverview();
        assertThat(jobs).hasSize(1);
        String jobId = jobs.get(0).path("jid").asText();
        awaitCompletedCheckpoints(rest, jobId, 1);

        List<Transaction> transactions = generate();
        long start = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            send(producer, transactions.subList(0, EVENTS / 2));
            // Mid-stream: the first half is being scored, the second half is still to come.
            String victim = taskManagerRunning(rest, jobId);
            cluster.kill(victim);
            System.out.printf(
                    "killed %s (SIGKILL) after %.1f s%n",
                    victim, (System.nanoTime() - start) / 1e9);
            String replacement = cluster.startTaskManager();
            CompletableFuture<Void> rest2 =
                    CompletableFuture.runAsync(
                            () -> send(producer, transactions.subList(EVENTS / 2, EVENTS)));
            rest2.get();
            System.out.println("started " + replacement + ", sent all " + EVENTS);
        }

        Set<String> expected = new LinkedHashSet<>();
        transactions.subList(0, EVENTS).forEach(t -> expected.add(t.getTransactionId()));
        Map<String, Integer> scored = new HashMap<>();
        Map<String, Integer> deadLettered = new HashMap<>();
        readCommitted(expected, scored, deadLettered);
        int failures =
                rest.get("/jobs/" + jobId + "/exceptions")
                        .path("exceptionHistory")
                        .path("entries")
                        .size();
        System.out.printf(
                "all %d accounted for after %.1f s; job failures: %d%n",
                EVENTS, (System.nanoTime() - start) / 1e9, failures);
        assertThat(failures)
                .as("job failures recorded (the kill must have hit the job)")
                .isPositive();

        Set<String> seen = new TreeSet<>(scored.keySet());
        seen.addAll(deadLettered.keySet());
        assertThat(seen)
                .as("transactions scored or dead-lettered")
                .isEqualTo(new TreeSet<>(expected));
        assertThat(deadLettered)
                .as("dead letters (every generated transaction is valid)")
                .isEmpty();
        assertThat(scored.entrySet().stream().filter(e -> e.getValue() != 1).toList())
                .as("transactions scored more than once")
                .isEmpty();
        assertThat(rest.get("/jobs/" + jobId).path("state").asText()).isEqualTo("RUNNING");

        // The operator metrics the README names reach Prometheus through Flink's reporter.
        assertThat(scrapePrometheus())
                .contains("flink_taskmanager_job_task_operator_rowsScored")
                .contains("flink_taskmanager_job_task_operator_batchSize")
                .contains("flink_taskmanager_job_task_operator_cacheMisses")
                .contains("flink_taskmanager_job_task_operator_deadLettersDecode");

        // Upgrade: stop with a savepoint, send more while the job is down, resume at parallelism 4.
        long stopped = System.nanoTime();
        assertThat(cluster("savepoint")).as("exit code of cluster savepoint").isZero();
        assertThat(rest.get("/jobs/" + jobId).path("state").asText()).isEqualTo("FINISHED");
        Path savepoint;
        try (var dirs = Files.list(cluster.layout().savepointsDir())) {
            savepoint = dirs.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            send(producer, transactions.subList(EVENTS, EVENTS + EVENTS_AFTER_SAVEPOINT));
        }
        assertThat(submit("--from-savepoint", savepoint.toUri().toString(), "--parallelism", "4"))
                .as("exit code of cluster submit --from-savepoint")
                .isZero();
        String resumed = null;
        for (JsonNode job : rest.jobsOverview()) {
            if (job.path("state").asText().equals("RUNNING")) {
                resumed = job.path("jid").asText();
            }
        }
        assertThat(resumed).as("the resumed job").isNotNull();
        for (JsonNode vertex : rest.get("/jobs/" + resumed).path("vertices")) {
            // The control topic has one partition, read by one subtask, broadcast to all.
            boolean control = vertex.path("name").asText().contains("model commands");
            assertThat(vertex.path("parallelism").asInt())
                    .as(vertex.path("name").asText())
                    .isEqualTo(control ? 1 : 4);
        }
        transactions.forEach(t -> expected.add(t.getTransactionId()));
        scored.clear();
        deadLettered.clear();
        readCommitted(expected, scored, deadLettered);
        System.out.printf(
                "savepoint, resume at parallelism 4: all %d accounted for %.1f s after the stop%n",
                expected.size(), (System.nanoTime() - stopped) / 1e9);
        assertThat(new TreeSet<>(scored.keySet()))
                .as("transactions scored after the upgrade")
                .isEqualTo(new TreeSet<>(expected));
        assertThat(scored.entrySet().stream().filter(e -> e.getValue() != 1).toList())
                .as("transactions scored more than once after the upgrade")
                .isEmpty();
        assertThat(
                        rest.checkpoints(resumed)
                                .path("latest")
                                .path("restored")
                                .path("external_path")
                                .asText())
                .as("the resumed job's restore point")
                .contains(savepoint.getFileName().toString());

        // Per-card feature state continuous across the kill and the rescaling savepoint: each
        // score equals the model's score of the features computed here from each card's
        // transactions in order; a lost or doubly counted transaction in a card's history would
        // change every later score of that card.
        float[] expectedScores = SystemTestSupport.referenceScores(transactions, MODEL);
        for (int i = 0; i < transactions.size(); i++) {
            String id = transactions.get(i).getTransactionId();
            assertThat(SCORES.get(id).getScore())
                    .as("score of %s (transaction %d of its stream)", id, i)
                    .isCloseTo(expectedScores[i], Offset.offset(1e-6));
        }

        // The result cache and the memory of recent transaction ids carried over the savepoint
        // and the rescale too: transactions sent before the stop, sent again now, are answered
        // from the cache with their first score, and are not counted again.
        List<Transaction> resent = transactions.subList(0, RESENT);
        Map<String, FraudScore> first = new HashMap<>();
        resent.forEach(t -> first.put(t.getTransactionId(), SCORES.get(t.getTransactionId())));
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            send(producer, resent);
        }
        Map<String, Integer> again = new HashMap<>();
        readCommitted(transactions.size() + RESENT, again, new HashMap<>());
        for (Transaction t : resent) {
            String id = t.getTransactionId();
            assertThat(again.get(id)).as("scores of re-sent %s", id).isEqualTo(2);
            FraudScore second = SCORES.get(id);
            // The cache keeps scores, not reasons: a flagged re-send is scored again for them.
            assertThat(second.getCacheHit())
                    .as("re-sent %s answered from the cache", id)
                    .isEqualTo(second.getDecision() == Decision.APPROVE);
            assertThat(second.getScore()).isEqualTo(first.get(id).getScore());
            assertThat(second.getDecision()).isEqualTo(first.get(id).getDecision());
        }

        // A second upgrade brings a new model version (here the same weights, published as
        // 1.1.0): state carries over, but the cache never answers for the new version.
        Path newModel = WORK_DIR.resolve("model-1.1.0");
        Files.createDirectories(newModel);
        Path bundled = Path.of("..", "models", "artifacts", "gbdt");
        Files.copy(bundled.resolve("model.onnx"), newModel.resolve("model.onnx"));
        Files.writeString(
                newModel.resolve("descriptor.json"),
                Files.readString(bundled.resolve("descriptor.json"))
                        .replaceFirst("\"version\": \"[^\"]+\"", "\"version\": \"1.1.0\""));
        assertThat(cluster("savepoint")).as("exit code of the second cluster savepoint").isZero();
        Path second;
        try (var dirs = Files.list(cluster.layout().savepointsDir())) {
            second =
                    dirs.filter(Files::isDirectory)
                            .filter(d -> !d.equals(savepoint))
                            .findFirst()
                            .orElseThrow();
        }
        assertThat(
                        submit(
                                "--from-savepoint",
                                second.toUri().toString(),
                                "--parallelism",
                                "4",
                                "--model",
                                newModel.toString()))
                .as("exit code of cluster submit with a new model")
                .isZero();
        List<Transaction> rescored = transactions.subList(0, RESENT / 2);
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            send(producer, rescored);
        }
        Map<String, Integer> third = new HashMap<>();
        readCommitted(transactions.size() + RESENT + rescored.size(), third, new HashMap<>());
        for (Transaction t : rescored) {
            String id = t.getTransactionId();
            assertThat(third.get(id)).as("scores of %s after the model upgrade", id).isEqualTo(3);
            FraudScore latest = SCORES.get(id);
            assertThat(latest.getModelVersion()).isEqualTo("1.1.0");
            assertThat(latest.getCacheHit())
                    .as("%s must not be answered with the old version's cached score", id)
                    .isFalse();
            assertThat(latest.getScore()).isEqualTo(first.get(id).getScore());
        }

        // ONNX Runtime is loaded parent-first: a restarted task's fresh user classloader on a
        // TaskManager that already scored must not fail to load its native library.
        for (String tm : List.of("taskmanager-1", "taskmanager-2", "taskmanager-3")) {
            Path log = cluster.layout().log(tm);
            assertThat(Files.exists(log) ? Files.readString(log) : "")
                    .as(log.toString())
                    .doesNotContain("already loaded in another classloader");
        }
    }

    private static List<Transaction> generate() {
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(7)
                                .withDuplicateRate(0)
                                .withCards(200));
        List<Transaction> out = new ArrayList<>();
        for (int i = 0; i < EVENTS + EVENTS_AFTER_SAVEPOINT; i++) {
            out.add(generator.next().transaction());
        }
        return out;
    }

    private static KafkaProducer<byte[], byte[]> producer() {
        return new KafkaProducer<>(KafkaClients.producer(cluster.bootstrapServers()));
    }

    /** Sends at about 400 transactions per second, keyed by card id. */
    private static void send(KafkaProducer<byte[], byte[]> producer, List<Transaction> batch) {
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        try {
            for (int i = 0; i < batch.size(); i++) {
                Transaction t = batch.get(i);
                producer.send(
                        new ProducerRecord<>(
                                "transactions",
                                t.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(t)));
                if (i % 40 == 39) {
                    Thread.sleep(100);
                }
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads scores and dead letters with read_committed until every expected transaction is there,
     * then two more checkpoint intervals, so a duplicate committed late is seen too.
     */
    private static void readCommitted(
            Set<String> expected, Map<String, Integer> scored, Map<String, Integer> deadLettered)
            throws Exception {
        readCommitted(expected.size(), scored, deadLettered);
    }

    /** As above, until at least {@code expectedRecords} score and dead-letter records are read. */
    private static void readCommitted(
            int expectedRecords, Map<String, Integer> scored, Map<String, Integer> deadLettered)
            throws Exception {
        Properties props = KafkaClients.readCommittedConsumer(cluster.bootstrapServers(), null);
        SingleObjectCodec<FraudScore> scores = SingleObjectCodec.of(FraudScore.class);
        SingleObjectCodec<DeadLetter> deadLetters = SingleObjectCodec.of(DeadLetter.class);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of("fraud-scores", "transactions-dead-letter")) {
                for (int p = 0; p < LocalCluster.TOPIC_PARTITIONS; p++) {
                    partitions.add(new TopicPartition(topic, p));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + RESULT_TIMEOUT.toNanos();
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals("fraud-scores")) {
                        FraudScore score = scores.decode(r.value());
                        scored.merge(score.getTransactionId(), 1, Integer::sum);
                        SCORES.put(score.getTransactionId(), score);
                    } else {
                        DeadLetter d = deadLetters.decode(r.value());
                        deadLettered.merge(String.valueOf(d.getTransactionId()), 1, Integer::sum);
                    }
                }
                if (quietUntil == Long.MAX_VALUE
                        && total(scored) + total(deadLettered) >= expectedRecords) {
                    quietUntil = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                }
            }
        }
    }

    /** Everything the cluster's processes serve on their Prometheus reporter ports. */
    private static String scrapePrometheus() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        StringBuilder all = new StringBuilder();
        for (int port = 9250; port <= 9299; port++) {
            try {
                java.net.http.HttpResponse<String> response =
                        http.send(
                                java.net.http.HttpRequest.newBuilder(
                                                java.net.URI.create(
                                                        "http://127.0.0.1:" + port + "/metrics"))
                                        .timeout(Duration.ofSeconds(2))
                                        .build(),
                                java.net.http.HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    all.append(response.body());
                }
            } catch (java.io.IOException nothingListening) {
                // Not every port of the range is taken.
            }
        }
        return all.toString();
    }

    /** {@code ./streamscore cluster <command> --work-dir ... <args>}, in-process; its exit code. */
    private static int cluster(String command, String... args) {
        List<String> argv =
                new ArrayList<>(List.of("cluster", command, "--work-dir", WORK_DIR.toString()));
        argv.addAll(List.of(args));
        return StreamscoreCli.commandLine().execute(argv.toArray(String[]::new));
    }

    /** {@code cluster submit} with exactly-once delivery and 2 s checkpoints, plus {@code args}. */
    private static int submit(String... args) {
        List<String> argv =
                new ArrayList<>(
                        List.of("--delivery", "exactly-once", "--checkpoint-interval", "2 s"));
        argv.addAll(List.of(args));
        return cluster("submit", argv.toArray(String[]::new));
    }

    private static int total(Map<String, Integer> counts) {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** A TaskManager that runs a subtask of the job, by the id the cluster gives it. */
    private static String taskManagerRunning(FlinkRestClient rest, String jobId) throws Exception {
        for (JsonNode vertex : rest.get("/jobs/" + jobId).path("vertices")) {
            JsonNode tms =
                    rest.get(
                                    "/jobs/"
                                            + jobId
                                            + "/vertices/"
                                            + vertex.path("id").asText()
                                            + "/taskmanagers")
                            .path("taskmanagers");
            for (JsonNode tm : tms) {
                String id = tm.path("taskmanager-id").asText();
                if (id.startsWith("taskmanager-")) {
                    return id;
                }
            }
        }
        throw new AssertionError("expected a TaskManager running job " + jobId + ", found none");
    }

    private static void awaitCompletedCheckpoints(FlinkRestClient rest, String jobId, int n)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (rest.checkpoints(jobId).path("counts").path("completed").asInt() >= n) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(
                "expected "
                        + n
                        + " completed checkpoints of job "
                        + jobId
                        + " within 60 s; see "
                        + cluster.layout().log("jobmanager"));
    }

    private static void deleteRecursively(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
