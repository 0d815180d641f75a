package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.cluster.FlinkRestClient;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Overload: 200,000 transactions already on the input topic and a model slowed to 2 s a call (a few
 * hundred rows a second for the job, against a source that could read thousands). The job must not
 * read them all into memory: the source stays far behind the topic (back-pressure reaches it), the
 * heap that survives a GC grows by less than {@value #HEAP_GROWTH_BOUND_MIB} MiB over the slow
 * phase, and the job does not fail. Then the model speeds up and every transaction is scored.
 */
class OverloadITCase {

    private static final int TRANSACTIONS = 200_000;

    /** Stated bound on the growth of live heap (after a GC) while the job is overloaded. */
    static final long HEAP_GROWTH_BOUND_MIB = 128;

    @RegisterExtension
    static final MiniClusterExtension FLINK = SystemTestSupport.rocksDbMiniCluster(1, 2);

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    @Test
    void aSlowModelBackPressuresTheSourceWithBoundedHeapAndTheJobCatchesUp() throws Exception {
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        options.set(BatchingOptions.BATCH_SIZE, 64);
        options.set(BatchingOptions.CACHE_TTL, Duration.ZERO);
        // A 2 s call is slow, not failed.
        options.set(BatchingOptions.MODEL_CALL_TIMEOUT, Duration.ofSeconds(30));
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));
        produceAll(config);

        SlowModels.DELAY_MILLIS = 2_000;
        long baseline = liveHeap(); // before the job: the broker with its 200,000 records
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config, SlowModels.STAGE);
        JobClient job = env.executeAsync("overload");
        FlinkRestClient rest = rest();
        String jobId = job.getJobID().toString();
        try {
            long maxLive = baseline;
            for (int i = 0; i < 12; i++) {
                Thread.sleep(2_000);
                maxLive = Math.max(maxLive, liveHeap());
            }
            long sourceRead = sourceRecordsOut(rest, jobId);

            String level = backPressureOfTheSource(rest, jobId);
            System.out.printf(
                    "overloaded for 24 s: live heap %d MiB before the job, at most %d MiB (growth"
                            + " %d MiB); source read %d of %d records; source back-pressure %s%n",
                    baseline >> 20,
                    maxLive >> 20,
                    (maxLive - baseline) >> 20,
                    sourceRead,
                    TRANSACTIONS,
                    level);
            assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.RUNNING);
            // It reads ahead (about 120,000 records here, serialized in Flink's off-heap network
            // buffers and the Kafka client's fetch buffers), but not the whole topic.
            assertThat(sourceRead)
                    .as("records the source read while the model was slow")
                    .isPositive()
                    .isLessThan(TRANSACTIONS);
            assertThat(level).as("back-pressure of the source").isEqualTo("high");
            assertThat((maxLive - baseline) >> 20)
                    .as("growth of live heap, MiB")
                    .isLessThan(HEAP_GROWTH_BOUND_MIB);

            SlowModels.DELAY_MILLIS = 0;
            try (ExactlyOnceLedger ledger =
                    ExactlyOnceLedger.reader(KAFKA.get().bootstrapServers(), config)) {
                ledger.readUntil(TRANSACTIONS, Duration.ofSeconds(240));
                assertThat(ledger.committed())
                        .as("scores after the model sped up")
                        .isGreaterThanOrEqualTo(TRANSACTIONS);
            }
            assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.RUNNING);
        } finally {
            SlowModels.DELAY_MILLIS = 50;
            job.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    private static void produceAll(ScoringConfig config) {
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(51));
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(KafkaClients.producer(KAFKA.get().bootstrapServers()))) {
            for (int i = 0; i < TRANSACTIONS; i++) {
                Transaction t = generator.next().transaction();
                producer.send(
                        new ProducerRecord<>(
                                config.inputTopic(),
                                t.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(t)));
            }
            producer.flush();
        }
    }

    /** Heap in use right after a full collection: what the JVM holds on to. */
    private static long liveHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static FlinkRestClient rest() {
        Configuration client = FLINK.getClientConfiguration();
        return new FlinkRestClient(
                URI.create(
                        "http://"
                                + client.get(RestOptions.ADDRESS)
                                + ":"
                                + client.get(RestOptions.PORT)
                                + "/"));
    }

    private static String sourceVertex(FlinkRestClient rest, String jobId) throws Exception {
        for (JsonNode vertex : rest.get("jobs/" + jobId).path("vertices")) {
            if (vertex.path("name").asText().contains("kafka: input")) {
                return vertex.path("id").asText();
            }
        }
        throw new AssertionError("no source vertex in job " + jobId);
    }

    /** Records the source's task sent on (numRecordsOut, summed over its subtasks). */
    private static long sourceRecordsOut(FlinkRestClient rest, String jobId) throws Exception {
        String path =
                "jobs/"
                        + jobId
                        + "/vertices/"
                        + sourceVertex(rest, jobId)
                        + "/subtasks/metrics?get=numRecordsOut&agg=sum";
        // The REST API refreshes metrics every few seconds: wait for a first value.
        for (int i = 0; i < 40; i++) {
            JsonNode answer = rest.get(path);
            if (answer.size() > 0 && answer.get(0).path("sum").asLong() > 0) {
                return answer.get(0).path("sum").asLong();
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no numRecordsOut for the source of job " + jobId);
    }

    private static String backPressureOfTheSource(FlinkRestClient rest, String jobId)
            throws Exception {
        String path = "jobs/" + jobId + "/vertices/" + sourceVertex(rest, jobId) + "/backpressure";
        JsonNode answer = rest.get(path);
        for (int i = 0; i < 20 && !"ok".equals(answer.path("status").asText()); i++) {
            Thread.sleep(500);
            answer = rest.get(path);
        }
        return answer.path("backpressureLevel").asText("unknown");
    }
}
