package dev.streamscore.tools.bench;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.operators.batching.BatchingMetrics;
import dev.streamscore.operators.features.PipelineFeatureEnricher;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.operators.serde.SingleObjectSerializationSchema;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.LocalFlink;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.metrics.MetricNames;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.ConfigResource;

/**
 * Runs the real job once per measurement: fresh topics on the shared in-process broker, a fresh
 * Flink MiniCluster (RocksDB, checkpointing as configured), the workload's Avro bytes on the wire,
 * and a {@code read_committed} consumer of the scores as any user's.
 */
final class EndToEndRunner {

    private static final org.slf4j.Logger LOG =
            org.slf4j.LoggerFactory.getLogger(EndToEndRunner.class);

    /** Result of a maximum-throughput run. */
    record MaxResult(double eventsPerSecond, BenchResults.Stages stages) {}

    /** The decoder's operator name, whose records-in count the consumed backlog. */
    private static final String DECODE_OPERATOR = ".decode + validate.";

    private final EmbeddedKafka kafka;
    private final Duration checkpointInterval;
    private final Map<Double, Workload> workloads = new HashMap<>();
    private final Configuration extraJobOptions;
    private final Path latencyTrace;
    private int runs;

    /**
     * @param extraJobOptions job options and Flink settings for every run, over the spec's
     */
    EndToEndRunner(
            EmbeddedKafka kafka, Duration checkpointInterval, Configuration extraJobOptions) {
        this(kafka, checkpointInterval, extraJobOptions, null);
    }

    /**
     * @param latencyTrace folder for one CSV per latency run: per 10 ms of the send schedule (wall
     *     clock), how many events were due and their largest and mean latency, to line stalls up
     *     with GC logs, checkpoints and the job's log; {@code null}: none
     */
    EndToEndRunner(
            EmbeddedKafka kafka,
            Duration checkpointInterval,
            Configuration extraJobOptions,
            Path latencyTrace) {
        this.kafka = kafka;
        this.checkpointInterval = checkpointInterval;
        this.extraJobOptions = extraJobOptions;
        this.latencyTrace = latencyTrace;
    }

    Workload workload(double duplicateRate) {
        return workloads.computeIfAbsent(duplicateRate, rate -> new Workload(20261127L, rate));
    }

    /**
     * Sustained maximum throughput: {@code events} transactions are in the input topic before the
     * job starts; the rate is how fast the job consumes them between 10% and 90% of the backlog (so
     * start-up and the tail are not in it), and every one must come out scored.
     */
    MaxResult maxThroughput(BenchSpec spec, int events) throws Exception {
        Workload workload = workload(spec.duplicateRate());
        workload.ensure(events);
        String run = nextRun();
        Configuration options = options(spec, run);
        ScoringConfig config = ScoringConfig.from(options);
        createTopics(config);
        SendErrors errors = new SendErrors();
        try (KafkaProducer<byte[], byte[]> producer = producer(config)) {
            String topic = config.inputTopic();
            for (int i = 0; i < events; i++) {
                producer.send(
                        new ProducerRecord<>(topic, workload.key(i), workload.value(i)), errors);
            }
            producer.flush();
        }
        errors.check(spec);
        StageMetrics.reset();
        JobClient job = start(spec, options, config);
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(run, config)) {
            long low = events / 10;
            long high = events - events / 10;
            double lowAt = Double.NaN;
            double highAt = Double.NaN;
            long previousCount = 0;
            long previousAt = System.nanoTime();
            long out = 0;
            long lastProgress = System.nanoTime();
            while (out < events) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(20));
                out += records.count();
                long now = System.nanoTime();
                long consumed =
                        StageMetrics.counterSum(MetricNames.IO_NUM_RECORDS_IN, DECODE_OPERATOR);
                if (Double.isNaN(lowAt) && consumed >= low) {
                    lowAt = interpolate(previousAt, previousCount, now, consumed, low);
                }
                if (Double.isNaN(highAt) && consumed >= high) {
                    highAt = interpolate(previousAt, previousCount, now, consumed, high);
                }
                if (consumed != previousCount || records.count() > 0) {
                    lastProgress = now;
                }
                previousCount = consumed;
                previousAt = now;
                if (now - lastProgress > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException(
                            "no progress for 60 s in "
                                    + spec.label()
                                    + ": "
                                    + out
                                    + " of "
                                    + events
                                    + " scored; job status "
                                    + job.getJobStatus().get());
                }
                checkJob(job, spec);
            }
            double rate = (high - low) / ((highAt - lowAt) / 1e9);
            if (!Double.isFinite(rate) || rate <= 0) {
                throw new IllegalStateException(
                        spec.label()
                                + ": could not time the backlog (the decoder's numRecordsIn"
                                + " metric was not seen); metrics: "
                                + StageMetrics.names().size());
            }
            return new MaxResult(rate, stages(events));
        } finally {
            stop(job);
            deleteTopics(config);
        }
    }

    /**
     * End-to-end latency at a constant offered rate: the producer sends on a fixed schedule for
     * {@code warmup + measure}; each score's latency is the time it is read minus the time its
     * transaction was <em>scheduled</em> to be sent, so a stall of the producer or of the job
     * cannot hide latency (no coordinated omission). Only the scheduled sends after the warm-up
     * count.
     */
    BenchResults.LoadPoint latency(
            BenchSpec spec,
            int loadPercent,
            double rate,
            Duration warmup,
            Duration measure,
            int round)
            throws Exception {
        Workload workload = workload(spec.duplicateRate());
        int total = (int) Math.ceil(rate * (warmup.toMillis() + measure.toMillis()) / 1000.0);
        workload.ensure(total);
        String run = nextRun();
        Configuration options = options(spec, run);
        ScoringConfig config = ScoringConfig.from(options);
        createTopics(config);
        StageMetrics.reset();
        JobClient job = start(spec, options, config);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong sent = new AtomicLong();
        SendErrors errors = new SendErrors();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(run, config)) {
            awaitRunning(job, spec);
            // Join the group before the first send, so the first scores are read as they come.
            long joinBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(50));
                if (System.nanoTime() > joinBy) {
                    throw new IllegalStateException(
                            spec.label() + ": the score consumer got no partitions in 60 s");
                }
            }
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
            long startEpochMillis = System.currentTimeMillis() + 50;
            double nanosPerEvent = 1e9 / rate;
            LatencyTrace trace = latencyTrace == null ? null : new LatencyTrace();
            int firstMeasured = (int) Math.ceil(rate * warmup.toMillis() / 1000.0);
            Thread producerThread =
                    new Thread(
                            () ->
                                    produce(
                                            workload,
                                            config,
                                            total,
                                            start,
                                            nanosPerEvent,
                                            sent,
                                            stop,
                                            errors,
                                            trace),
                            "bench-producer");
            producerThread.start();
            SingleObjectCodec<FraudScore> codec = SingleObjectCodec.of(FraudScore.class);
            Histogram micros = new Histogram(3);
            long read = 0;
            long measuredRead = 0;
            long lastMeasuredAt = 0;
            long lastProgress = System.nanoTime();
            long expected = total;
            while (read < expected) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(20));
                long now = System.nanoTime();
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    read++;
                    if (!record.topic().equals(config.scoresTopic())) {
                        continue;
                    }
                    FraudScore score = codec.decode(record.value());
                    int index = scheduleIndex(score, workload, spec.cache());
                    if (index >= firstMeasured) {
                        long scheduled = start + (long) (index * nanosPerEvent);
                        long latencyMicros = Math.max(0, (now - scheduled) / 1_000);
                        micros.recordValue(latencyMicros);
                        if (trace != null) {
                            long dueMillis = (scheduled - start) / 1_000_000;
                            // The scores topic stamps LogAppendTime: when the broker got it.
                            long toBrokerMicros =
                                    (record.timestamp() - (startEpochMillis + dueMillis)) * 1_000;
                            trace.record(dueMillis, latencyMicros, toBrokerMicros);
                        }
                        measuredRead++;
                        lastMeasuredAt = now;
                    }
                }
                if (!records.isEmpty()) {
                    lastProgress = now;
                }
                if (now - lastProgress > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException(
                            "no scores for 60 s in " + spec.label() + ": " + read + " of " + total);
                }
                checkJob(job, spec);
                errors.check(spec);
            }
            producerThread.join(TimeUnit.SECONDS.toMillis(60));
            if (measuredRead == 0) {
                throw new IllegalStateException(
                        spec.label() + ": no score of the measured window was read");
            }
            if (trace != null) {
                trace.write(
                        latencyTrace.resolve(
                                String.format(
                                        "%s-%dpct-round%d.csv",
                                        spec.label().replaceAll("[^A-Za-z0-9.+-]+", "_"),
                                        loadPercent,
                                        round)),
                        startEpochMillis);
                double flushes = StageMetrics.counterSum(PipelineFeatureEnricher.FLUSHES);
                LOG.info(
                        "{} at {}%: {} card-state flushes at checkpoints, {} ms each on average",
                        spec.label(),
                        loadPercent,
                        (long) flushes,
                        flushes == 0
                                ? 0
                                : StageMetrics.counterSum(PipelineFeatureEnricher.FLUSH_NANOS)
                                        / flushes
                                        / 1e6);
            }
            long windowStart = start + (long) (firstMeasured * nanosPerEvent);
            double achieved = measuredRead / ((lastMeasuredAt - windowStart) / 1e9);
            return new BenchResults.LoadPoint(
                    loadPercent,
                    rate,
                    Math.min(achieved, rate * 10),
                    micros.getValueAtPercentile(50) / 1000.0,
                    micros.getValueAtPercentile(99) / 1000.0,
                    micros.getValueAtPercentile(99.9) / 1000.0,
                    micros.getMaxValue() / 1000.0,
                    round);
        } finally {
            stop.set(true);
            stop(job);
            deleteTopics(config);
        }
    }

    private void produce(
            Workload workload,
            ScoringConfig config,
            int total,
            long start,
            double nanosPerEvent,
            AtomicLong sent,
            AtomicBoolean stop,
            SendErrors errors,
            LatencyTrace trace) {
        String topic = config.inputTopic();
        try (KafkaProducer<byte[], byte[]> producer = producer(config)) {
            for (int i = 0; i < total && !stop.get() && errors.first == null; i++) {
                long due = start + (long) (i * nanosPerEvent);
                long wait = due - System.nanoTime();
                if (wait > 200_000) {
                    // Sleep in small steps; behind schedule, send at once (the latency of the
                    // late ones is still counted from their scheduled time).
                    TimeUnit.NANOSECONDS.sleep(wait - 100_000);
                }
                if (trace != null) {
                    trace.sent((due - start) / 1_000_000, (System.nanoTime() - due) / 1_000);
                }
                producer.send(
                        new ProducerRecord<>(topic, workload.key(i), workload.value(i)), errors);
                sent.incrementAndGet();
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Where a score's transaction was in the send schedule. A re-sent transaction has two scores
     * under one id: with the cache on, the re-send's is the cache hit; with it off, the two cannot
     * be told apart (unordered output may emit either first), so the pair is left out (-1).
     */
    private static int scheduleIndex(FraudScore score, Workload workload, boolean cacheOn) {
        int original = Workload.indexOf(score.getTransactionId());
        int resend = workload.resendOf(original);
        if (resend < 0) {
            return original;
        }
        if (!cacheOn) {
            return -1;
        }
        return score.getCacheHit() ? resend : original;
    }

    /** The first failed send, so a run never measures fewer records than it claims. */
    private static final class SendErrors implements Callback {
        volatile Exception first;

        @Override
        public void onCompletion(RecordMetadata metadata, Exception e) {
            if (e != null && first == null) {
                first = e;
            }
        }

        void check(BenchSpec spec) {
            if (first != null) {
                throw new IllegalStateException(
                        spec.label() + ": the benchmark's producer failed to send: " + first,
                        first);
            }
        }
    }

    private BenchResults.Stages stages(long events) {
        double perEvent = 1000.0 * events;
        return new BenchResults.Stages(
                StageMetrics.counterSum(EventDecoder.DECODE_TIME_NANOS) / perEvent,
                StageMetrics.counterSum(PipelineFeatureEnricher.ENRICH_TIME_NANOS) / perEvent,
                StageMetrics.counterSum(BatchingMetrics.CACHE_TIME_NANOS) / perEvent,
                StageMetrics.counterSum(BatchingMetrics.MODEL_TIME_NANOS) / perEvent,
                StageMetrics.counterSum(SingleObjectSerializationSchema.ENCODE_TIME_NANOS)
                        / perEvent,
                StageMetrics.histogramMean(BatchingMetrics.QUEUE_TIME_MICROS) / 1000.0,
                StageMetrics.histogramMean(BatchingMetrics.INFERENCE_TIME_MICROS) / 1000.0,
                StageMetrics.histogramMean(BatchingMetrics.BATCH_SIZE),
                StageMetrics.counterSum(BatchingMetrics.CACHE_HITS) / (double) events,
                StageMetrics.counterSum(BatchingMetrics.EXPLANATION_TIME_NANOS) / perEvent,
                StageMetrics.counterSum(BatchingMetrics.ROWS_EXPLAINED) / (double) events);
    }

    /** The spec's options for {@code run}, with the extra job options over them. */
    private Configuration options(BenchSpec spec, String run) {
        Configuration options =
                spec.jobOptions(kafka.bootstrapServers(), run, checkpointInterval(spec));
        options.addAll(extraJobOptions);
        return options;
    }

    private JobClient start(BenchSpec spec, Configuration options, ScoringConfig config)
            throws Exception {
        Configuration flink = new Configuration(options);
        flink.addAll(Configuration.fromMap(StageMetrics.reporterConfig()));
        // A restart would replay input and reset counters: a run fails instead of mismeasuring.
        flink.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        flink.addAll(extraJobOptions);
        StreamExecutionEnvironment env = LocalFlink.environment(ScoringJob.flinkSettings(flink));
        ScoringJob.buildKafkaJob(env, config, spec.featureStage(), spec.scoringStage());
        return env.executeAsync("streamscore bench: " + spec.label());
    }

    private static void awaitRunning(JobClient job, BenchSpec spec) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (job.getJobStatus().get() != JobStatus.RUNNING) {
            failIfEnded(job, spec);
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(spec.label() + ": the job did not start in 60 s");
            }
            Thread.sleep(50);
        }
        // RUNNING is the job; give the tasks and the source's first fetch a moment.
        Thread.sleep(1_000);
    }

    private long lastStatusCheck;

    /** Fails the run if the job has ended; asks the cluster at most every 500 ms. */
    private void checkJob(JobClient job, BenchSpec spec) throws Exception {
        long now = System.nanoTime();
        if (now - lastStatusCheck > 500_000_000L) {
            lastStatusCheck = now;
            failIfEnded(job, spec);
        }
    }

    private static void failIfEnded(JobClient job, BenchSpec spec) throws Exception {
        JobStatus status = job.getJobStatus().get();
        if (status.isGloballyTerminalState()) {
            String cause = "";
            try {
                job.getJobExecutionResult().get();
            } catch (Exception e) {
                cause = ": " + rootCause(e);
            }
            throw new IllegalStateException(
                    spec.label() + ": the job ended with " + status + cause);
        }
    }

    private static String rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    private static void stop(JobClient job) {
        try {
            job.cancel().get(30, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!job.getJobStatus().get().isGloballyTerminalState()
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        } catch (Exception e) {
            // The MiniCluster shuts down with its only job; a closed cluster answers no more.
            LOG.debug("stopping the benchmark job: {}", e.toString());
        }
    }

    private void createTopics(ScoringConfig config) throws Exception {
        kafka.createTopics(config.topicPartitions(config.parallelism()));
        if (latencyTrace != null) {
            // The broker stamps each score as it appends it: the trace splits the latency there.
            try (Admin admin =
                    Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                ConfigResource scores =
                        new ConfigResource(ConfigResource.Type.TOPIC, config.scoresTopic());
                admin.incrementalAlterConfigs(
                                Map.of(
                                        scores,
                                        List.of(
                                                new AlterConfigOp(
                                                        new ConfigEntry(
                                                                "message.timestamp.type",
                                                                "LogAppendTime"),
                                                        AlterConfigOp.OpType.SET))))
                        .all()
                        .get(30, TimeUnit.SECONDS);
            }
        }
    }

    private void deleteTopics(ScoringConfig config) {
        try {
            kafka.deleteTopics(config.topics());
        } catch (Exception e) {
            // Only disk space; the next run uses new names.
        }
    }

    /** Exactly-once runs checkpoint at the bench's interval; at-least-once at the job's default. */
    private Duration checkpointInterval(BenchSpec spec) {
        return spec.delivery() == DeliveryGuarantee.EXACTLY_ONCE ? checkpointInterval : null;
    }

    private String nextRun() {
        return "bench-" + (++runs) + "-" + Long.toHexString(System.nanoTime() & 0xfffff);
    }

    private KafkaProducer<byte[], byte[]> producer(ScoringConfig config) {
        Properties p = KafkaClients.producer(kafka.bootstrapServers(), config.kafka().producer());
        // Throughput over latency while filling a backlog; the latency runs pace their sends.
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "131072");
        // Uncompressed: the bench's own producer shares the job's two cores and heap, and lz4
        // allocates a new 64 KiB block buffer per batch (measured with JFR: 10% of all the
        // allocation of a latency run, and so of its GC pauses, was this producer's lz4).
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        return new KafkaProducer<>(p);
    }

    private KafkaConsumer<byte[], byte[]> consumer(String run, ScoringConfig config) {
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        KafkaClients.readCommittedConsumer(
                                kafka.bootstrapServers(),
                                run + "-reader",
                                config.kafka().consumer()));
        consumer.subscribe(List.of(config.scoresTopic(), config.deadLetterTopic()));
        return consumer;
    }

    private static double interpolate(long t0, long c0, long t1, long c1, long target) {
        if (c1 == c0) {
            return t1;
        }
        return t0 + (double) (t1 - t0) * (target - c0) / (c1 - c0);
    }

    /**
     * Per 10 ms of the send schedule: events due, their largest and mean latency, the largest time
     * to the broker's append of their score, and how late the producer sent the latest of them. The
     * consumer's thread calls {@link #record}, the producer's {@link #sent}; {@link #write} after
     * both.
     */
    private static final class LatencyTrace {
        private static final int BUCKET_MILLIS = 10;
        private final Map<Long, long[]> buckets = new TreeMap<>();
        private final Map<Long, Long> sendLate = new ConcurrentHashMap<>();

        void record(long dueMillis, long latencyMicros, long toBrokerMicros) {
            long[] b = buckets.computeIfAbsent(dueMillis / BUCKET_MILLIS, k -> new long[4]);
            b[0]++;
            b[1] = Math.max(b[1], latencyMicros);
            b[2] += latencyMicros;
            b[3] = Math.max(b[3], toBrokerMicros);
        }

        void sent(long dueMillis, long lateMicros) {
            sendLate.merge(dueMillis / BUCKET_MILLIS, lateMicros, Math::max);
        }

        void write(Path file, long startEpochMillis) throws IOException {
            Files.createDirectories(file.getParent());
            try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(file))) {
                w.println(
                        "due_epoch_ms,events,max_latency_ms,mean_latency_ms,max_to_broker_ms,"
                                + "max_send_late_ms");
                for (Map.Entry<Long, long[]> e : buckets.entrySet()) {
                    long[] b = e.getValue();
                    w.printf(
                            Locale.ROOT,
                            "%d,%d,%.3f,%.3f,%.3f,%.3f%n",
                            startEpochMillis + e.getKey() * BUCKET_MILLIS,
                            b[0],
                            b[1] / 1000.0,
                            b[2] / 1000.0 / b[0],
                            b[3] / 1000.0,
                            sendLate.getOrDefault(e.getKey(), 0L) / 1000.0);
                }
            }
        }
    }
}
