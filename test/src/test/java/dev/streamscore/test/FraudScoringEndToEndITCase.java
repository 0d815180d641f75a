package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole pipeline on real parts: an in-process KRaft Kafka broker, a Flink MiniCluster with the
 * RocksDB state backend, Avro single-object bytes on the wire, and the bundled model in ONNX
 * Runtime. Generated transactions and malformed records go in; every valid transaction must come
 * out scored exactly once, with the score ONNX Runtime gives for the same features computed
 * independently, and every malformed record exactly once on the dead-letter topic.
 */
class FraudScoringEndToEndITCase {

    private static final int TRANSACTIONS = 3_000;
    private static final String MODEL = "bundled:gbdt";

    @RegisterExtension
    static final MiniClusterExtension FLINK =
            SystemTestSupport.rocksDbMiniCluster(
                    1,
                    2,
                    // Any failure fails the job, so "never restarted" is checked by the job
                    // still running.
                    conf -> conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none"));

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    /** A malformed record sent, what stage must reject it, and where it landed. */
    private record Malformed(byte[] bytes, Stage stage, int partition, long offset) {}

    @ParameterizedTest
    @EnumSource(
            value = DeliveryGuarantee.class,
            names = {"AT_LEAST_ONCE", "EXACTLY_ONCE"})
    void scoresEveryValidTransactionOnceAndDeadLettersEveryMalformedRecordOnce(
            DeliveryGuarantee delivery) throws Exception {
        ScoringConfig config = config(delivery.name().toLowerCase(), delivery);
        List<Transaction> valid = new ArrayList<>();
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(11)
                                .withCards(300)
                                .withFraudRate(0.03));
        for (int i = 0; i < TRANSACTIONS; i++) {
            GeneratedTransaction g = generator.next();
            valid.add(g.transaction());
        }
        List<Malformed> malformed = produce(config.inputTopic(), valid, true);
        Map<String, List<FraudScore>> scores = new LinkedHashMap<>();
        List<DeadLetter> deadLetters = new ArrayList<>();
        runJobUntil(config, scores, deadLetters, TRANSACTIONS, malformed.size());

        // Exactly one score per valid transaction id.
        assertThat(scores.keySet())
                .containsExactlyInAnyOrderElementsOf(
                        valid.stream().map(Transaction::getTransactionId).toList());
        assertThat(scores.values()).allSatisfy(list -> assertThat(list).hasSize(1));

        // Each score equals ONNX Runtime's score of the same features, computed here independently.
        float[] expected = SystemTestSupport.referenceScores(valid, MODEL);
        ModelDescriptor descriptor = ModelArtifact.load(MODEL).descriptor();
        int declines = 0;
        for (int i = 0; i < valid.size(); i++) {
            Transaction txn = valid.get(i);
            FraudScore score = scores.get(txn.getTransactionId()).get(0);
            assertThat(score.getScore())
                    .as("score of %s", txn.getTransactionId())
                    .isCloseTo(expected[i], Offset.offset(1e-6));
            assertThat(score.getDecision()).isEqualTo(decision(expected[i], descriptor));
            assertThat(score.getCardId()).isEqualTo(txn.getCardId());
            assertThat(score.getEventTime()).isEqualTo(txn.getEventTime());
            assertThat(score.getModelName()).isEqualTo(descriptor.name());
            assertThat(score.getModelVersion()).isEqualTo(descriptor.version());
            declines += score.getDecision() == Decision.DECLINE ? 1 : 0;
        }
        assertThat(declines).as("the workload has fraud the model declines").isPositive();

        // Each malformed record exactly once on the dead-letter topic, with its original bytes.
        assertThat(deadLetters).hasSize(malformed.size());
        for (Malformed bad : malformed) {
            List<DeadLetter> matches =
                    deadLetters.stream()
                            .filter(
                                    d ->
                                            d.getSourcePartition() == bad.partition()
                                                    && d.getSourceOffset() == bad.offset())
                            .toList();
            assertThat(matches)
                    .as("dead letters for offset %s/%s", bad.partition(), bad.offset())
                    .hasSize(1);
            DeadLetter letter = matches.get(0);
            assertThat(letter.getStage()).isEqualTo(bad.stage());
            assertThat(letter.getSourceTopic()).isEqualTo(config.inputTopic());
            assertThat(bytes(letter.getPayload())).isEqualTo(bad.bytes());
            assertThat(letter.getErrorMessage()).isNotBlank();
        }
    }

    /**
     * Re-sent transactions (as at-least-once producers send them) come out scored twice, as they
     * went in, but the second time from the cache with the first score, and without being counted
     * twice in their card's features: every score still equals the one for features computed here
     * from the stream without the re-sends.
     */
    @Test
    void resentTransactionsGetTheirFirstScoreFromTheCacheAndAreNotCountedTwice() throws Exception {
        ScoringConfig config = config("resent", DeliveryGuarantee.AT_LEAST_ONCE);
        List<Transaction> sent = new ArrayList<>();
        List<Transaction> originals = new ArrayList<>();
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(12)
                                .withCards(200)
                                .withDuplicateRate(0.05));
        int resent = 0;
        for (int i = 0; i < 2_000; i++) {
            GeneratedTransaction g = generator.next();
            sent.add(g.transaction());
            if (g.duplicate()) {
                resent++;
            } else {
                originals.add(g.transaction());
            }
        }
        assertThat(resent).isGreaterThan(50);
        produce(config.inputTopic(), sent, false);
        Map<String, List<FraudScore>> scores = new LinkedHashMap<>();
        runJobUntil(config, scores, new ArrayList<>(), sent.size(), 0);

        float[] expected = SystemTestSupport.referenceScores(originals, MODEL);
        for (int i = 0; i < originals.size(); i++) {
            Transaction original = originals.get(i);
            List<FraudScore> got = scores.get(original.getTransactionId());
            long copies = sent.stream().filter(t -> t == original).count();
            assertThat(got).hasSize((int) copies);
            for (FraudScore s : got) {
                assertThat(s.getScore()).isCloseTo(expected[i], Offset.offset(1e-6));
                assertThat(s.getDecision()).isEqualTo(got.get(0).getDecision());
            }
            if (copies == 2) {
                // The cache keeps scores, not reasons: a flagged re-send is scored again for its
                // reasons, unless it came while the first was still being scored and shared its
                // row (and reasons) as a coalesced cache hit. Either way it has the same reasons.
                if (got.get(0).getDecision() == Decision.APPROVE) {
                    assertThat(got.stream().filter(FraudScore::getCacheHit).count())
                            .as("re-sent %s", original.getTransactionId())
                            .isEqualTo(1);
                } else {
                    assertThat(got.get(0).getCacheHit()).isFalse();
                    assertThat(got.get(1).getReasons())
                            .as("reasons of re-sent %s", original.getTransactionId())
                            .isNotEmpty()
                            .isEqualTo(got.get(0).getReasons());
                }
            }
        }
    }

    private static ScoringConfig config(String run, DeliveryGuarantee delivery) throws Exception {
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.INPUT_TOPIC, "transactions-" + run);
        options.set(ScoringOptions.SCORES_TOPIC, "scores-" + run);
        options.set(ScoringOptions.DEAD_LETTER_TOPIC, "dead-letters-" + run);
        options.set(ScoringOptions.GROUP_ID, "streamscore-" + run);
        options.set(ScoringOptions.TRANSACTIONAL_ID_PREFIX, "streamscore-it-" + run);
        // Any failure fails the job (the job's own restart strategy would hide it).
        options.set(ScoringOptions.MAX_FAILURES, 0);
        options.set(InferenceOptions.MODEL, MODEL);
        options.set(ScoringOptions.DELIVERY, delivery);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(BatchingOptions.BATCH_SIZE, 64);
        options.set(ScoringOptions.PARALLELISM, 2);
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));
        return config;
    }

    /** Runs the job until the expected output arrived (and a little longer, to catch extras). */
    private static void runJobUntil(
            ScoringConfig config,
            Map<String, List<FraudScore>> scores,
            List<DeadLetter> deadLetters,
            int expectedScores,
            int expectedDeadLetters)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("streamscore end-to-end " + config.inputTopic());
        try {
            consume(
                    config,
                    scores,
                    deadLetters,
                    expectedScores,
                    expectedDeadLetters,
                    Duration.ofSeconds(180));
            // Anything extra (a duplicate) would arrive right behind the expected output.
            consume(
                    config,
                    scores,
                    deadLetters,
                    Integer.MAX_VALUE,
                    Integer.MAX_VALUE,
                    Duration.ofSeconds(3));
            assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.RUNNING);
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    private static Decision decision(float score, ModelDescriptor d) {
        return score >= d.thresholds().decline()
                ? Decision.DECLINE
                : score >= d.thresholds().review() ? Decision.REVIEW : Decision.APPROVE;
    }

    /**
     * Sends the valid transactions keyed by card, with malformed records of every kind among them.
     */
    private static List<Malformed> produce(
            String topic, List<Transaction> valid, boolean withMalformed) throws Exception {
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        Properties props = KafkaClients.producer(KAFKA.get().bootstrapServers());
        Transaction sample = valid.get(0);
        byte[] good = codec.encode(sample);
        byte[] unknownFingerprint = good.clone();
        unknownFingerprint[2] ^= 0x5a;
        List<Object[]> bad =
                List.of(
                        new Object[] {
                            "not avro at all".getBytes(StandardCharsets.UTF_8), Stage.DECODE
                        },
                        new Object[] {new byte[0], Stage.DECODE},
                        new Object[] {java.util.Arrays.copyOf(good, good.length / 2), Stage.DECODE},
                        new Object[] {unknownFingerprint, Stage.DECODE},
                        new Object[] {
                            codec.encode(
                                    Transaction.newBuilder(sample).setCurrency("dollars").build()),
                            Stage.VALIDATE
                        },
                        new Object[] {
                            codec.encode(Transaction.newBuilder(sample).setAmountMinor(-5).build()),
                            Stage.VALIDATE
                        },
                        new Object[] {
                            codec.encode(
                                    Transaction.newBuilder(sample)
                                            .setMerchantCategory("59x1")
                                            .build()),
                            Stage.VALIDATE
                        });
        List<Malformed> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            int step = valid.size() / bad.size();
            for (int i = 0; i < valid.size(); i++) {
                Transaction txn = valid.get(i);
                producer.send(new ProducerRecord<>(topic, key(txn), codec.encode(txn)));
                if (withMalformed && i % step == step / 2 && sent.size() < bad.size()) {
                    Object[] b = bad.get(sent.size());
                    byte[] bytes = (byte[]) b[0];
                    RecordMetadata meta =
                            producer.send(new ProducerRecord<>(topic, key(txn), bytes)).get();
                    sent.add(new Malformed(bytes, (Stage) b[1], meta.partition(), meta.offset()));
                }
            }
        }
        assertThat(sent).hasSize(withMalformed ? bad.size() : 0);
        return sent;
    }

    private static byte[] key(Transaction txn) {
        return txn.getCardId().getBytes(StandardCharsets.UTF_8);
    }

    private static void consume(
            ScoringConfig config,
            Map<String, List<FraudScore>> scores,
            List<DeadLetter> deadLetters,
            int expectedScores,
            int expectedDeadLetters,
            Duration timeout)
            throws Exception {
        SingleObjectCodec<FraudScore> scoreCodec = SingleObjectCodec.of(FraudScore.class);
        SingleObjectCodec<DeadLetter> deadLetterCodec = SingleObjectCodec.of(DeadLetter.class);
        Properties props =
                KafkaClients.readCommittedConsumer(
                        KAFKA.get().bootstrapServers(), "it-reader-" + config.groupId());
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(config.scoresTopic(), config.deadLetterTopic()));
            while (System.nanoTime() < deadline
                    && (scoreCount(scores) < expectedScores
                            || deadLetters.size() < expectedDeadLetters)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(config.scoresTopic())) {
                        FraudScore s = scoreCodec.decode(r.value());
                        scores.computeIfAbsent(s.getTransactionId(), k -> new ArrayList<>()).add(s);
                    } else {
                        deadLetters.add(deadLetterCodec.decode(r.value()));
                    }
                }
            }
            consumer.commitSync();
        }
    }

    private static int scoreCount(Map<String, List<FraudScore>> scores) {
        return scores.values().stream().mapToInt(List::size).sum();
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }
}
