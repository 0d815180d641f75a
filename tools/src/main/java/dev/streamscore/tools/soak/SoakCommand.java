package dev.streamscore.tools.soak;

import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.cluster.FlinkRestClient;
import dev.streamscore.tools.demo.DemoTraffic;
import dev.streamscore.tools.demo.ScoreMonitor;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore soak}: the job with exactly-once for many minutes on an in-process Kafka
 * broker and a MiniCluster of two TaskManagers, at half the rate it was measured to sustain, with a
 * TaskManager terminated (and a fresh one started) every {@code --kill-every}. Prints progress
 * every 10 s (sent, scored, latency, checkpoint size, heap) and at the end what was lost and
 * duplicated; exits 1 on any loss or duplicate. Minutes long, so not part of the test suite.
 */
@Command(
        name = "soak",
        mixinStandardHelpOptions = true,
        description =
                "Run the job for minutes with a TaskManager killed every minute; report loss,"
                        + " duplicates, latency, checkpoint size and heap (not part of CI).")
public final class SoakCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(
            names = "--minutes",
            defaultValue = "10",
            description = "How long to soak. Default: ${DEFAULT-VALUE}.")
    int minutes;

    @Option(
            names = "--rate",
            defaultValue = "0",
            description =
                    "Transactions per second; 0 measures the job's maximum first (20 s at full"
                            + " speed) and uses half of it. Default: ${DEFAULT-VALUE}.")
    double rate;

    @Option(
            names = "--kill-every",
            defaultValue = "1 min",
            converter = DurationConverter.class,
            description = "Time between TaskManager kills. Default: ${DEFAULT-VALUE}.")
    Duration killEvery;

    @Option(
            names = "--model",
            defaultValue = "bundled:gbdt",
            description = "Model. Default: ${DEFAULT-VALUE}.")
    String model;

    private PrintWriter out;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        if (minutes < 1) {
            throw new IllegalArgumentException("--minutes must be at least 1, got " + minutes);
        }
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
            ScoringConfig config = config(kafka.bootstrapServers());
            kafka.createTopics(config.topicPartitions(config.parallelism()));
            try (MiniCluster cluster = startCluster()) {
                StreamExecutionEnvironment env =
                        StreamExecutionEnvironment.getExecutionEnvironment();
                ScoringJob.buildKafkaJob(env, config);
                JobGraph graph = env.getStreamGraph().getJobGraph();
                JobID job = cluster.submitJob(graph).get().getJobID();
                FlinkRestClient rest = new FlinkRestClient(cluster.getRestAddress().get());
                ConcurrentHashMap<String, Long> sentAt = new ConcurrentHashMap<>();
                ScoreMonitor monitor =
                        new ScoreMonitor(
                                new dev.streamscore.tools.demo.ScoreReader(
                                        dev.streamscore.pipeline.Pipeline.of(config.pipeline())),
                                kafka.bootstrapServers(),
                                new Properties(),
                                config.scoresTopic(),
                                config.deadLetterTopic(),
                                sentAt);
                Thread monitorThread = new Thread(monitor, "soak-monitor");
                monitorThread.start();
                long validSent = 0;
                double soakRate = rate;
                if (soakRate <= 0) {
                    Traffic probe = traffic(kafka, config, 1, 1_000_000, sentAt);
                    Thread.sleep(20_000);
                    probe.stop();
                    long sent = probe.traffic.sent.get();
                    long started = System.nanoTime();
                    awaitScored(monitor, sent, Duration.ofMinutes(5));
                    double seconds = 20 + (System.nanoTime() - started) / 1e9;
                    soakRate = Math.max(1, sent / seconds / 2);
                    validSent += sent;
                    out.printf(
                            "measured: %d transactions in %.1f s (%.0f/s); soaking at %.0f/s%n",
                            sent, seconds, sent / seconds, soakRate);
                    out.flush();
                }
                Histogram probeLatency = monitor.totalLatency();
                Traffic soak = traffic(kafka, config, 2, soakRate, sentAt);
                Report report = soak(cluster, rest, job, monitor, soak);
                soak.stop();
                validSent += soak.traffic.sent.get();
                awaitScored(monitor, validSent, Duration.ofMinutes(5));
                long lost = sentAt.size();
                long duplicated = monitor.scored.get() - (validSent - lost);
                Histogram latency = monitor.totalLatency();
                latency.subtract(probeLatency); // the soak's own, without the probe's backlog
                out.println();
                out.printf(
                        "soak: %d min, %d transactions sent, %d TaskManagers killed, %d job"
                                + " failures%n",
                        minutes, validSent, report.kills, failures(rest, job));
                out.printf("  lost          : %d%n", lost);
                out.printf("  duplicated    : %d%n", duplicated);
                out.printf("  dead letters  : %d%n", monitor.deadLettered.get());
                out.printf(
                        "  latency (ms)  : p50 %d, p99 %d, p99.9 %d, max %d (sent to score read)%n",
                        latency.getValueAtPercentile(50),
                        latency.getValueAtPercentile(99),
                        latency.getValueAtPercentile(99.9),
                        latency.getMaxValue());
                out.printf(
                        "  checkpoints   : last %d KiB, largest %d KiB%n",
                        report.lastCheckpointBytes >> 10, report.maxCheckpointBytes >> 10);
                out.printf("  heap (MiB)    : largest used %d%n", report.maxHeapBytes >> 20);
                out.flush();
                monitor.stop();
                monitorThread.join();
                cluster.cancelJob(job).get(30, TimeUnit.SECONDS);
                return lost == 0 && duplicated == 0 ? 0 : 1;
            }
        }
    }

    private ScoringConfig config(String bootstrap) {
        Configuration o = new Configuration();
        o.set(ScoringOptions.BOOTSTRAP_SERVERS, bootstrap);
        o.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        o.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(5));
        o.set(dev.streamscore.operators.inference.InferenceOptions.MODEL, model);
        // A kill every minute is the test, not a reason to give up: allow them all.
        long kills = Math.max(1, Duration.ofMinutes(minutes).toMillis() / killEvery.toMillis());
        o.set(ScoringOptions.MAX_FAILURES, (int) kills + 5);
        o.set(ScoringOptions.FAILURE_INTERVAL, Duration.ofMinutes(minutes + 10L));
        o.set(ScoringOptions.RESTART_DELAY, Duration.ofSeconds(1));
        return ScoringConfig.from(o);
    }

    private static MiniCluster startCluster() throws Exception {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(RestOptions.BIND_PORT, "0");
        // Checkpoints in files, as on a cluster: the JobManager's memory takes at most 5 MiB.
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("streamscore-soak-");
        dir.toFile().deleteOnExit();
        conf.set(
                org.apache.flink.configuration.CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                dir.toUri().toString());
        MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setConfiguration(conf)
                                .setNumTaskManagers(2)
                                .setNumSlotsPerTaskManager(1)
                                .build());
        cluster.start();
        return cluster;
    }

    private record Traffic(DemoTraffic traffic, Thread thread) {
        void stop() throws InterruptedException {
            traffic.stop();
            thread.join();
        }
    }

    private static Traffic traffic(
            EmbeddedKafka kafka,
            ScoringConfig config,
            long seed,
            double rate,
            ConcurrentHashMap<String, Long> sentAt) {
        DemoTraffic traffic =
                new DemoTraffic(
                        kafka.bootstrapServers(),
                        new Properties(),
                        config.inputTopic(),
                        TransactionGenerator.Settings.defaults(seed),
                        0,
                        rate,
                        0.0,
                        sentAt);
        Thread thread = new Thread(traffic, "soak-traffic-" + seed);
        thread.start();
        return new Traffic(traffic, thread);
    }

    private record Report(
            int kills, long lastCheckpointBytes, long maxCheckpointBytes, long maxHeapBytes) {}

    private Report soak(
            MiniCluster cluster,
            FlinkRestClient rest,
            JobID job,
            ScoreMonitor monitor,
            Traffic soak)
            throws Exception {
        long start = System.nanoTime();
        long end = start + Duration.ofMinutes(minutes).toNanos();
        long nextKill = start + killEvery.toNanos();
        long nextLine = start + Duration.ofSeconds(10).toNanos();
        int kills = 0;
        // The MiniCluster keeps terminated TaskManagers in its list: kill only running ones.
        java.util.ArrayDeque<Integer> running = new java.util.ArrayDeque<>(java.util.List.of(0, 1));
        int nextIndex = 2;
        long lastCheckpoint = 0;
        long maxCheckpoint = 0;
        long maxHeap = 0;
        out.println("   time      sent    scored   p50 ms   p99 ms  checkpoint KiB  heap MiB");
        while (System.nanoTime() < end) {
            Thread.sleep(200);
            maxHeap =
                    Math.max(
                            maxHeap,
                            ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
            if (System.nanoTime() >= nextKill) {
                cluster.terminateTaskManager(running.removeFirst()).get(60, TimeUnit.SECONDS);
                cluster.startTaskManager();
                running.addLast(nextIndex++);
                kills++;
                nextKill += killEvery.toNanos();
                out.printf("   killed a TaskManager (%d so far) and started another%n", kills);
            }
            if (System.nanoTime() >= nextLine) {
                nextLine += Duration.ofSeconds(10).toNanos();
                long size = lastCheckpointBytes(rest, job);
                if (size > 0) {
                    lastCheckpoint = size;
                    maxCheckpoint = Math.max(maxCheckpoint, size);
                }
                Histogram h = monitor.intervalLatency();
                out.printf(
                        "%6ds  %8d  %8d  %7s  %7s  %14d  %8d%n",
                        (System.nanoTime() - start) / 1_000_000_000,
                        soak.traffic.sent.get(),
                        monitor.scored.get(),
                        h.getTotalCount() == 0 ? "-" : Long.toString(h.getValueAtPercentile(50)),
                        h.getTotalCount() == 0 ? "-" : Long.toString(h.getValueAtPercentile(99)),
                        lastCheckpoint >> 10,
                        ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20);
                out.flush();
            }
        }
        return new Report(kills, lastCheckpoint, maxCheckpoint, maxHeap);
    }

    private static long lastCheckpointBytes(FlinkRestClient rest, JobID job) {
        try {
            JsonNode latest =
                    rest.get("jobs/" + job + "/checkpoints").path("latest").path("completed");
            return latest.path("checkpointed_size").asLong(latest.path("state_size").asLong());
        } catch (Exception e) {
            return 0; // between a kill and the restore, the job may have no checkpoint stats
        }
    }

    private static long failures(FlinkRestClient rest, JobID job) {
        try {
            return rest.get("jobs/" + job + "/exceptions")
                    .path("exceptionHistory")
                    .path("entries")
                    .size();
        } catch (Exception e) {
            return -1;
        }
    }

    private static void awaitScored(ScoreMonitor monitor, long n, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (monitor.scored.get() < n && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        Thread.sleep(3_000); // a duplicate would arrive right behind
    }

    /** "1 min", "30 s": Flink's duration syntax. */
    static final class DurationConverter implements picocli.CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return org.apache.flink.util.TimeUtils.parseDuration(value);
        }
    }
}
