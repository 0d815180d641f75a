package dev.streamscore.tools.demo;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.schemas.ModelQuality;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.LocalFlink;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.cli.JobOptions;
import dev.streamscore.tools.run.FailureWatcher;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.HdrHistogram.Histogram;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore demo}: a real Kafka broker (KRaft, in-process), a local Flink MiniCluster with
 * RocksDB, the transaction generator and the fraud-scoring job, with live progress and a summary.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Start an in-process Kafka broker, a local Flink cluster, the generator and the job;",
            "show live progress; stop after --events or on Ctrl-C."
        })
public final class DemoCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(
            names = "--events",
            defaultValue = "0",
            description =
                    "Transactions to send, then stop once all are scored or dead-lettered (with"
                            + " --no-generator: once that many records sent from outside are);"
                            + " 0 runs until Ctrl-C. Default: ${DEFAULT-VALUE}.")
    long events;

    @Option(
            names = "--rate",
            defaultValue = "2000",
            description = "Transactions per second. Default: ${DEFAULT-VALUE}.")
    double rate;

    @Option(
            names = "--kafka-port",
            defaultValue = "0",
            description =
                    "Broker port on localhost; 0 picks a free one. Default: ${DEFAULT-VALUE}.")
    int kafkaPort;

    @Option(
            names = "--no-generator",
            description = "Send nothing: leave the input topic to outside producers.")
    boolean noGenerator;

    @Option(
            names = "--malformed-rate",
            defaultValue = "0.001",
            description =
                    "Share of malformed records sent, to show the dead-letter path. Default:"
                            + " ${DEFAULT-VALUE}.")
    double malformedRate;

    @Option(
            names = "--duplicate-rate",
            defaultValue = "0.0",
            description =
                    "Share of transactions re-sent, as at-least-once producers do. Default:"
                            + " ${DEFAULT-VALUE}.")
    double duplicateRate;

    @Option(
            names = "--no-labels",
            description =
                    "Send no labels: without them the job measures no live quality (else the"
                            + " generator labels each transaction it sends, see --label-delay).")
    boolean noLabels;

    @Option(
            names = "--label-delay",
            defaultValue = "20s..60s",
            description =
                    "When each transaction's label is sent after it: uniformly within MIN..MAX."
                            + " Chargebacks take weeks; the demo's take seconds. Default:"
                            + " ${DEFAULT-VALUE}.")
    String labelDelay;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "Generator seed. Default: ${DEFAULT-VALUE}.")
    long seed;

    private PrintWriter out;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        Configuration options = JobOptions.toConfiguration(spec.commandLine().getParseResult());
        if (events < 0) {
            throw new IllegalArgumentException(
                    "--events must be 0 (unbounded) or positive, got " + events);
        }
        Duration[] delays = labelDelays(labelDelay);
        Pipeline pipeline = Pipeline.load(options.get(ScoringOptions.PIPELINE), null, false);
        if (!noGenerator && !DemoTraffic.generates(pipeline)) {
            out.println(
                    "streamscore: the demo's generator writes card transactions only; pipeline "
                            + pipeline.name()
                            + " reads "
                            + pipeline.inputSchema().getFullName()
                            + ", so no generator runs: send your events to topic "
                            + options.getOptional(ScoringOptions.INPUT_TOPIC)
                                    .orElse(pipeline.inputTopic())
                            + " (as --no-generator).");
            noGenerator = true;
        }
        boolean labels = !noLabels && !noGenerator;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(kafkaPort)) {
            Configuration jobOptions = new Configuration(options);
            jobOptions.set(ScoringOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            if (labels && !jobOptions.contains(ScoringOptions.LABELS_TOPIC)) {
                // The demo's own labels, and its quality every 5 s rather than 10.
                jobOptions.set(ScoringOptions.LABELS_TOPIC, "fraud-labels");
                if (!jobOptions.contains(ScoringOptions.QUALITY_INTERVAL)) {
                    jobOptions.set(ScoringOptions.QUALITY_INTERVAL, Duration.ofSeconds(5));
                }
            }
            ScoringConfig config = ScoringConfig.from(jobOptions);
            kafka.createTopics(config.topicPartitions(config.parallelism()));
            printBanner(kafka, config, pipeline);

            StreamExecutionEnvironment env =
                    LocalFlink.environment(ScoringJob.flinkSettings(jobOptions));
            ScoringJob.buildKafkaJob(env, config);
            JobClient job = env.executeAsync("streamscore: " + pipeline.name() + " (demo)");
            FailureWatcher failures =
                    new FailureWatcher(
                            LocalFlink.restUrl(env),
                            job.getJobID().toString(),
                            out,
                            config.maxFailures());
            Thread failureThread = new Thread(failures, "demo-failures");
            failureThread.setDaemon(true);
            failureThread.start();

            DemoTraffic traffic = null;
            Thread trafficThread = null;
            Map<String, Long> sentAt = new java.util.concurrent.ConcurrentHashMap<>();
            if (!noGenerator) {
                traffic =
                        new DemoTraffic(
                                kafka.bootstrapServers(),
                                config.kafka().producer(),
                                config.inputTopic(),
                                TransactionGenerator.Settings.defaults(seed)
                                        .withDuplicateRate(duplicateRate),
                                events,
                                rate,
                                malformedRate);
                if (labels) {
                    traffic.withLabels(config.labelsTopic(), delays[0], delays[1]);
                }
                sentAt = traffic.sentAt;
            }
            ScoreMonitor monitor =
                    new ScoreMonitor(
                            new ScoreReader(pipeline),
                            kafka.bootstrapServers(),
                            config.kafka().consumer(),
                            config.scoresTopic(),
                            config.deadLetterTopic(),
                            config.labels() ? config.qualityTopic() : null,
                            sentAt);
            Thread monitorThread = new Thread(monitor, "demo-monitor");
            monitorThread.start();
            if (traffic != null) {
                trafficThread = new Thread(traffic, "demo-generator");
                trafficThread.start();
            }

            CountDownLatch interrupted = new CountDownLatch(1);
            CountDownLatch finished = new CountDownLatch(1);
            Thread hook =
                    new Thread(
                            () -> {
                                interrupted.countDown();
                                try {
                                    finished.await();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            });
            Runtime.getRuntime().addShutdownHook(hook);
            long started = System.nanoTime();
            String outcome = watch(job, monitor, traffic, interrupted);

            if (traffic != null) {
                traffic.stop();
                trafficThread.join();
            }
            failures.stop();
            if (outcome.startsWith("incomplete: the job ended")) {
                try {
                    job.getJobExecutionResult().get();
                } catch (java.util.concurrent.ExecutionException e) {
                    Throwable cause = e;
                    while (cause.getCause() != null) {
                        cause = cause.getCause();
                    }
                    out.println("streamscore: the job ended: " + cause);
                }
            } else {
                job.cancel().get();
            }
            monitor.stop();
            monitorThread.join();
            printSummary(outcome, monitor, traffic, (System.nanoTime() - started) / 1e9);
            out.println(
                    "  job failures  : " + failures.failures() + restartsNote(failures, config));
            out.flush();
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // Ctrl-C: the hook is running and waits for us.
            }
            return outcome.startsWith("incomplete") ? 1 : 0;
        }
    }

    private static String describe(Pipeline.Format format) {
        return format == Pipeline.Format.JSON ? "JSON" : "Avro single-object";
    }

    /** {@code MIN..MAX} as two durations, such as {@code 20s..60s}. */
    static Duration[] labelDelays(String text) {
        String[] parts = text.split("\\.\\.", -1);
        if (parts.length != 2) {
            throw new IllegalArgumentException(
                    "--label-delay must be MIN..MAX, such as 20s..60s, got '" + text + "'");
        }
        Duration min = TimeUtils.parseDuration(parts[0].trim());
        Duration max = TimeUtils.parseDuration(parts[1].trim());
        if (min.isNegative() || max.compareTo(min) < 0) {
            throw new IllegalArgumentException(
                    "--label-delay must have 0 <= MIN <= MAX, got '" + text + "'");
        }
        return new Duration[] {min, max};
    }

    /** Prints a progress line each second until done, interrupted, or stalled. */
    private String watch(
            JobClient job, ScoreMonitor monitor, DemoTraffic traffic, CountDownLatch interrupted)
            throws Exception {
        long lastIn = 0;
        long lastOut = 0;
        long lastProgress = System.nanoTime();
        out.println();
        out.println(
                "   time      in/s     out/s   p50 ms   p99 ms   review  decline  cache-hit "
                        + " dead-letters");
        for (int second = 1; ; second++) {
            if (interrupted.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
                return "stopped by Ctrl-C";
            }
            if (job.getJobStatus().get().isGloballyTerminalState()) {
                return "incomplete: the job ended with status " + job.getJobStatus().get();
            }
            long sentNow = traffic == null ? 0 : traffic.sent.get();
            long doneNow = monitor.scored.get() + monitor.deadLettered.get();
            Histogram latency = monitor.intervalLatency();
            long scored = Math.max(1, monitor.scored.get());
            out.printf(
                    "%6ds  %8d  %8d  %7s  %7s  %6.2f%%  %6.2f%%  %8.2f%%  %12d%n",
                    second,
                    sentNow - lastIn,
                    doneNow - lastOut,
                    latency.getTotalCount() == 0
                            ? "-"
                            : Long.toString(latency.getValueAtPercentile(50)),
                    latency.getTotalCount() == 0
                            ? "-"
                            : Long.toString(latency.getValueAtPercentile(99)),
                    100.0 * monitor.reviewed.get() / scored,
                    100.0 * monitor.declined.get() / scored,
                    100.0 * monitor.cacheHits.get() / scored,
                    monitor.deadLettered.get());
            if (second % 5 == 0) {
                // Every 5 s, the latest flagged score read, with the reasons it came with, and
                // the live quality of each model version so far.
                ScoreReader.ReadScore explained = monitor.lastExplained.getAndSet(null);
                if (explained != null) {
                    out.println("          flagged: " + ScoreMonitor.explained(explained));
                }
                synchronized (monitor.quality) {
                    for (ModelQuality q : monitor.quality.values()) {
                        out.println("          quality: " + ScoreMonitor.quality(q));
                    }
                }
            }
            out.flush();
            if (doneNow != lastOut) {
                lastProgress = System.nanoTime();
            }
            lastIn = sentNow;
            lastOut = doneNow;
            if (events > 0 && doneNow >= events) {
                return "all " + events + " events accounted for";
            }
            // Without the generator, wait as long as it takes for outside producers to begin.
            boolean started = traffic != null || doneNow > 0;
            if (events > 0 && started && System.nanoTime() - lastProgress > 60e9) {
                return "incomplete: no output for 60 s";
            }
        }
    }

    private void printBanner(EmbeddedKafka kafka, ScoringConfig config, Pipeline pipeline) {
        out.println("streamscore demo");
        out.println(
                "  pipeline        : "
                        + pipeline.name()
                        + "  ("
                        + config.pipeline().source()
                        + ", "
                        + pipeline.featureNames().size()
                        + " features)");
        out.println("  Kafka bootstrap : " + kafka.bootstrapServers());
        out.println(
                "  input topic     : "
                        + config.inputTopic()
                        + "  ("
                        + describe(pipeline.inputFormat())
                        + " "
                        + pipeline.inputSchema().getName()
                        + ")");
        out.println(
                "  scores topic    : "
                        + config.scoresTopic()
                        + "  ("
                        + describe(pipeline.outputFormat())
                        + " "
                        + pipeline.outputSchema().getName()
                        + ")");
        out.println(
                "  dead letters    : "
                        + config.deadLetterTopic()
                        + "  (Avro single-object DeadLetter)");
        out.println(
                "  model           : "
                        + config.inference().modelLocation()
                        + (config.challengerModel() == null
                                ? ""
                                : ", challenger " + config.challengerModel()));
        if (config.modelControl()) {
            out.println(
                    "  model control   : "
                            + config.controlTopic()
                            + " -> "
                            + config.modelStatusTopic()
                            + "  (./streamscore model deploy|rollback|retire|status"
                            + " --bootstrap-servers "
                            + kafka.bootstrapServers()
                            + ")");
        }
        out.println(
                "  batching        : up to "
                        + config.inference().batching().maxBatchSize()
                        + " events or "
                        + config.inference().batching().maxWait().toMillis()
                        + " ms, "
                        + config.inference().batching().maxInFlight()
                        + " in flight; cache TTL "
                        + config.inference().batching().cacheTtl());
        out.println(
                "  delivery        : "
                        + config.delivery()
                        + ", parallelism "
                        + config.parallelism());
        out.println(
                noGenerator
                        ? "  generator       : off (produce to the input topic yourself"
                                + (events > 0
                                        ? "; stops when " + events + " records are accounted for)"
                                        : ")")
                        : "  generator       : "
                                + (events > 0 ? events + " transactions" : "unbounded")
                                + " at "
                                + rate
                                + "/s, malformed share "
                                + malformedRate);
    }

    private static String restartsNote(FailureWatcher failures, ScoringConfig config) {
        return failures.failures() == 0
                ? ""
                : " (each restarted from the last checkpoint, up to max-failures="
                        + config.maxFailures()
                        + " per failure-interval; causes above and in logs/streamscore.log)";
    }

    private void printSummary(
            String outcome, ScoreMonitor monitor, DemoTraffic traffic, double seconds) {
        Histogram latency = monitor.totalLatency();
        long scored = monitor.scored.get();
        out.println();
        out.println("summary: " + outcome + " in " + String.format("%.1f", seconds) + " s");
        if (traffic != null) {
            out.println(
                    "  sent          : "
                            + traffic.sent.get()
                            + " ("
                            + traffic.malformed.get()
                            + " malformed)");
        }
        out.println("  scored        : " + scored);
        out.println("  dead letters  : " + monitor.deadLettered.get());
        if (traffic != null) {
            long pending = traffic.sent.get() - scored - monitor.deadLettered.get();
            if (pending > 0) {
                out.println("  still in flight when stopped: " + pending);
            }
        }
        if (scored > 0) {
            out.printf(
                    "  decisions     : %.2f%% review, %.2f%% decline; cache hits %.2f%%%n",
                    100.0 * monitor.reviewed.get() / scored,
                    100.0 * monitor.declined.get() / scored,
                    100.0 * monitor.cacheHits.get() / scored);
            long flagged = monitor.reviewed.get() + monitor.declined.get();
            if (traffic != null && traffic.labelsSent.get() > 0) {
                out.printf(
                        "  labels        : %d sent (%d fraud)%n",
                        traffic.labelsSent.get(), traffic.fraudLabelsSent.get());
            }
            synchronized (monitor.quality) {
                for (ModelQuality q : monitor.quality.values()) {
                    out.println("  quality       : " + ScoreMonitor.quality(q));
                }
            }
            out.printf(
                    "  reasons       : %d of %d flagged scores carry reasons%n",
                    monitor.flaggedWithReasons.get(), flagged);
            if (latency.getTotalCount() == 0) {
                out.println(
                        "  latency (ms)  : not measured (the demo times only what its generator"
                                + " sends; ./streamscore probe measures a running job)");
            } else {
                out.printf(
                        "  latency (ms)  : p50 %d, p99 %d, p99.9 %d, max %d (sent to score read)%n",
                        latency.getValueAtPercentile(50),
                        latency.getValueAtPercentile(99),
                        latency.getValueAtPercentile(99.9),
                        latency.getMaxValue());
            }
        }
        if (monitor.unreadable.get() > 0) {
            out.println("  unreadable output records: " + monitor.unreadable.get());
        }
    }
}
