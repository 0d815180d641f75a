package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.FraudScoringJob;
import dev.streamscore.jobs.ScoringStage;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchScorer;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.batching.OnnxBatchScorer;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Exactly-once across faults while transactions are in flight in the inference operator: two
 * TaskManagers of one slot each (one subtask of the whole pipeline on each), a model that takes 50
 * ms a call so that batches are always being scored, and, once the first scores are committed, one
 * fault ({@link Fault}): a TaskManager terminated while the test sees a model call under way in
 * each subtask, a model call that throws once, one that throws an Error once (the job restores),
 * one that hangs once. Every transaction must come out scored exactly once, and none dead-lettered,
 * for a read_committed consumer.
 */
class TaskManagerLossITCase {

    private static final int TRANSACTIONS = 3_000;

    @RegisterExtension
    static final MiniClusterExtension FLINK =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setConfiguration(flinkConfiguration())
                            .setNumberTaskManagers(2)
                            .setNumberSlotsPerTaskManager(1)
                            .build());

    private static EmbeddedKafka kafka;

    private static Configuration flinkConfiguration() {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        return conf;
    }

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = EmbeddedKafka.start(0);
    }

    @AfterAll
    static void stopKafka() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }

    /** What goes wrong once the first scores are committed. */
    enum Fault {
        /** TaskManager 0 is terminated while a model call is under way in each subtask. */
        TASK_MANAGER_LOSS,
        /** One model call throws an exception: the batch is retried. */
        MODEL_THROWS_ONCE,
        /** One model call throws an Error: the job fails and restores from its checkpoint. */
        MODEL_ERROR_ONCE,
        /** One model call hangs past the model call timeout: the batch is retried without it. */
        MODEL_HANGS_ONCE
    }

    /**
     * ONNX Runtime with a 50 ms pause in each call; counts the calls under way in this JVM, and
     * makes the next call fail as {@link #ARMED} says, once.
     */
    static final class SlowModels implements BatchScorer.Factory {
        private static final long serialVersionUID = 1L;
        static final AtomicInteger CALLS_UNDER_WAY = new AtomicInteger();
        static final java.util.concurrent.atomic.AtomicReference<Fault> ARMED =
                new java.util.concurrent.atomic.AtomicReference<>();
        static final AtomicInteger FAULTS_DONE = new AtomicInteger();

        private final BatchScorer.Factory onnx;

        SlowModels(BatchScorer.Factory onnx) {
            this.onnx = onnx;
        }

        @Override
        public BatchScorer open() throws Exception {
            BatchScorer inner = onnx.open();
            return new BatchScorer() {
                @Override
                public ModelDescriptor descriptor() {
                    return inner.descriptor();
                }

                @Override
                public String executionProvider() {
                    return inner.executionProvider();
                }

                @Override
                public FloatBuffer newInputBuffer(int rows) {
                    return inner.newInputBuffer(rows);
                }

                @Override
                public void score(FloatBuffer rows, int n, float[] out) throws Exception {
                    CALLS_UNDER_WAY.incrementAndGet();
                    try {
                        Fault fault = ARMED.getAndSet(null);
                        if (fault != null) {
                            FAULTS_DONE.incrementAndGet();
                            switch (fault) {
                                case MODEL_THROWS_ONCE ->
                                        throw new IllegalStateException("the model failed once");
                                case MODEL_ERROR_ONCE ->
                                        throw new AssertionError("the model broke once");
                                case MODEL_HANGS_ONCE -> Thread.sleep(6_000);
                                default -> {}
                            }
                        }
                        Thread.sleep(50);
                        inner.score(rows, n, out);
                    } finally {
                        CALLS_UNDER_WAY.decrementAndGet();
                    }
                }

                @Override
                public void close() throws Exception {
                    inner.close();
                }
            };
        }
    }

    @ParameterizedTest
    @EnumSource(Fault.class)
    void scoresEveryTransactionExactlyOnceAcross(
            Fault fault, @InjectMiniCluster MiniCluster cluster) throws Exception {
        SlowModels.ARMED.set(null);
        SlowModels.FAULTS_DONE.set(0);
        String run = Long.toString(System.nanoTime());
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(ScoringOptions.TRANSACTIONS_TOPIC, "tm-loss-transactions-" + run);
        options.set(ScoringOptions.SCORES_TOPIC, "tm-loss-scores-" + run);
        options.set(ScoringOptions.DEAD_LETTER_TOPIC, "tm-loss-dead-letters-" + run);
        options.set(ScoringOptions.GROUP_ID, "tm-loss-" + run);
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ScoringOptions.RESTART_DELAY, Duration.ofSeconds(1));
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        options.set(BatchingOptions.BATCH_SIZE, 32);
        // One batch per subtask at a time: two calls under way means one in each subtask.
        options.set(BatchingOptions.MAX_IN_FLIGHT, 1);
        options.set(BatchingOptions.CACHE_TTL, Duration.ZERO);
        // The hung call (6 s) is given up after 2 s and its batch retried.
        options.set(BatchingOptions.MODEL_CALL_TIMEOUT, Duration.ofSeconds(2));
        ScoringConfig config = ScoringConfig.from(options);
        kafka.createTopics(
                2, config.transactionsTopic(), config.scoresTopic(), config.deadLetterTopic());

        ScoringStage slow =
                (enriched, c) ->
                        enriched.transform(
                                        "score: slow batched ONNX inference",
                                        TypeInformation.of(FraudScore.class),
                                        BatchingInferenceOperator.withScorers(
                                                        c.inference(),
                                                        new SlowModels(
                                                                OnnxBatchScorer.factory(
                                                                        c.inference()
                                                                                .modelLocation(),
                                                                        c.inference().onnx())))
                                                .withInputsOwned())
                                .uid("batching-inference");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        FraudScoringJob.buildKafkaJob(env, config, slow);
        JobClient job = env.executeAsync("task manager loss " + run);

        List<Transaction> transactions = new ArrayList<>();
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(31).withCards(500));
        for (int i = 0; i < TRANSACTIONS; i++) {
            transactions.add(generator.next().transaction());
        }
        AtomicInteger sent = new AtomicInteger();
        CompletableFuture<Void> producing =
                CompletableFuture.runAsync(() -> produce(config, transactions, sent));

        Map<String, Integer> scored = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(config)) {
            // A checkpoint has committed scores: there is state to restore from.
            readUntil(consumer, scored, 1, Duration.ofSeconds(120));
            int committed = scored.values().stream().mapToInt(i -> i).sum();
            if (fault == Fault.TASK_MANAGER_LOSS) {
                int underWayAtKill = awaitCallsUnderWay(2, Duration.ofSeconds(60));
                int sentAtKill = sent.get();
                cluster.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
                cluster.startTaskManager();
                System.out.printf(
                        "terminated TaskManager 0 with %d model calls under way, %d of %d sent,"
                                + " %d scores committed%n",
                        underWayAtKill, sentAtKill, TRANSACTIONS, committed);
                assertThat(underWayAtKill)
                        .as("model calls under way at the kill")
                        .isGreaterThanOrEqualTo(2);
                assertThat(sentAtKill)
                        .as("transactions still to come after the kill")
                        .isLessThan(TRANSACTIONS);
            } else {
                SlowModels.ARMED.set(fault);
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (SlowModels.FAULTS_DONE.get() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                System.out.printf(
                        "%s with %d of %d sent, %d scores committed%n",
                        fault, sent.get(), TRANSACTIONS, committed);
                assertThat(SlowModels.FAULTS_DONE.get()).as("faults injected").isEqualTo(1);
                assertThat(sent.get()).as("transactions still to come").isLessThan(TRANSACTIONS);
            }

            producing.get(120, TimeUnit.SECONDS);
            readUntil(consumer, scored, TRANSACTIONS, Duration.ofSeconds(180));
            // A duplicate would arrive right behind the expected output.
            readUntil(consumer, scored, Integer.MAX_VALUE, Duration.ofSeconds(3));
        } finally {
            JobStatus status = job.getJobStatus().get(10, TimeUnit.SECONDS);
            job.cancel().get(30, TimeUnit.SECONDS);
            assertThat(status).isEqualTo(JobStatus.RUNNING);
        }

        List<String> missing = new ArrayList<>();
        List<String> duplicated = new ArrayList<>();
        for (Transaction t : transactions) {
            int n = scored.getOrDefault(t.getTransactionId(), 0);
            if (n == 0) {
                missing.add(t.getTransactionId());
            } else if (n > 1) {
                duplicated.add(t.getTransactionId());
            }
        }
        assertThat(missing).as("transactions never scored").isEmpty();
        assertThat(duplicated).as("transactions scored more than once").isEmpty();
        assertThat(scored).hasSize(TRANSACTIONS);
    }

    private static int awaitCallsUnderWay(int calls, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            int now = SlowModels.CALLS_UNDER_WAY.get();
            if (now >= calls) {
                return now;
            }
            Thread.sleep(1);
        }
        return SlowModels.CALLS_UNDER_WAY.get();
    }

    private static void produce(
            ScoringConfig config, List<Transaction> transactions, AtomicInteger sent) {
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(KafkaClients.producer(kafka.bootstrapServers()))) {
            for (Transaction t : transactions) {
                producer.send(
                        new ProducerRecord<>(
                                config.transactionsTopic(),
                                t.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(t)));
                sent.incrementAndGet();
                Thread.sleep(3); // about 300 a second: the stream keeps flowing across the kill
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(ScoringConfig config) {
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        KafkaClients.readCommittedConsumer(
                                kafka.bootstrapServers(), "reader-" + config.groupId()));
        consumer.subscribe(List.of(config.scoresTopic(), config.deadLetterTopic()));
        return consumer;
    }

    private static void readUntil(
            KafkaConsumer<byte[], byte[]> consumer,
            Map<String, Integer> scored,
            int scores,
            Duration timeout)
            throws Exception {
        SingleObjectCodec<FraudScore> codec = SingleObjectCodec.of(FraudScore.class);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline
                && scored.values().stream().mapToInt(i -> i).sum() < scores) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                assertThat(r.topic()).as("no dead letters expected").doesNotContain("dead-letters");
                scored.merge(codec.decode(r.value()).getTransactionId(), 1, Integer::sum);
            }
        }
    }
}
