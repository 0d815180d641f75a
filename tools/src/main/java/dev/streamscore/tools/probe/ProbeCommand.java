package dev.streamscore.tools.probe;

import dev.streamscore.jobs.KafkaConnectionCheck;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.schemas.FraudScore;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.KafkaClients;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.bench.BenchCommand.DurationConverter;
import dev.streamscore.tools.cli.JobOptions;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.HdrHistogram.Histogram;
import org.apache.flink.configuration.ConfigOption;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore probe}: end-to-end latency of a running job as its users see it, from outside
 * the job's process. It sends generated transactions to the job's input topic on a fixed schedule
 * and reads the scores topic as an ordinary {@code read_committed} consumer. Each score's latency
 * is the time it is read minus the time its transaction was <em>due</em>, so a late producer cannot
 * hide a stall (no coordinated omission).
 *
 * <pre>
 * ./streamscore demo --no-generator --kafka-port 9092      # one terminal
 * ./streamscore probe --bootstrap-servers localhost:9092   # another
 * </pre>
 */
@Command(
        name = "probe",
        mixinStandardHelpOptions = true,
        description =
                "Measure a running job's end-to-end latency from outside: send transactions on a"
                        + " fixed schedule, read their scores as a read_committed consumer, print"
                        + " percentiles.")
public final class ProbeCommand implements Callable<Integer> {

    /** The job options the probe takes: where Kafka is, how to reach it, the two topics. */
    public static final List<ConfigOption<?>> OPTIONS =
            List.of(
                    ScoringOptions.BOOTSTRAP_SERVERS,
                    ScoringOptions.KAFKA_CONFIG,
                    ScoringOptions.INPUT_TOPIC,
                    ScoringOptions.SCORES_TOPIC);

    /** Exit code when some transaction's score never came. */
    static final int MISSING = 3;

    @Spec CommandSpec spec;

    @Option(
            names = "--rate",
            defaultValue = "2000",
            description = "Transactions per second. Default: ${DEFAULT-VALUE}.")
    double rate;

    @Option(
            names = "--warmup",
            defaultValue = "30s",
            converter = DurationConverter.class,
            description =
                    "Time at the rate before latencies count (JIT, caches, the job's state)."
                            + " Default: ${DEFAULT-VALUE}.")
    Duration warmup;

    @Option(
            names = "--duration",
            defaultValue = "60s",
            converter = DurationConverter.class,
            description = "Measured time at the rate. Default: ${DEFAULT-VALUE}.")
    Duration duration;

    @Option(
            names = "--drain",
            defaultValue = "30s",
            converter = DurationConverter.class,
            description =
                    "After the last send, how long to wait for the last scores before counting"
                            + " the rest as missing. Default: ${DEFAULT-VALUE}.")
    Duration drain;

    @Option(
            names = "--seed",
            defaultValue = "7",
            description =
                    "Generator seed; give each run its own, or the job answers re-sent ids from its"
                            + " cache. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(
            names = "--linger-ms",
            defaultValue = "1",
            description = "The probe producer's linger.ms. Default: ${DEFAULT-VALUE}.")
    int lingerMs;

    @Option(names = "--quiet", description = "Print the summary only, not a line per second.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        if (!(rate > 0) || rate > 1_000_000) {
            throw new IllegalArgumentException("--rate must be in (0, 1000000], got " + rate);
        }
        if (duration.isZero() || duration.isNegative() || warmup.isNegative()) {
            throw new IllegalArgumentException(
                    "--duration must be positive and --warmup not negative");
        }
        PrintWriter out = spec.commandLine().getOut();
        ScoringConfig config =
                ScoringConfig.from(JobOptions.toConfiguration(spec.commandLine().getParseResult()));
        // Unreachable, refused or missing topics: a sentence saying which, not a stack trace.
        KafkaConnectionCheck.check(config, KafkaConnectionCheck.DEFAULT_TIMEOUT);
        Result result = run(config, out);
        out.println(result.summary());
        out.flush();
        return result.missing > 0 ? MISSING : 0;
    }

    /** What one probe run measured. */
    record Result(
            long sent,
            long measured,
            long missing,
            long foreign,
            Histogram latencyMicros,
            long maxSendLateMicros) {

        String summary() {
            Histogram h = latencyMicros;
            return String.format(
                    "streamscore probe: %d sent, %d measured, %d missing, %d other scores"
                        + " ignored%nlatency ms (due -> read): p50 %.1f  p90 %.1f  p99 %.1f  p99.9"
                        + " %.1f  max %.1f%nprobe producer at most %.1f ms late (measured part)",
                    sent,
                    measured,
                    missing,
                    foreign,
                    ms(h, 50),
                    ms(h, 90),
                    ms(h, 99),
                    ms(h, 99.9),
                    maxMs(h),
                    maxSendLateMicros / 1000.0);
        }
    }

    /** A percentile of microseconds in milliseconds; 0 for an empty histogram. */
    private static double ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0.0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    private static double maxMs(Histogram h) {
        return h.getTotalCount() == 0 ? 0.0 : h.getMaxValue() / 1000.0;
    }

    Result run(ScoringConfig config, PrintWriter out) throws Exception {
        String bootstrap = config.bootstrapServers();
        Properties consumerProps =
                KafkaClients.readCommittedConsumer(bootstrap, null, config.kafka().consumer());
        consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Properties producerProps = KafkaClients.producer(bootstrap, config.kafka().producer());
        producerProps.put(ProducerConfig.LINGER_MS_CONFIG, Integer.toString(lingerMs));

        // When each transaction whose score has not been read yet was due, in ns after the start;
        // -1 for those of the warm-up.
        Map<String, Long> due = new ConcurrentHashMap<>();
        long total = (long) Math.ceil(rate * (warmup.toMillis() + duration.toMillis()) / 1000.0);
        long firstMeasured = (long) Math.ceil(rate * warmup.toMillis() / 1000.0);
        double nanosPerEvent = 1e9 / rate;
        AtomicLong sent = new AtomicLong();
        AtomicLong maxLate = new AtomicLong();
        AtomicReference<Exception> sendError = new AtomicReference<>();
        Histogram latency = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
        Histogram second = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
        long foreign = 0;

        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps)) {
            List<TopicPartition> partitions =
                    consumer.partitionsFor(config.scoresTopic(), Duration.ofSeconds(30)).stream()
                            .map(p -> new TopicPartition(p.topic(), p.partition()))
                            .collect(Collectors.toList());
            if (partitions.isEmpty()) {
                throw new IllegalArgumentException(
                        "topic " + config.scoresTopic() + " has no partitions on " + bootstrap);
            }
            // Start at the end: only what the job writes from now on is read.
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position);

            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            Thread producer =
                    new Thread(
                            () -> {
                                try {
                                    produce(
                                            producerProps,
                                            config.inputTopic(),
                                            total,
                                            start,
                                            nanosPerEvent,
                                            firstMeasured,
                                            due,
                                            sent,
                                            maxLate,
                                            sendError);
                                } catch (Exception e) {
                                    sendError.compareAndSet(null, e);
                                }
                            },
                            "probe-producer");
            producer.setDaemon(true);
            producer.start();

            SingleObjectCodec<FraudScore> codec = SingleObjectCodec.of(FraudScore.class);
            long sendEnd = start + (long) (total * nanosPerEvent);
            long giveUpAt = sendEnd + drain.toNanos();
            long nextReport = start + TimeUnit.SECONDS.toNanos(1);
            long measured = 0;
            while (true) {
                long now = System.nanoTime();
                if (sendError.get() != null) {
                    throw new IllegalStateException(
                            "the probe could not send to "
                                    + config.inputTopic()
                                    + ": "
                                    + sendError.get().getMessage(),
                            sendError.get());
                }
                boolean allSent = sent.get() >= total && !producer.isAlive();
                if ((allSent && due.isEmpty()) || now > giveUpAt) {
                    break;
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(5))) {
                    long readAt = System.nanoTime();
                    String id;
                    try {
                        id = codec.decode(record.value()).getTransactionId();
                    } catch (SingleObjectCodec.DecodeException e) {
                        foreign++;
                        continue;
                    }
                    Long dueAt = due.remove(id);
                    if (dueAt == null) {
                        foreign++;
                        continue;
                    }
                    if (dueAt >= 0) {
                        long micros = Math.max(0, (readAt - start - dueAt) / 1_000);
                        latency.recordValue(Math.min(micros, latency.getHighestTrackableValue()));
                        second.recordValue(Math.min(micros, second.getHighestTrackableValue()));
                        measured++;
                    }
                }
                if (!quiet && now >= nextReport) {
                    out.printf(
                            "%s t=%3ds sent %d, waiting for %d; this second: %d scores, p50 %.1f"
                                    + " p99 %.1f max %.1f ms%n",
                            java.time.LocalTime.now().withNano(0),
                            TimeUnit.NANOSECONDS.toSeconds(now - start),
                            sent.get(),
                            due.size(),
                            second.getTotalCount(),
                            ms(second, 50),
                            ms(second, 99),
                            maxMs(second));
                    out.flush();
                    second.reset();
                    nextReport += TimeUnit.SECONDS.toNanos(1);
                }
            }
            long missing = due.values().stream().filter(d -> d >= 0).count();
            return new Result(sent.get(), measured, missing, foreign, latency, maxLate.get());
        }
    }

    /**
     * Sends {@code total} transactions, the i-th when it is due; behind schedule it sends at once
     * (the late ones still count from when they were due). Warm-up transactions are kept in {@code
     * due} with a negative time, so that their scores are recognised and not counted.
     */
    private void produce(
            Properties props,
            String topic,
            long total,
            long start,
            double nanosPerEvent,
            long firstMeasured,
            Map<String, Long> due,
            AtomicLong sent,
            AtomicLong maxLate,
            AtomicReference<Exception> sendError)
            throws InterruptedException {
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(seed));
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            for (long i = 0; i < total && sendError.get() == null; i++) {
                long dueAt = start + (long) (i * nanosPerEvent);
                long wait = dueAt - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                if (i >= firstMeasured) {
                    maxLate.accumulateAndGet((System.nanoTime() - dueAt) / 1_000, Math::max);
                }
                Transaction txn = generator.next().transaction();
                // A re-send of the generator's (none at its default rate) would share an id.
                due.put(txn.getTransactionId(), i >= firstMeasured ? dueAt - start : -1L);
                producer.send(
                        new ProducerRecord<>(
                                topic,
                                txn.getCardId().getBytes(StandardCharsets.UTF_8),
                                codec.encode(txn)),
                        (metadata, e) -> {
                            if (e != null) {
                                sendError.compareAndSet(null, e);
                            }
                        });
                sent.incrementAndGet();
            }
            producer.flush();
        }
    }
}
