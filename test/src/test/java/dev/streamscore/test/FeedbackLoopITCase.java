package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.schemas.Decision;
import dev.streamscore.schemas.FeatureLogEntry;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.LabelSource;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.ModelQuality;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.Reason;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.FeatureRows;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.StreamscoreCli;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What a fraud team gets beside the scores, on real parts (KRaft broker, MiniCluster on RocksDB,
 * ONNX Runtime): generated traffic with known fraud is scored by a champion (GBDT, TreeSHAP
 * reasons) and a challenger (MLP); labels arrive afterwards, one malformed among them; the job's
 * reported precision, recall and PR-AUC of each model must equal those computed here from the
 * generator's labels and the scores read from the output topics. The feature log must hold the
 * exact row of each score, and {@code export-training-data --from-feature-log} must turn it and the
 * labels into the training CSV.
 */
class FeedbackLoopITCase {

    private static final int TRANSACTIONS = 3_000;

    @RegisterExtension
    static final MiniClusterExtension FLINK =
            SystemTestSupport.rocksDbMiniCluster(
                    1, 2, conf -> conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none"));

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    @Test
    void reportsEachModelsQualityFromLaterLabelsAndLogsTheFeaturesItServed(@TempDir Path dir)
            throws Exception {
        ScoringConfig config = config();
        List<GeneratedTransaction> generated = new ArrayList<>();
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(21)
                                .withCards(300)
                                .withFraudRate(0.03));
        for (int i = 0; i < TRANSACTIONS; i++) {
            generated.add(generator.next());
        }
        List<Transaction> transactions = generated.stream().map(g -> g.transaction()).toList();
        Map<String, Boolean> fraud = new HashMap<>();
        for (GeneratedTransaction g : generated) {
            fraud.put(g.transaction().getTransactionId(), g.labelledFraud());
        }
        assertThat(fraud.values().stream().filter(f -> f).count()).isGreaterThan(30);

        SingleObjectCodec<Transaction> txnCodec = SingleObjectCodec.of(Transaction.class);
        send(
                config.inputTopic(),
                transactions.stream()
                        .map(
                                t ->
                                        new ProducerRecord<>(
                                                config.inputTopic(),
                                                bytes(t.getCardId()),
                                                txnCodec.encode(t)))
                        .toList());

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("streamscore feedback loop");
        Output out = new Output();
        try (out) {
            // Every transaction scored and logged before any label exists. The challenger may
            // skip rows when it falls behind (it never slows the champion): its quality is
            // checked over the scores it wrote.
            out.readUntil(
                    config,
                    o ->
                            o.champion.size() == TRANSACTIONS
                                    && o.logged.size() == TRANSACTIONS
                                    && !o.challenger.isEmpty());

            // Then the labels: every transaction's, a repeat with the other verdict, and garbage.
            SingleObjectCodec<FraudLabel> labelCodec = SingleObjectCodec.of(FraudLabel.class);
            List<ProducerRecord<byte[], byte[]>> labels = new ArrayList<>();
            for (Transaction t : transactions) {
                boolean f = fraud.get(t.getTransactionId());
                labels.add(label(config, labelCodec, t.getTransactionId(), f));
            }
            String first = transactions.get(0).getTransactionId();
            labels.add(label(config, labelCodec, first, !fraud.get(first)));
            labels.add(
                    new ProducerRecord<>(config.labelsTopic(), bytes("x"), bytes("not a label")));
            send(config.labelsTopic(), labels);

            out.readUntil(
                    config,
                    o ->
                            latest(o, ModelRole.CHAMPION) != null
                                    && latest(o, ModelRole.CHAMPION).getLabelledTotal()
                                            == TRANSACTIONS
                                    && latest(o, ModelRole.CHALLENGER) != null
                                    && latest(o, ModelRole.CHALLENGER).getLabelledTotal()
                                            == o.challenger.size()
                                    && o.deadLetters >= 1);
            assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.RUNNING);
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }

        // Quality: what the job reports equals what the generator's labels and the scores give.
        for (ModelRole role : ModelRole.values()) {
            Map<String, FraudScore> scores =
                    role == ModelRole.CHAMPION ? out.champion : out.challenger;
            ModelQuality reported = latest(out, role);
            Expected expected = Expected.of(scores.values(), fraud);
            assertThat(reported.getLabelled()).as("%s", role).isEqualTo(scores.size());
            assertThat(reported.getFrauds()).isEqualTo(expected.frauds);
            assertThat(reported.getFlagged()).isEqualTo(expected.flagged);
            assertThat(reported.getPrecisionAtReview()).isEqualTo(expected.precisionAtReview);
            assertThat(reported.getRecallAtReview()).isEqualTo(expected.recallAtReview);
            assertThat(reported.getPrecisionAtDecline()).isEqualTo(expected.precisionAtDecline);
            assertThat(reported.getRecallAtDecline()).isEqualTo(expected.recallAtDecline);
            assertThat(reported.getPrAuc())
                    .as("%s PR-AUC", role)
                    .isCloseTo(expected.prAuc, org.assertj.core.data.Offset.offset(1e-12));
            assertThat(reported.getModelName())
                    .isEqualTo(role == ModelRole.CHAMPION ? "fraud-gbdt" : "fraud-mlp");
        }
        assertThat(latest(out, ModelRole.CHAMPION).getRecallAtReview()).isGreaterThan(0.5);
        assertThat(out.challenger.size()).isGreaterThan(TRANSACTIONS / 2);

        // Reasons: on every flagged champion score, none on the others.
        for (FraudScore s : out.champion.values()) {
            if (s.getDecision() == Decision.APPROVE) {
                assertThat(s.getReasons()).isEmpty();
            } else {
                assertThat(s.getReasons()).as(s.getTransactionId()).hasSizeBetween(1, 3);
                for (Reason r : s.getReasons()) {
                    assertThat(CardFeatures.NAMES).contains(r.getFeature());
                    assertThat(r.getContribution()).isPositive();
                }
            }
        }

        // The feature log: each score's exact row, as computed here independently.
        float[][] rows = FeatureRows.of(transactions);
        for (int i = 0; i < TRANSACTIONS; i++) {
            Transaction t = transactions.get(i);
            FeatureLogEntry entry = out.logged.get(t.getTransactionId());
            FraudScore score = out.champion.get(t.getTransactionId());
            assertThat(entry.getScore()).isEqualTo(score.getScore());
            assertThat(entry.getDecision()).isEqualTo(score.getDecision());
            assertThat(entry.getModelName()).isEqualTo("fraud-gbdt");
            for (int f = 0; f < CardFeatures.COUNT; f++) {
                assertThat(entry.getFeatures().get(f)).isEqualTo(rows[i][f]);
            }
        }

        // The training CSV from the feature log and the labels.
        Path csv = dir.resolve("served.csv");
        CommandLine cli = StreamscoreCli.commandLine();
        int exit =
                cli.execute(
                        "export-training-data",
                        "--from-feature-log",
                        "--bootstrap-servers",
                        KAFKA.get().bootstrapServers(),
                        "--feature-log-topic",
                        config.featureLogTopic(),
                        "--labels-topic",
                        config.labelsTopic(),
                        "--out",
                        csv.toString());
        assertThat(exit).isZero();
        List<String> lines = Files.readAllLines(csv);
        assertThat(lines.get(0))
                .isEqualTo(
                        "transaction_id,card_id,event_time,fraud_pattern,label,"
                                + String.join(",", CardFeatures.NAMES));
        assertThat(lines).hasSize(TRANSACTIONS + 1);
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < TRANSACTIONS; i++) {
            index.put(transactions.get(i).getTransactionId(), i);
        }
        long previousTime = Long.MIN_VALUE;
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            int i = index.get(cells[0]);
            Transaction t = transactions.get(i);
            assertThat(cells[1]).isEqualTo(t.getCardId());
            long time = Long.parseLong(cells[2]);
            assertThat(time)
                    .isEqualTo(t.getEventTime().toEpochMilli())
                    .isGreaterThanOrEqualTo(previousTime);
            previousTime = time;
            boolean f = fraud.get(cells[0]);
            assertThat(cells[4]).isEqualTo(f ? "1" : "0");
            assertThat(cells[3]).isEqualTo(f ? "chargeback" : "none");
            for (int c = 0; c < CardFeatures.COUNT; c++) {
                assertThat(Float.parseFloat(cells[5 + c])).isEqualTo(rows[i][c]);
            }
        }
    }

    private static ModelQuality latest(Output o, ModelRole role) {
        return o.quality.get(role);
    }

    /** Precision, recall and PR-AUC computed here from the scores and the generator's labels. */
    private record Expected(
            long frauds,
            long flagged,
            double precisionAtReview,
            double recallAtReview,
            double precisionAtDecline,
            double recallAtDecline,
            double prAuc) {

        static Expected of(java.util.Collection<FraudScore> scores, Map<String, Boolean> fraud) {
            long frauds = 0;
            long flagged = 0;
            long tpFlagged = 0;
            long declined = 0;
            long tpDeclined = 0;
            for (FraudScore s : scores) {
                boolean f = fraud.get(s.getTransactionId());
                frauds += f ? 1 : 0;
                if (s.getDecision() != Decision.APPROVE) {
                    flagged++;
                    tpFlagged += f ? 1 : 0;
                }
                if (s.getDecision() == Decision.DECLINE) {
                    declined++;
                    tpDeclined += f ? 1 : 0;
                }
            }
            // Average precision, by its definition: at each distinct score, highest first, the
            // precision of everything at or above it times the recall the score adds.
            List<FraudScore> sorted = new ArrayList<>(scores);
            sorted.sort(
                    Comparator.comparingDouble((FraudScore s) -> (float) s.getScore()).reversed());
            double ap = 0;
            double lastRecall = 0;
            long tp = 0;
            int i = 0;
            while (i < sorted.size()) {
                float at = (float) sorted.get(i).getScore();
                while (i < sorted.size() && (float) sorted.get(i).getScore() == at) {
                    tp += fraud.get(sorted.get(i).getTransactionId()) ? 1 : 0;
                    i++;
                }
                double recall = (double) tp / frauds;
                ap += (recall - lastRecall) * tp / (double) i;
                lastRecall = recall;
            }
            return new Expected(
                    frauds,
                    flagged,
                    (double) tpFlagged / flagged,
                    (double) tpFlagged / frauds,
                    (double) tpDeclined / declined,
                    (double) tpDeclined / frauds,
                    ap);
        }
    }

    /** What the job wrote, read as an outside consumer would. */
    private static final class Output implements AutoCloseable {
        final Map<String, FraudScore> champion = new HashMap<>();
        final Map<String, FraudScore> challenger = new HashMap<>();
        final Map<String, FeatureLogEntry> logged = new HashMap<>();
        final Map<ModelRole, ModelQuality> quality = new HashMap<>();
        int deadLetters;

        private KafkaConsumer<byte[], byte[]> consumer;

        @Override
        public void close() {
            if (consumer != null) {
                consumer.close();
            }
        }

        void readUntil(ScoringConfig config, java.util.function.Predicate<Output> done)
                throws SingleObjectCodec.DecodeException {
            SingleObjectCodec<FraudScore> scores = SingleObjectCodec.of(FraudScore.class);
            SingleObjectCodec<FeatureLogEntry> entries =
                    SingleObjectCodec.of(FeatureLogEntry.class);
            SingleObjectCodec<ModelQuality> qualities = SingleObjectCodec.of(ModelQuality.class);
            if (consumer == null) {
                Properties props =
                        KafkaClients.readCommittedConsumer(
                                KAFKA.get().bootstrapServers(), "it-feedback");
                consumer = new KafkaConsumer<>(props);
                consumer.subscribe(
                        List.of(
                                config.scoresTopic(),
                                config.challengerScoresTopic(),
                                config.featureLogTopic(),
                                config.qualityTopic(),
                                config.deadLetterTopic()));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
            while (!done.test(this)) {
                assertThat(System.nanoTime()).as("output within 180 s").isLessThan(deadline);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    String topic = r.topic();
                    if (topic.equals(config.scoresTopic())) {
                        FraudScore s = scores.decode(r.value());
                        assertThat(champion.put(s.getTransactionId(), s)).isNull();
                    } else if (topic.equals(config.challengerScoresTopic())) {
                        FraudScore s = scores.decode(r.value());
                        assertThat(challenger.put(s.getTransactionId(), s)).isNull();
                    } else if (topic.equals(config.featureLogTopic())) {
                        FeatureLogEntry e = entries.decode(r.value());
                        assertThat(logged.put(e.getTransactionId(), e)).isNull();
                    } else if (topic.equals(config.qualityTopic())) {
                        ModelQuality q = qualities.decode(r.value());
                        quality.put(q.getRole(), q);
                    } else {
                        deadLetters++;
                    }
                }
            }
        }
    }

    private static ProducerRecord<byte[], byte[]> label(
            ScoringConfig config, SingleObjectCodec<FraudLabel> codec, String id, boolean fraud) {
        FraudLabel label =
                FraudLabel.newBuilder()
                        .setTransactionId(id)
                        .setLabel(fraud ? LabelValue.FRAUD : LabelValue.GENUINE)
                        .setSource(fraud ? LabelSource.CHARGEBACK : LabelSource.ANALYST)
                        .setLabelledAt(Instant.now())
                        .build();
        return new ProducerRecord<>(config.labelsTopic(), bytes(id), codec.encode(label));
    }

    private static void send(String topic, List<ProducerRecord<byte[], byte[]>> records)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(KafkaClients.producer(KAFKA.get().bootstrapServers()))) {
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r);
            }
            producer.flush();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static ScoringConfig config() throws Exception {
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.INPUT_TOPIC, "fb-transactions");
        options.set(ScoringOptions.SCORES_TOPIC, "fb-scores");
        options.set(ScoringOptions.DEAD_LETTER_TOPIC, "fb-dead-letters");
        options.set(ScoringOptions.CONTROL_TOPIC, "fb-control");
        options.set(ScoringOptions.MODEL_STATUS_TOPIC, "fb-status");
        options.set(ScoringOptions.CHALLENGER_SCORES_TOPIC, "fb-challenger-scores");
        options.set(ScoringOptions.FEATURE_LOG_TOPIC, "fb-feature-log");
        options.set(ScoringOptions.LABELS_TOPIC, "fb-labels");
        options.set(ScoringOptions.QUALITY_TOPIC, "fb-quality");
        options.set(ScoringOptions.QUALITY_INTERVAL, Duration.ofMillis(500));
        options.set(ScoringOptions.QUALITY_WINDOW, 2 * TRANSACTIONS);
        options.set(ScoringOptions.GROUP_ID, "fb");
        options.set(ScoringOptions.MAX_FAILURES, 0);
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        options.set(ScoringOptions.CHALLENGER_MODEL, "bundled:mlp");
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(BatchingOptions.BATCH_SIZE, 64);
        options.set(ScoringOptions.PARALLELISM, 2);
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));
        return config;
    }
}
