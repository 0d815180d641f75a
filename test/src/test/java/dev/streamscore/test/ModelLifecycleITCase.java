package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.batching.OutputMode;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.operators.lifecycle.ModelCommands;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.tools.StreamscoreCli;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models changed through the control topic while transactions flow, exactly-once, on two
 * TaskManagers of one slot each (one inference subtask on each), RocksDB: a new champion, a model
 * with a wrong SHA-256 and one with a wrong input shape (both refused while the champion keeps
 * serving), a challenger in shadow, then a TaskManager killed and the job restored. A
 * read_committed consumer then sees every transaction scored exactly once, each score stamped with
 * the version that produced it and the switch at one point per subtask, every status record, and
 * the challenger's scores for the same transactions.
 */
class ModelLifecycleITCase {

    private static final int TRANSACTIONS = 6_000;
    private static final int PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension FLINK = SystemTestSupport.rocksDbMiniCluster(PARALLELISM, 1);

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    @Test
    void swapsModelsWithoutLosingOrDuplicatingAScoreAndKeepsThemAcrossARestore(
            @InjectMiniCluster MiniCluster cluster, @TempDir Path models) throws Exception {
        String run = Long.toString(System.nanoTime());
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.INPUT_TOPIC, "lifecycle-transactions-" + run);
        options.set(ScoringOptions.SCORES_TOPIC, "lifecycle-scores-" + run);
        options.set(ScoringOptions.DEAD_LETTER_TOPIC, "lifecycle-dead-letters-" + run);
        options.set(ScoringOptions.CONTROL_TOPIC, "lifecycle-control-" + run);
        options.set(ScoringOptions.MODEL_STATUS_TOPIC, "lifecycle-status-" + run);
        options.set(ScoringOptions.CHALLENGER_SCORES_TOPIC, "lifecycle-challenger-" + run);
        options.set(ScoringOptions.GROUP_ID, "lifecycle-" + run);
        options.set(ScoringOptions.PARALLELISM, PARALLELISM);
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ScoringOptions.RESTART_DELAY, Duration.ofSeconds(1));
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        // In input order, so that one subtask's scores switch model at one point in time too.
        options.set(BatchingOptions.OUTPUT_MODE, OutputMode.ORDERED);
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));

        ModelDescriptor v1 = ModelArtifact.load("bundled:gbdt").descriptor();
        Path compressed = compressedGbdt(models.resolve("gbdt-prune100"));
        ModelDescriptor v2 = ModelArtifact.load(compressed.toString()).descriptor();
        ModelCommand champion =
                ModelCommands.deploy(v2, compressed.toString(), ModelRole.CHAMPION, "it");
        ModelCommand wrongSha =
                ModelCommands.deploy(
                        "wrong-sha",
                        v2.name(),
                        v2.version(),
                        compressed.toString(),
                        "0".repeat(64),
                        ModelRole.CHAMPION,
                        "it");
        Path wrongShapeFolder = resource("models/wrong-shape");
        ModelDescriptor wrongShapeModel =
                ModelArtifact.load(wrongShapeFolder.toString()).descriptor();
        ModelCommand wrongShape =
                ModelCommands.deploy(
                        wrongShapeModel, wrongShapeFolder.toString(), ModelRole.CHAMPION, "it");
        ModelDescriptor mlp = ModelArtifact.load("bundled:mlp").descriptor();
        ModelCommand shadow = ModelCommands.deploy(mlp, "bundled:mlp", ModelRole.CHALLENGER, "it");

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("model lifecycle " + run);

        try (ExactlyOnceLedger ledger =
                        ExactlyOnceLedger.start(
                                KAFKA.get().bootstrapServers(), config, TRANSACTIONS, 41);
                Topic<ModelStatus> statuses =
                        new Topic<>(config.modelStatusTopic(), ModelStatus.class);
                Topic<FraudScore> challenger =
                        new Topic<>(config.challengerScoresTopic(), FraudScore.class)) {
            try {
                ledger.readUntil(1, Duration.ofSeconds(120));

                send(config, champion);
                statuses.await(answered(champion, ModelState.ACTIVE), Duration.ofSeconds(60));
                ledger.readUntil(ledger.committed() + 200, Duration.ofSeconds(60));

                send(config, wrongSha);
                send(config, wrongShape);
                statuses.await(answered(wrongShape, ModelState.REFUSED), Duration.ofSeconds(60));

                send(config, shadow);
                statuses.await(answered(shadow, ModelState.ACTIVE), Duration.ofSeconds(60));
                challenger.await(all -> all.size() >= 100, Duration.ofSeconds(60));

                int sentAtKill = ledger.sent();
                cluster.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
                cluster.startTaskManager();
                assertThat(sentAtKill).as("still to send at the kill").isLessThan(TRANSACTIONS);
                statuses.await(
                        all ->
                                all.stream()
                                                .filter(
                                                        s ->
                                                                s.getCommandId()
                                                                                .equals(
                                                                                        ModelCommands
                                                                                                .RESTORE)
                                                                        && s.getState()
                                                                                == ModelState
                                                                                        .ACTIVE)
                                                .count()
                                        >= 2L * PARALLELISM,
                        Duration.ofSeconds(120));

                ledger.readAll(Duration.ofSeconds(180));
                challenger.await(all -> false, Duration.ofSeconds(3)); // read what is there
            } finally {
                JobStatus status = job.getJobStatus().get(10, TimeUnit.SECONDS);
                job.cancel().get(30, TimeUnit.SECONDS);
                assertThat(status).isEqualTo(JobStatus.RUNNING);
            }

            // 1. No transaction lost or duplicated across the swaps and the restore.
            ledger.assertEachScoredExactlyOnce();

            // 2. Every score stamped with the version that produced it, switching once per
            // subtask: v1 before the deploy's ACTIVE, v2 after, in scored_at order.
            List<ModelStatus> all = statuses.read();
            Map<Integer, List<FraudScore>> bySubtask =
                    ledger.scores().stream().collect(Collectors.groupingBy(s -> subtask(s)));
            assertThat(bySubtask).hasSize(PARALLELISM);
            for (var entry : bySubtask.entrySet()) {
                List<FraudScore> scores = new ArrayList<>(entry.getValue());
                scores.sort((a, b) -> a.getScoredAt().compareTo(b.getScoredAt()));
                assertThat(scores)
                        .allSatisfy(
                                s ->
                                        assertThat(s.getModelName() + ":" + s.getModelVersion())
                                                .isIn(v1.id(), v2.id()));
                int firstV2 = indexOfFirst(scores, s -> s.getModelVersion().equals(v2.version()));
                assertThat(firstV2).as("subtask %s scored with v2", entry.getKey()).isPositive();
                assertThat(scores.subList(0, firstV2))
                        .as("subtask %s: v1 before the switch", entry.getKey())
                        .allMatch(s -> s.getModelVersion().equals(v1.version()));
                assertThat(scores.subList(firstV2, scores.size()))
                        .as("subtask %s: v2 from the switch on, restore included", entry.getKey())
                        .allMatch(s -> s.getModelVersion().equals(v2.version()));
                ModelStatus active =
                        status(all, champion.getCommandId(), ModelState.ACTIVE, entry.getKey());
                assertThat(scores.get(firstV2 - 1).getScoredAt())
                        .isBeforeOrEqualTo(scores.get(firstV2).getScoredAt());
                assertThat(scores.get(firstV2).getScoredAt()).isAfterOrEqualTo(active.getAt());
                assertThat(
                                status(
                                                all,
                                                champion.getCommandId(),
                                                ModelState.SERVING,
                                                entry.getKey())
                                        .getFirstScoredAt())
                        .isAfterOrEqualTo(active.getAt());
            }

            // 3. Both bad models refused by every subtask, saying why.
            for (int subtask = 0; subtask < PARALLELISM; subtask++) {
                assertThat(status(all, "wrong-sha", ModelState.REFUSED, subtask).getReason())
                        .contains("has SHA-256 " + v2.sha256());
                assertThat(
                                status(all, wrongShape.getCommandId(), ModelState.REFUSED, subtask)
                                        .getReason())
                        .contains("cannot open");
            }

            // 4. The challenger's scores: for transactions the champion scored, once each,
            // every one the champion scored after the challenger became active on its subtask.
            Map<String, FraudScore> championScores = new HashMap<>();
            ledger.scores().forEach(s -> championScores.put(s.getTransactionId(), s));
            List<FraudScore> shadowScores = challenger.read();
            Set<String> shadowIds = new HashSet<>();
            for (FraudScore s : shadowScores) {
                assertThat(shadowIds.add(s.getTransactionId()))
                        .as("one challenger score for %s", s.getTransactionId())
                        .isTrue();
                assertThat(s.getModelName()).isEqualTo(mlp.name());
                assertThat(championScores).containsKey(s.getTransactionId());
            }
            for (int subtask = 0; subtask < PARALLELISM; subtask++) {
                var since = status(all, shadow.getCommandId(), ModelState.ACTIVE, subtask).getAt();
                int sub = subtask;
                List<String> missing =
                        championScores.values().stream()
                                .filter(s -> subtask(s) == sub && s.getScoredAt().isAfter(since))
                                .map(FraudScore::getTransactionId)
                                .filter(id -> !shadowIds.contains(id))
                                .toList();
                assertThat(missing).as("champion scores without a challenger score").isEmpty();
            }

            // 5. After the restore, each subtask serves the versions its checkpoint recorded.
            List<ModelStatus> restored =
                    all.stream()
                            .filter(
                                    s ->
                                            s.getCommandId().equals(ModelCommands.RESTORE)
                                                    && s.getState() == ModelState.ACTIVE)
                            .toList();
            assertThat(restored)
                    .extracting(
                            s -> s.getRole() + " " + s.getModelName() + ":" + s.getModelVersion())
                    .contains("CHAMPION " + v2.id(), "CHALLENGER " + mlp.id())
                    .allMatch(
                            s ->
                                    s.equals("CHAMPION " + v2.id())
                                            || s.equals("CHALLENGER " + mlp.id()));
            System.out.printf(
                    "%d scores, %d challenger scores, %d status records%n",
                    ledger.scores().size(), shadowScores.size(), all.size());
        }
    }

    /**
     * The bundled GBDT pruned to its first 100 trees by {@code streamscore model compress}: a new
     * version, as a compressed model ships, which the control topic must take like any other.
     */
    private static Path compressedGbdt(Path folder) {
        int code =
                StreamscoreCli.commandLine()
                        .execute(
                                "model",
                                "compress",
                                "bundled:gbdt",
                                "--method",
                                "prune",
                                "--trees",
                                "100",
                                "--out",
                                folder.toString());
        assertThat(code).as("model compress exit code").isZero();
        return folder;
    }

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(ModelLifecycleITCase.class.getClassLoader().getResource(name).toURI());
    }

    private static int subtask(FraudScore score) {
        return KeyGroupRangeAssignment.assignKeyToParallelOperator(
                score.getCardId(),
                KeyGroupRangeAssignment.computeDefaultMaxParallelism(PARALLELISM),
                PARALLELISM);
    }

    private static <T> int indexOfFirst(List<T> list, Predicate<T> p) {
        for (int i = 0; i < list.size(); i++) {
            if (p.test(list.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private static Predicate<List<ModelStatus>> answered(ModelCommand command, ModelState state) {
        return all ->
                all.stream()
                                .filter(
                                        s ->
                                                s.getCommandId().equals(command.getCommandId())
                                                        && s.getState() == state)
                                .map(ModelStatus::getSubtask)
                                .distinct()
                                .count()
                        == PARALLELISM;
    }

    private static ModelStatus status(
            List<ModelStatus> all, String commandId, ModelState state, int subtask) {
        return all.stream()
                .filter(
                        s ->
                                s.getCommandId().equals(commandId)
                                        && s.getState() == state
                                        && s.getSubtask() == subtask)
                .findFirst()
                .orElseThrow(
                        () ->
                                new AssertionError(
                                        "no "
                                                + state
                                                + " status for "
                                                + commandId
                                                + " from subtask "
                                                + subtask
                                                + " in "
                                                + all));
    }

    private static void send(ScoringConfig config, ModelCommand command) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(KafkaClients.producer(KAFKA.get().bootstrapServers()))) {
            producer.send(
                            new ProducerRecord<>(
                                    config.controlTopic(),
                                    command.getCommandId().getBytes(StandardCharsets.UTF_8),
                                    SingleObjectCodec.of(ModelCommand.class).encode(command)))
                    .get();
        }
    }

    /** A read_committed reader of one output topic, keeping everything read. */
    private static final class Topic<T extends org.apache.avro.specific.SpecificRecord>
            implements AutoCloseable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final SingleObjectCodec<T> codec;
        private final List<T> read = new ArrayList<>();

        Topic(String topic, Class<T> type) {
            codec = SingleObjectCodec.of(type);
            consumer =
                    new KafkaConsumer<>(
                            KafkaClients.readCommittedConsumer(
                                    KAFKA.get().bootstrapServers(), "reader-" + topic));
            consumer.subscribe(List.of(topic));
        }

        /** Reads until {@code done} holds for everything read, or fails after {@code timeout}. */
        void await(Predicate<List<T>> done, Duration timeout) throws Exception {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!done.test(read)) {
                if (System.nanoTime() > deadline) {
                    if (timeout.toSeconds() <= 3) {
                        return; // a bounded read of what is there
                    }
                    throw new AssertionError("not reached within " + timeout + "; read: " + read);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    read.add(codec.decode(r.value()));
                }
            }
        }

        List<T> read() {
            return read;
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
