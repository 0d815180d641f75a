package dev.streamscore.tools.bench;

import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.tools.cli.JobOptionDefaults;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore bench}: the whole pipeline (in-process Kafka broker, Flink MiniCluster with
 * RocksDB, Avro on the wire) measured end to end for streamscore and the ways users would otherwise
 * score, plus the model alone (JMH); writes a table, a CSV and an HTML report.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        defaultValueProvider = JobOptionDefaults.class,
        description =
                "Measure the whole pipeline end to end: maximum sustained throughput, and latency"
                        + " at 25/50/75%% of it, for streamscore against a constant-score ceiling"
                        + " and per-record ONNX calls (map, async I/O), plus the model alone (JMH)."
                        + " Writes a table, a CSV, an HTML report and SVG figures.")
public final class BenchCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(
            names = "--configurations",
            split = ",",
            defaultValue =
                    "ceiling,per-record-map,per-record-async,streamscore,streamscore+cache,"
                            + "streamscore+challenger",
            description = "Configurations to compare. Default: ${DEFAULT-VALUE}.")
    List<String> configurations;

    @Option(
            names = "--models",
            split = ",",
            defaultValue = "gbdt,mlp",
            description =
                    "Models: bundled ids (gbdt, mlp, deep) or model folders, e.g. one written by"
                            + " `streamscore model compress`. Default: ${DEFAULT-VALUE}.")
    List<String> models;

    @Option(
            names = "--delivery",
            split = ",",
            defaultValue = "at-least-once,exactly-once",
            description = "Delivery guarantees. Default: ${DEFAULT-VALUE}.")
    List<String> deliveries;

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description =
                    "Measured rounds of every configuration, interleaved, after one discarded"
                            + " warm-up run per configuration. Default: ${DEFAULT-VALUE}.")
    int repeats;

    @Option(
            names = "--events",
            defaultValue = "200000",
            description =
                    "Backlog of transactions per maximum-throughput run. Default:"
                            + " ${DEFAULT-VALUE}.")
    int events;

    @Option(
            names = "--loads",
            split = ",",
            defaultValue = "25,50,75",
            description =
                    "Offered loads for the latency runs, in %% of each configuration's median"
                            + " maximum. Default: ${DEFAULT-VALUE}.")
    List<Integer> loads;

    @Option(
            names = "--no-latency",
            description = "Measure maximum throughput only, no latency runs.")
    boolean noLatency;

    @Option(
            names = "--load-warmup",
            defaultValue = "2s",
            converter = DurationConverter.class,
            description =
                    "Time at the offered load before latencies count. Default: ${DEFAULT-VALUE}.")
    Duration loadWarmup;

    @Option(
            names = "--load-duration",
            defaultValue = "5s",
            converter = DurationConverter.class,
            description = "Measured time at each offered load. Default: ${DEFAULT-VALUE}.")
    Duration loadDuration;

    @Option(
            names = "--batch-size",
            description = "streamscore's batch size. Default: ${DEFAULT-VALUE}.")
    int batchSize;

    @Option(
            names = "--max-wait",
            converter = DurationConverter.class,
            description = "streamscore's maximum batch wait. Default: ${DEFAULT-VALUE}.")
    Duration maxWait;

    @Option(
            names = "--in-flight",
            description =
                    "Batches in flight per subtask (threads per subtask for per-record async)."
                            + " Default: ${DEFAULT-VALUE}.")
    int inFlight;

    @Option(names = "--parallelism", description = "Job parallelism. Default: ${DEFAULT-VALUE}.")
    int parallelism;

    @Option(
            names = "--intra-op-threads",
            description = "ONNX Runtime threads per call. Default: ${DEFAULT-VALUE}.")
    int intraOpThreads;

    @Option(
            names = "--duplicate-rate",
            defaultValue = "0.2",
            description =
                    "Share of transactions re-sent in the streamscore+cache workload. Default:"
                            + " ${DEFAULT-VALUE}.")
    double duplicateRate;

    @Option(
            names = "--checkpoint-interval",
            defaultValue = "1s",
            converter = DurationConverter.class,
            description =
                    "Checkpoint interval of the exactly-once runs: about the delay before their"
                            + " scores are visible. At-least-once runs keep the job's default"
                            + " (checkpoint-interval, 10 s). Default: ${DEFAULT-VALUE}.")
    Duration checkpointInterval;

    @Option(
            names = "--sweep",
            description =
                    "Instead of the comparison, vary streamscore's settings one at a time around"
                        + " the given ones: batch size, max wait, batches in flight, parallelism,"
                        + " intra-op threads, model, cache off/on.")
    boolean sweep;

    @Option(
            names = "--p99-target",
            converter = DurationConverter.class,
            description =
                    "Recommend the streamscore setting with the highest throughput whose p99 at"
                            + " 50%% load is within this, e.g. 20ms.")
    Duration p99Target;

    @Option(
            names = "--latency-target",
            converter = DurationConverter.class,
            description =
                    "After the latency runs, for each streamscore setting: run the job with"
                            + " adaptive batching at this target (job option latency-target) and"
                            + " search the highest load whose p99 stays within it, by bisection"
                            + " of the load between 0 and 100%% of the median maximum; print it and"
                            + " write latency-target.csv. E.g. 20ms.")
    Duration latencyTarget;

    @Option(
            names = "--latency-target-steps",
            defaultValue = "5",
            description =
                    "Latency runs of the --latency-target search per setting: 5 finds the load"
                            + " within 100/32 = 3%% of the maximum. Default: ${DEFAULT-VALUE}.")
    int latencyTargetSteps;

    @Option(
            names = "--model-alone",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description =
                    "Measure the model alone with JMH (configuration 6) for the throughput limit."
                            + " Default: ${DEFAULT-VALUE}.")
    boolean modelAlone;

    @Option(
            names = "--job-option",
            paramLabel = "KEY=VALUE",
            description =
                    "Any job option (see the README's table) or Flink setting for every run, e.g."
                            + " --job-option dedup-window=0ms or --job-option"
                            + " state.backend.type=hashmap. Repeatable.")
    Map<String, String> jobOptions = new LinkedHashMap<>();

    @Option(
            names = "--ort-profile",
            description =
                    "After the measured runs, one more streamscore run of the first model with ONNX"
                            + " Runtime's profiler on, its trace written under this folder"
                            + " (open it in chrome://tracing or Perfetto).")
    Path ortProfile;

    @Option(
            names = "--latency-trace",
            description =
                    "Folder for one CSV per latency run: per 10 ms of the send schedule (wall"
                            + " clock), the events due, their largest and mean latency, the largest"
                            + " time to the broker's append of their score and how late the bench"
                            + " sent them, to line stalls up with a GC log, checkpoints and"
                            + " logs/streamscore.log.")
    Path latencyTrace;

    @Option(
            names = "--out",
            defaultValue = "bench-results",
            description = "Folder for results.csv and report.html. Default: ${DEFAULT-VALUE}.")
    Path out;

    private PrintWriter log;

    @Override
    public Integer call() throws Exception {
        log = spec.commandLine().getOut();
        validate();
        if (noLatency) {
            loads = List.of();
        }
        List<BenchSpec> specs = sweep ? sweepSpecs() : comparisonSpecs();
        BenchResults.Environment env = BenchEnvironment.describe(commandLine(), jobOptions);
        log.printf(
                "streamscore bench: %d settings, %d rounds, %,d events per maximum run, loads %s%%;"
                        + " %d cores, %s%n",
                specs.size(), repeats, events, loads, env.cores(), env.jvm());
        log.println("  versions: " + env.versions());
        log.flush();

        Map<BenchSpec, List<Double>> maxima = new LinkedHashMap<>();
        Map<BenchSpec, List<BenchResults.Stages>> stages = new LinkedHashMap<>();
        Map<BenchSpec, List<BenchResults.LoadPoint>> latencies = new LinkedHashMap<>();
        List<BenchResults.ModelCeiling> ceilings = new ArrayList<>();
        Progress progress = new Progress(log, runsPlanned(specs));
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
            EndToEndRunner runner =
                    new EndToEndRunner(
                            kafka,
                            checkpointInterval,
                            Configuration.fromMap(jobOptions),
                            latencyTrace);
            // The first Flink jobs in a JVM run 2.5-3x slower: one discarded run per configuration.
            for (BenchSpec s : warmUpSpecs(specs)) {
                EndToEndRunner.MaxResult r = runner.maxThroughput(s, events);
                progress.line(
                        "warm-up  %-45s %,10.0f events/s (discarded)",
                        s.label(), r.eventsPerSecond());
            }
            for (int round = 1; round <= repeats; round++) {
                for (BenchSpec s : rotated(specs, round)) {
                    EndToEndRunner.MaxResult r = runner.maxThroughput(s, events);
                    maxima.computeIfAbsent(s, k -> new ArrayList<>()).add(r.eventsPerSecond());
                    stages.computeIfAbsent(s, k -> new ArrayList<>()).add(r.stages());
                    progress.line(
                            "max      round %d  %-45s %,10.0f events/s  %s",
                            round, name(s), r.eventsPerSecond(), stageLine(r.stages()));
                }
            }
            for (int round = 1; round <= repeats && !loads.isEmpty(); round++) {
                for (BenchSpec s : rotated(specs, round)) {
                    double max = BenchReport.median(maxima.get(s));
                    for (int load : loads) {
                        BenchResults.LoadPoint p =
                                runner.latency(
                                        s,
                                        load,
                                        max * load / 100.0,
                                        loadWarmup,
                                        loadDuration,
                                        round);
                        latencies.computeIfAbsent(s, k -> new ArrayList<>()).add(p);
                        progress.line(
                                "latency  round %d  %-45s %3d%% (%,8.0f/s): p50 %6.1f  p99 %7.1f "
                                        + " p99.9 %7.1f ms",
                                round,
                                name(s),
                                load,
                                p.offeredRate(),
                                p.p50Ms(),
                                p.p99Ms(),
                                p.p999Ms());
                    }
                }
            }
            if (latencyTarget != null) {
                searchLatencyTarget(kafka, specs, maxima, progress);
            }
            if (ortProfile != null) {
                profileRun(kafka, specs.get(0));
            }
        }
        if (modelAlone) {
            log.println("model alone (JMH, in-process, " + parallelism + " threads):");
            log.flush();
            ceilings.addAll(
                    ModelCeilingRunner.measure(
                            new ArrayList<>(new LinkedHashSet<>(models)),
                            List.of(batchSize),
                            parallelism,
                            intraOpThreads,
                            Duration.ofSeconds(2),
                            Duration.ofSeconds(2),
                            3,
                            System.out));
        }

        List<BenchResults.Setting> settings = new ArrayList<>();
        for (BenchSpec s : specs) {
            settings.add(
                    new BenchResults.Setting(
                            name(s),
                            s.configuration(),
                            s.model(),
                            s.deliveryName(),
                            s.parameters(),
                            maxima.get(s),
                            latencies.getOrDefault(s, List.of()),
                            medianStages(stages.get(s))));
        }
        Files.createDirectories(out);
        BenchReport.writeCsv(out.resolve("results.csv"), env, settings, ceilings);
        String targets =
                sweep ? "" : Targets.evaluate(settings, ceilings, maxWait, checkpointInterval);
        BenchReport.writeHtml(
                out.resolve("report.html"), env, settings, ceilings, p99Target, targets);
        BenchReport.writeFigures(out.resolve("figures"), env, settings);
        log.println();
        log.println(BenchReport.markdownTable(settings));
        if (!ceilings.isEmpty()) {
            log.println("| model alone (JMH) | batch | threads | rows/s |");
            log.println("| --- | ---: | ---: | ---: |");
            for (BenchResults.ModelCeiling c : ceilings) {
                log.printf(
                        Locale.ROOT,
                        "| %s | %d | %d | %,.0f ± %,.0f |%n",
                        c.model(),
                        c.batchSize(),
                        c.threads(),
                        c.rowsPerSecond(),
                        c.errorRowsPerSecond());
            }
            log.println();
        }
        if (!targets.isEmpty()) {
            log.println(targets);
        }
        if (p99Target != null) {
            for (String delivery : new LinkedHashSet<>(deliveries)) {
                log.println(
                        "recommendation for p99 <= "
                                + p99Target.toMillis()
                                + " ms, "
                                + delivery
                                + ": "
                                + BenchReport.recommend(sameWorkload(settings), p99Target, delivery)
                                        .map(BenchReport.Recommendation::reason)
                                        .orElse("no streamscore setting met it"));
            }
        }
        log.println(
                "wrote "
                        + out.resolve("results.csv")
                        + ", "
                        + out.resolve("report.html")
                        + " and "
                        + out.resolve("figures"));
        log.flush();
        return 0;
    }

    /** One streamscore run with ONNX Runtime's profiler on; not part of the measured results. */
    private void profileRun(EmbeddedKafka kafka, BenchSpec first) throws Exception {
        BenchSpec s = base(BenchSpec.STREAMSCORE, first.model(), first.deliveryName());
        Path dir = ortProfile.toAbsolutePath();
        Files.createDirectories(dir);
        Configuration options = Configuration.fromMap(jobOptions);
        options.set(InferenceOptions.ORT_PROFILE, dir.resolve("ort-" + s.model()).toString());
        EndToEndRunner.MaxResult r =
                new EndToEndRunner(kafka, checkpointInterval, options).maxThroughput(s, events);
        List<String> traces = new ArrayList<>();
        try (var files = Files.list(dir)) {
            files.filter(f -> f.getFileName().toString().startsWith("ort-" + s.model()))
                    .forEach(f -> traces.add(f.toString()));
        }
        log.printf(
                Locale.ROOT,
                "ONNX Runtime profile of %s (%,.0f events/s with the profiler on): %s%n",
                s.label(),
                r.eventsPerSecond(),
                traces.isEmpty() ? "no trace written (see logs/streamscore.log)" : traces);
        log.flush();
    }

    /**
     * For each streamscore setting, the highest offered load (a fraction of its median maximum,
     * found by bisection) at which the job with adaptive batching at {@link #latencyTarget} keeps
     * p99 within it. A load that misses halves the step downwards, one that meets it upwards.
     */
    private void searchLatencyTarget(
            EmbeddedKafka kafka,
            List<BenchSpec> specs,
            Map<BenchSpec, List<Double>> maxima,
            Progress progress)
            throws Exception {
        Map<String, String> adaptive = new LinkedHashMap<>(jobOptions);
        adaptive.put(
                dev.streamscore.operators.batching.BatchingOptions.LATENCY_TARGET.key(),
                latencyTarget.toMillis() + " ms");
        EndToEndRunner runner =
                new EndToEndRunner(
                        kafka, checkpointInterval, Configuration.fromMap(adaptive), latencyTrace);
        double targetMs = latencyTarget.toNanos() / 1e6;
        List<String> lines = new ArrayList<>();
        List<String> csv = new ArrayList<>();
        csv.add("setting,target_ms,load_fraction,events_per_s,p50_ms,p99_ms,p999_ms,met");
        for (BenchSpec s : specs) {
            if (!batched(s)) {
                continue;
            }
            double max = BenchReport.median(maxima.get(s));
            double low = 0;
            double high = 1;
            double fraction = 0.5;
            BenchResults.LoadPoint best = null;
            double bestFraction = 0;
            for (int step = 1; step <= latencyTargetSteps; step++) {
                BenchResults.LoadPoint p =
                        runner.latency(
                                s,
                                (int) Math.round(fraction * 100),
                                max * fraction,
                                loadWarmup,
                                loadDuration,
                                100 + step); // its own trace files, beside the load runs'
                boolean met = p.p99Ms() <= targetMs;
                progress.line(
                        "target   step %d  %-45s %5.1f%% (%,8.0f/s): p99 %7.1f ms %s %.0f ms",
                        step,
                        name(s),
                        fraction * 100,
                        p.offeredRate(),
                        p.p99Ms(),
                        met ? "<=" : ">",
                        targetMs);
                csv.add(
                        String.format(
                                Locale.ROOT,
                                "%s,%.1f,%.4f,%.0f,%.2f,%.2f,%.2f,%s",
                                name(s),
                                targetMs,
                                fraction,
                                p.offeredRate(),
                                p.p50Ms(),
                                p.p99Ms(),
                                p.p999Ms(),
                                met));
                if (met) {
                    best = p;
                    bestFraction = fraction;
                    low = fraction;
                } else {
                    high = fraction;
                }
                fraction = (low + high) / 2;
            }
            lines.add(
                    best == null
                            ? String.format(
                                    Locale.ROOT,
                                    "  %s: p99 above %.0f ms at every load tried, down to %.1f%%"
                                            + " of its maximum",
                                    name(s),
                                    targetMs,
                                    high * 100)
                            : String.format(
                                    Locale.ROOT,
                                    "  %s: %,.0f events/s (%.1f%% of its maximum), p50 %.1f /"
                                            + " p99 %.1f / p99.9 %.1f ms",
                                    name(s),
                                    best.offeredRate(),
                                    bestFraction * 100,
                                    best.p50Ms(),
                                    best.p99Ms(),
                                    best.p999Ms()));
        }
        Files.createDirectories(out);
        Files.write(out.resolve("latency-target.csv"), csv);
        log.printf(
                Locale.ROOT,
                "latency target %.0f ms (adaptive batching): the highest load found with p99 within"
                        + " it, %d runs each%n",
                targetMs,
                latencyTargetSteps);
        lines.forEach(log::println);
        log.flush();
    }

    /**
     * The settings measured on the base workload (no re-sends, or the cache's workload when the
     * cache alone is compared), so a recommendation never favours an easier input.
     */
    private List<BenchResults.Setting> sameWorkload(List<BenchResults.Setting> settings) {
        List<BenchResults.Setting> same = new ArrayList<>();
        for (BenchResults.Setting s : settings) {
            if ("0.0".equals(s.parameters().get("duplicate-rate"))) {
                same.add(s);
            }
        }
        return same.isEmpty() ? settings : same;
    }

    private static String stageLine(BenchResults.Stages s) {
        return String.format(
                Locale.ROOT,
                "us/event: decode %.1f, enrich %.1f, cache %.1f, model %.1f, reasons %.2f (%.1f%%"
                        + " explained), encode %.1f; batch %.0f",
                s.decodeMicros(),
                s.enrichMicros(),
                s.cacheMicros(),
                s.inferenceMicros(),
                s.explainMicros(),
                100 * s.explainedShare(),
                s.sinkMicros(),
                Double.isNaN(s.meanBatchSize()) ? 1.0 : s.meanBatchSize());
    }

    private String name(BenchSpec s) {
        return sweep ? s.sweepLabel() : s.label();
    }

    private void validate() {
        if (repeats < 1 || events < 10_000) {
            throw new IllegalArgumentException(
                    "--repeats must be at least 1 and --events at least 10000");
        }
        for (int load : loads) {
            if (load != 25 && load != 50 && load != 75) {
                throw new IllegalArgumentException(
                        "--loads takes 25, 50 and/or 75 (the report's columns), got " + load);
            }
        }
        for (String d : deliveries) {
            delivery(d);
        }
        if (latencyTarget != null && (latencyTarget.isZero() || latencyTarget.isNegative())) {
            throw new IllegalArgumentException(
                    "--latency-target must be positive, got " + latencyTarget);
        }
        if (latencyTargetSteps < 1 || latencyTargetSteps > 20) {
            throw new IllegalArgumentException(
                    "--latency-target-steps must be 1..20, got " + latencyTargetSteps);
        }
        if (duplicateRate < 0 || duplicateRate > 0.5) {
            throw new IllegalArgumentException(
                    "--duplicate-rate must be in [0, 0.5], got " + duplicateRate);
        }
    }

    private static DeliveryGuarantee delivery(String name) {
        return switch (name) {
            case "at-least-once" -> DeliveryGuarantee.AT_LEAST_ONCE;
            case "exactly-once" -> DeliveryGuarantee.EXACTLY_ONCE;
            default ->
                    throw new IllegalArgumentException(
                            "--delivery takes at-least-once and/or exactly-once, got " + name);
        };
    }

    private BenchSpec base(String configuration, String model, String delivery) {
        boolean cache = configuration.equals(BenchSpec.STREAMSCORE_CACHE);
        return new BenchSpec(
                configuration,
                model,
                delivery(delivery),
                batchSize,
                maxWait,
                inFlight,
                parallelism,
                intraOpThreads,
                cache,
                cache ? duplicateRate : 0.0);
    }

    private List<BenchSpec> comparisonSpecs() {
        List<BenchSpec> specs = new ArrayList<>();
        for (String delivery : deliveries) {
            for (String model : models) {
                for (String configuration : configurations) {
                    if (configuration.equals(BenchSpec.STREAMSCORE_CACHE)) {
                        // What the cache is worth: streamscore without it on the same re-sends.
                        BenchSpec noCache = base(BenchSpec.STREAMSCORE, model, delivery);
                        specs.add(
                                with(
                                        noCache,
                                        noCache.batchSize(),
                                        noCache.maxWait(),
                                        noCache.inFlight(),
                                        noCache.parallelism(),
                                        noCache.intraOpThreads(),
                                        duplicateRate));
                    }
                    specs.add(base(configuration, model, delivery));
                }
            }
        }
        return specs;
    }

    /** One knob at a time around the base setting (so the effect of each is visible alone). */
    private List<BenchSpec> sweepSpecs() {
        LinkedHashSet<BenchSpec> specs = new LinkedHashSet<>();
        for (String delivery : deliveries) {
            for (String model : models) {
                BenchSpec b = base(BenchSpec.STREAMSCORE, model, delivery);
                specs.add(b);
                for (int size : new int[] {16, 64, 256, 1024}) {
                    specs.add(
                            with(
                                    b,
                                    size,
                                    b.maxWait(),
                                    b.inFlight(),
                                    b.parallelism(),
                                    b.intraOpThreads()));
                }
                for (int ms : new int[] {2, 5, 10, 25}) {
                    specs.add(
                            with(
                                    b,
                                    b.batchSize(),
                                    Duration.ofMillis(ms),
                                    b.inFlight(),
                                    b.parallelism(),
                                    b.intraOpThreads()));
                }
                for (int f : new int[] {1, 2, 4}) {
                    specs.add(
                            with(
                                    b,
                                    b.batchSize(),
                                    b.maxWait(),
                                    f,
                                    b.parallelism(),
                                    b.intraOpThreads()));
                }
                for (int p : new int[] {1, 2}) {
                    specs.add(
                            with(
                                    b,
                                    b.batchSize(),
                                    b.maxWait(),
                                    b.inFlight(),
                                    p,
                                    b.intraOpThreads()));
                }
                for (int t : new int[] {1, 2}) {
                    specs.add(
                            with(b, b.batchSize(), b.maxWait(), b.inFlight(), b.parallelism(), t));
                }
                // The cache on the workload with re-sent duplicates, against no cache on the same.
                specs.add(
                        new BenchSpec(
                                BenchSpec.STREAMSCORE,
                                model,
                                b.delivery(),
                                b.batchSize(),
                                b.maxWait(),
                                b.inFlight(),
                                b.parallelism(),
                                b.intraOpThreads(),
                                false,
                                duplicateRate));
                specs.add(base(BenchSpec.STREAMSCORE_CACHE, model, delivery));
            }
        }
        return new ArrayList<>(specs);
    }

    private static BenchSpec with(
            BenchSpec b, int batch, Duration wait, int inFlight, int parallelism, int threads) {
        return with(b, batch, wait, inFlight, parallelism, threads, b.duplicateRate());
    }

    private static BenchSpec with(
            BenchSpec b,
            int batch,
            Duration wait,
            int inFlight,
            int parallelism,
            int threads,
            double duplicateRate) {
        return new BenchSpec(
                b.configuration(),
                b.model(),
                b.delivery(),
                batch,
                wait,
                inFlight,
                parallelism,
                threads,
                b.cache(),
                duplicateRate);
    }

    /** One spec of each configuration, model and delivery: every code path the JIT will see. */
    private static List<BenchSpec> warmUpSpecs(List<BenchSpec> specs) {
        Map<String, BenchSpec> first = new LinkedHashMap<>();
        for (BenchSpec s : specs) {
            first.putIfAbsent(s.configuration() + " " + s.model() + " " + s.delivery(), s);
        }
        return new ArrayList<>(first.values());
    }

    /** The specs starting at a different one each round, so no setting always runs first. */
    private static List<BenchSpec> rotated(List<BenchSpec> specs, int round) {
        List<BenchSpec> r = new ArrayList<>(specs.size());
        int shift = ((round - 1) * Math.max(1, specs.size() / Math.max(1, 3))) % specs.size();
        for (int i = 0; i < specs.size(); i++) {
            r.add(specs.get((i + shift) % specs.size()));
        }
        return r;
    }

    /** A streamscore configuration: one with the batching operator, so adaptive batching. */
    private static boolean batched(BenchSpec s) {
        return s.configuration().startsWith(BenchSpec.STREAMSCORE);
    }

    private long runsPlanned(List<BenchSpec> specs) {
        long searches =
                latencyTarget == null
                        ? 0
                        : specs.stream().filter(BenchCommand::batched).count() * latencyTargetSteps;
        return warmUpSpecs(specs).size()
                + (long) specs.size() * repeats * (1 + loads.size())
                + searches;
    }

    private static BenchResults.Stages medianStages(List<BenchResults.Stages> all) {
        if (all == null || all.isEmpty()) {
            return null;
        }
        return new BenchResults.Stages(
                med(all, BenchResults.Stages::decodeMicros),
                med(all, BenchResults.Stages::enrichMicros),
                med(all, BenchResults.Stages::cacheMicros),
                med(all, BenchResults.Stages::inferenceMicros),
                med(all, BenchResults.Stages::sinkMicros),
                med(all, BenchResults.Stages::queueWaitMs),
                med(all, BenchResults.Stages::inferenceCallMs),
                med(all, BenchResults.Stages::meanBatchSize),
                med(all, BenchResults.Stages::cacheHitRate),
                med(all, BenchResults.Stages::explainMicros),
                med(all, BenchResults.Stages::explainedShare));
    }

    private static double med(
            List<BenchResults.Stages> all,
            java.util.function.ToDoubleFunction<BenchResults.Stages> field) {
        List<Double> values = new ArrayList<>();
        for (BenchResults.Stages s : all) {
            values.add(field.applyAsDouble(s));
        }
        return BenchReport.median(values);
    }

    private String commandLine() {
        // The original arguments are the whole command line's, the subcommand's name first.
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        int from = args.indexOf(spec.name()) + 1;
        return "./streamscore bench " + String.join(" ", args.subList(from, args.size()));
    }

    /** Progress lines with the run count and an estimate of the time left. */
    private static final class Progress {
        private final PrintWriter log;
        private final long planned;
        private final long started = System.nanoTime();
        private long done;

        Progress(PrintWriter log, long planned) {
            this.log = log;
            this.planned = planned;
        }

        void line(String format, Object... args) {
            done++;
            double elapsed = (System.nanoTime() - started) / 1e9;
            double left = elapsed / done * (planned - done);
            log.printf(
                    Locale.ROOT,
                    "[%3d/%3d, %4.0f min left] %s%n",
                    done,
                    planned,
                    left / 60,
                    String.format(Locale.ROOT, format, args));
            log.flush();
        }
    }

    /** Durations as Flink writes them: 20ms, 1.5s is not one (use 1500ms), 2min. */
    public static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                return TimeUtils.parseDuration(value);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "not a duration: '" + value + "' (use e.g. 20ms, 2s, 1min)");
            }
        }
    }
}
