package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * The second domain end to end: the merchant-payouts pipeline (pipelines/examples/payouts: JSON in,
 * Avro out, its own schema, aggregates, features and logistic-regression model) on a real broker
 * and a MiniCluster on RocksDB. Its committed events go in keyed by merchant, with 2% of them
 * arriving up to 100 positions late and 2% sent twice, and with garbage, a record missing a
 * required field and one whose amount makes a feature infinite among them. Every valid payout must
 * come out scored once per copy sent, with the score ONNX Runtime gives for features this test
 * computes with its own straightforward implementation of the file's semantics (a scan over the
 * merchant's earlier payouts), each bad record exactly once on the dead-letter topic, the scores
 * readable with a plain Avro reader and the output schema, and the job never restarted.
 */
class PayoutsPipelineITCase {

    static final Path EXAMPLE =
            Path.of("..", "pipelines", "examples", "payouts").toAbsolutePath().normalize();

    @RegisterExtension
    static final MiniClusterExtension FLINK =
            SystemTestSupport.rocksDbMiniCluster(
                    1, 2, conf -> conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none"));

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A bad record sent, the stage that must reject it, and where it landed. */
    private record Bad(String what, byte[] bytes, Stage stage, int partition, long offset) {}

    @Test
    void scoresEveryPayoutOnceWithIndependentlyComputedFeaturesAndDeadLettersEachBadRecord(
            @TempDir Path dir) throws Exception {
        // The example file, but a reversal (a negative amount) passes its checks, so that one
        // makes amount_log infinite: log1p(-100 / 100.0).
        String yaml =
                Files.readString(EXAMPLE.resolve("payouts.yaml"))
                        .replace("- amount_minor > 0", "- amount_minor != 0")
                        .replace("model: model ", "model: " + EXAMPLE.resolve("model") + " ")
                        .replace(
                                "schema: Payout.avsc", "schema: " + EXAMPLE.resolve("Payout.avsc"));
        Path file = dir.resolve("payouts.yaml");
        Files.writeString(file, yaml);
        Pipeline pipeline = Pipeline.load(file.toString(), null, true);

        List<ObjectNode> payouts = new ArrayList<>();
        for (String line : Files.readAllLines(EXAMPLE.resolve("events.jsonl"))) {
            payouts.add((ObjectNode) JSON.readTree(line));
        }
        List<ObjectNode> arrivals = arrivals(payouts);
        ScoringConfig config = config(file);
        List<Bad> bad = produce(config.inputTopic(), arrivals, payouts.get(0));

        Map<String, List<GenericRecord>> scores = new LinkedHashMap<>();
        List<DeadLetter> deadLetters = new ArrayList<>();
        runJobUntil(config, pipeline, scores, deadLetters, arrivals.size(), bad.size());

        // Every valid payout scored once per copy sent, with the score of independent features.
        Map<String, float[]> expectedRows = independentFeatures(arrivals);
        List<String> ids = new ArrayList<>(expectedRows.keySet());
        float[] expected;
        ModelDescriptor model;
        try (OnnxModel onnx = OnnxModel.open(pipeline.model(), OnnxOptions.DEFAULT)) {
            model = onnx.descriptor();
            expected = onnx.score(ids.stream().map(expectedRows::get).toArray(float[][]::new));
        }
        Map<String, Integer> copies = new HashMap<>();
        arrivals.forEach(p -> copies.merge(p.get("payout_id").asText(), 1, Integer::sum));
        assertThat(scores.keySet()).containsExactlyInAnyOrderElementsOf(ids);
        int flagged = 0;
        for (int i = 0; i < ids.size(); i++) {
            List<GenericRecord> got = scores.get(ids.get(i));
            assertThat(got).as("scores of %s", ids.get(i)).hasSize(copies.get(ids.get(i)));
            for (GenericRecord s : got) {
                assertThat((double) s.get("score"))
                        .as("score of %s", ids.get(i))
                        .isCloseTo(expected[i], Offset.offset(1e-6));
                assertThat(s.get("decision").toString()).isEqualTo(decision(expected[i], model));
                assertThat(s.get("model_name").toString()).isEqualTo("payouts-logreg");
                assertThat(s.get("model_sha256").toString()).isEqualTo(model.sha256());
            }
            flagged += expected[i] >= model.thresholds().review() ? 1 : 0;
        }
        assertThat(flagged).as("the example has payouts the model flags").isPositive();

        // Each bad record exactly once on the dead-letter topic, with its original bytes.
        assertThat(deadLetters).hasSize(bad.size());
        for (Bad b : bad) {
            List<DeadLetter> matches =
                    deadLetters.stream()
                            .filter(
                                    d ->
                                            d.getSourcePartition() == b.partition()
                                                    && d.getSourceOffset() == b.offset())
                            .toList();
            assertThat(matches).as(b.what()).hasSize(1);
            assertThat(matches.get(0).getStage()).as(b.what()).isEqualTo(b.stage());
            assertThat(bytes(matches.get(0).getPayload())).isEqualTo(b.bytes());
            assertThat(matches.get(0).getErrorMessage()).isNotBlank();
        }
        DeadLetter infinite =
                deadLetters.stream()
                        .filter(d -> d.getErrorMessage().contains("amount_log"))
                        .findFirst()
                        .orElseThrow();
        assertThat(infinite.getErrorMessage()).contains("-Infinity");
    }

    /** Payouts in arrival order: 2% delayed by up to 100 positions, 2% sent again later. */
    static List<ObjectNode> arrivals(List<ObjectNode> payouts) {
        Random random = new Random(25);
        List<ObjectNode> out = new ArrayList<>();
        Map<Integer, List<ObjectNode>> later = new HashMap<>();
        for (int i = 0; i < payouts.size(); i++) {
            ObjectNode p = payouts.get(i);
            double r = random.nextDouble();
            if (r < 0.02) {
                later.computeIfAbsent(i + 1 + random.nextInt(100), k -> new ArrayList<>()).add(p);
            } else {
                out.add(p);
                if (r < 0.04) {
                    later.computeIfAbsent(i + 1 + random.nextInt(100), k -> new ArrayList<>())
                            .add(p);
                }
            }
            List<ObjectNode> due = later.remove(i);
            if (due != null) {
                out.addAll(due);
            }
        }
        later.keySet().stream().sorted().forEach(k -> out.addAll(later.get(k)));
        return out;
    }

    /**
     * Each payout's features as the file defines them, by brute force: for a payout at time t, the
     * merchant's payouts received before it (a re-send not counted again) with a time at most t,
     * and within the window; first/last by (time, arrival).
     */
    static Map<String, float[]> independentFeatures(List<ObjectNode> arrivals) {
        Map<String, List<ObjectNode>> byMerchant = new HashMap<>();
        Map<String, float[]> rows = new LinkedHashMap<>();
        for (ObjectNode p : arrivals) {
            String id = p.get("payout_id").asText();
            if (rows.containsKey(id)) {
                continue; // a re-send: its first row, nothing counted again
            }
            List<ObjectNode> earlier =
                    byMerchant.computeIfAbsent(
                            p.get("merchant_id").asText(), k -> new ArrayList<>());
            long t = p.get("requested_at").asLong();
            long amount = p.get("amount_minor").asLong();
            List<ObjectNode> before = new ArrayList<>();
            for (ObjectNode e : earlier) {
                if (e.get("requested_at").asLong() <= t) {
                    before.add(e);
                }
            }
            // (time, arrival) order: a stable sort of the arrival-ordered list.
            before.sort(java.util.Comparator.comparingLong(e -> e.get("requested_at").asLong()));
            long day = 86_400_000L;
            double count30 = 0;
            double sum30 = 0;
            double max30 = Double.NEGATIVE_INFINITY;
            Set<String> accounts7 = new HashSet<>();
            long instant24 = 0;
            for (ObjectNode e : before) {
                long te = e.get("requested_at").asLong();
                if (te > t - 30 * day) {
                    count30++;
                    sum30 += e.get("amount_minor").asLong();
                    max30 = Math.max(max30, e.get("amount_minor").asLong());
                }
                if (te > t - 7 * day) {
                    accounts7.add(e.get("bank_account_id").asText());
                }
                if (te > t - day && e.get("method").asText().equals("INSTANT")) {
                    instant24++;
                }
            }
            double avg30 = count30 > 0 ? sum30 / count30 : 0.0;
            long seen = before.size();
            ObjectNode last = seen > 0 ? before.get(before.size() - 1) : null;
            ObjectNode first = seen > 0 ? before.get(0) : null;
            String account = p.get("bank_account_id").asText();
            double amountLog = Math.log1p(amount / 100.0);
            double hour = ((t % day) + day) % day / 3_600_000.0;
            double cap = Math.log1p(720.0);
            double[] f = {
                amountLog,
                count30 == 0 ? 0.0 : amountLog - Math.log1p(avg30 / 100.0),
                count30 == 0 ? 0.0 : amountLog - Math.log1p(max30 / 100.0),
                amount / (sum30 + (double) amount + 1.0),
                p.get("method").asText().equals("INSTANT") ? 1.0 : 0.0,
                seen > 0 && !account.equals(last.get("bank_account_id").asText()) ? 1.0 : 0.0,
                seen > 0 && !account.equals(first.get("bank_account_id").asText()) ? 1.0 : 0.0,
                seen > 0 && !p.get("country").asText().equals(last.get("country").asText())
                        ? 1.0
                        : 0.0,
                accounts7.size(),
                Math.log1p(instant24),
                seen == 0
                        ? cap
                        : Math.min(
                                Math.log1p((t - last.get("requested_at").asLong()) / 3_600_000.0),
                                cap),
                Math.sin(hour * 0.2617993877991494),
                Math.cos(hour * 0.2617993877991494),
                Math.log1p(seen)
            };
            float[] row = new float[f.length];
            for (int i = 0; i < f.length; i++) {
                row[i] = (float) f[i];
            }
            rows.put(id, row);
            earlier.add(p);
        }
        return rows;
    }

    private static String decision(float score, ModelDescriptor d) {
        return score >= d.thresholds().decline()
                ? "DECLINE"
                : score >= d.thresholds().review() ? "REVIEW" : "APPROVE";
    }

    private static ScoringConfig config(Path pipeline) throws Exception {
        Configuration options = new Configuration();
        options.set(ScoringOptions.PIPELINE, pipeline.toString());
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.GROUP_ID, "streamscore-payouts");
        options.set(ScoringOptions.TRANSACTIONAL_ID_PREFIX, "streamscore-it-payouts");
        options.set(ScoringOptions.MAX_FAILURES, 0);
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(BatchingOptions.BATCH_SIZE, 64);
        options.set(ScoringOptions.PARALLELISM, 2);
        ScoringConfig config = ScoringConfig.from(options);
        assertThat(config.inputTopic()).isEqualTo("payouts");
        assertThat(config.scoresTopic()).isEqualTo("payout-scores");
        assertThat(config.deadLetterTopic()).isEqualTo("payouts-dead-letter");
        KAFKA.get().createTopics(config.topicPartitions(2));
        return config;
    }

    /** Sends the payouts keyed by merchant, with one of each kind of bad record among them. */
    private static List<Bad> produce(String topic, List<ObjectNode> arrivals, ObjectNode sample)
            throws Exception {
        ObjectNode missing = sample.deepCopy();
        missing.remove("amount_minor");
        missing.put("payout_id", "po_missing_amount");
        ObjectNode reversal = sample.deepCopy();
        reversal.put("payout_id", "po_reversal");
        reversal.put("amount_minor", -100);
        Object[][] bad = {
            {"garbage", new byte[] {(byte) 0xC3, 0x01, 0x7f, 0x00, 0x12, '{', '"'}, Stage.DECODE},
            {"missing amount_minor", JSON.writeValueAsBytes(missing), Stage.DECODE},
            {"infinite amount_log", JSON.writeValueAsBytes(reversal), Stage.VALIDATE},
        };
        List<Bad> sent = new ArrayList<>();
        Properties props = KafkaClients.producer(KAFKA.get().bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            int step = arrivals.size() / (bad.length + 1);
            for (int i = 0; i < arrivals.size(); i++) {
                ObjectNode p = arrivals.get(i);
                byte[] key = p.get("merchant_id").asText().getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(topic, key, JSON.writeValueAsBytes(p)));
                if (i % step == step / 2 && sent.size() < bad.length) {
                    Object[] b = bad[sent.size()];
                    byte[] bytes = (byte[]) b[1];
                    RecordMetadata meta =
                            producer.send(new ProducerRecord<>(topic, key, bytes)).get();
                    sent.add(
                            new Bad(
                                    (String) b[0],
                                    bytes,
                                    (Stage) b[2],
                                    meta.partition(),
                                    meta.offset()));
                }
            }
        }
        assertThat(sent).hasSize(bad.length);
        return sent;
    }

    private static void runJobUntil(
            ScoringConfig config,
            Pipeline pipeline,
            Map<String, List<GenericRecord>> scores,
            List<DeadLetter> deadLetters,
            int expectedScores,
            int expectedDeadLetters)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("streamscore payouts end-to-end");
        Properties props =
                KafkaClients.readCommittedConsumer(
                        KAFKA.get().bootstrapServers(), "payouts-reader");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(config.scoresTopic(), config.deadLetterTopic()));
            consume(
                    consumer,
                    config,
                    pipeline,
                    scores,
                    deadLetters,
                    expectedScores,
                    expectedDeadLetters,
                    Duration.ofSeconds(180));
            // Anything extra (a duplicate) would arrive right behind the expected output.
            consume(
                    consumer,
                    config,
                    pipeline,
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

    /**
     * Reads scores as an ordinary consumer would: Avro's own single-object decoder with the output
     * schema, nothing of streamscore's.
     */
    private static void consume(
            KafkaConsumer<byte[], byte[]> consumer,
            ScoringConfig config,
            Pipeline pipeline,
            Map<String, List<GenericRecord>> scores,
            List<DeadLetter> deadLetters,
            int expectedScores,
            int expectedDeadLetters,
            Duration timeout) {
        BinaryMessageDecoder<GenericRecord> scoreReader =
                new BinaryMessageDecoder<>(GenericData.get(), pipeline.outputSchema());
        SingleObjectCodec<DeadLetter> letters = SingleObjectCodec.of(DeadLetter.class);
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            int seen = scores.values().stream().mapToInt(List::size).sum();
            while (System.nanoTime() < deadline
                    && (seen < expectedScores || deadLetters.size() < expectedDeadLetters)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(config.scoresTopic())) {
                        GenericRecord s = scoreReader.decode(r.value());
                        scores.computeIfAbsent(
                                        s.get("payout_id").toString(), k -> new ArrayList<>())
                                .add(s);
                        seen++;
                    } else {
                        deadLetters.add(letters.decode(r.value()));
                    }
                }
            }
        } catch (Exception e) {
            throw new AssertionError("cannot read the output: " + e, e);
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
