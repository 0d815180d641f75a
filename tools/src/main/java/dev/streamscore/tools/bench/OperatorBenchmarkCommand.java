package dev.streamscore.tools.bench;

import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.inference.InferenceSettings;
import dev.streamscore.operators.inference.Score;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.FeatureRows;
import dev.streamscore.testkit.generator.TransactionGenerator;
import dev.streamscore.tools.cli.JobOptionDefaults;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code streamscore bench-operator}: the throughput of the batching inference operator alone, in a
 * Flink job on a local MiniCluster (pre-computed enriched transactions → keyBy card → inference →
 * discarding sink; no Kafka, no decoding, no feature state), for each model and batch size.
 *
 * <p>Runs are interleaved across configurations and repeated; the first round is a discarded
 * warm-up (the first Flink jobs in a JVM run 2.5-3x slower). Throughput is counted between the
 * first and the last score reaching the sink, so job start-up is not in it.
 */
@Command(
        name = "bench-operator",
        mixinStandardHelpOptions = true,
        defaultValueProvider = JobOptionDefaults.class,
        description = "Measure the inference operator alone: events/s per model and batch size.")
public final class OperatorBenchmarkCommand implements Callable<Integer> {

    @Option(
            names = "--events",
            defaultValue = "300000",
            description = "Events per run. Default: ${DEFAULT-VALUE}.")
    int events;

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description = "Measured rounds (after one warm-up round). Default: ${DEFAULT-VALUE}.")
    int repeats;

    @Option(
            names = "--models",
            split = ",",
            defaultValue = "gbdt,mlp",
            description = "Bundled models. Default: ${DEFAULT-VALUE}.")
    List<String> models;

    @Option(
            names = "--batch-sizes",
            split = ",",
            defaultValue = "1,8,64,256",
            description = "Batch sizes. Default: ${DEFAULT-VALUE}.")
    List<Integer> batchSizes;

    @Option(names = "--parallelism", description = "Job parallelism. Default: ${DEFAULT-VALUE}.")
    int parallelism;

    @Option(
            names = "--cache",
            split = ",",
            defaultValue = "off",
            description =
                    "Result cache settings to compare: off, on (the workload never repeats a"
                        + " vector, so 'on' measures what the cache costs when it does not hit), or"
                        + " off,on. Default: ${DEFAULT-VALUE}.")
    List<String> caches;

    @Option(
            names = "--state-backend",
            defaultValue = "rocksdb",
            description =
                    "Keyed state backend: rocksdb (as the job runs) or hashmap. Default:"
                            + " ${DEFAULT-VALUE}.")
    String stateBackend;

    /** The workload, shared with the sources in this JVM (the MiniCluster runs here). */
    static PipelineEvent[] workload;

    static final AtomicLong FIRST = new AtomicLong();
    static final AtomicLong LAST = new AtomicLong();

    @Override
    public Integer call() throws Exception {
        if (events < 1000 || repeats < 1) {
            throw new IllegalArgumentException(
                    "--events must be at least 1000 and --repeats at least 1");
        }
        for (String cache : caches) {
            if (!cache.equals("on") && !cache.equals("off")) {
                throw new IllegalArgumentException("--cache takes on and/or off, got " + cache);
            }
        }
        workload = buildWorkload(events);
        Map<String, List<Double>> results = new HashMap<>();
        List<String> order = new ArrayList<>();
        System.out.printf(
                "bench-operator: %d events per run, parallelism %d, cache %s, state backend %s, %d"
                        + " cores, Java %s%n",
                events,
                parallelism,
                caches,
                stateBackend,
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
        for (int round = 0; round <= repeats; round++) {
            for (String model : models) {
                for (int batch : batchSizes) {
                    for (String cache : caches) {
                        String key = model + " batch " + batch + " cache " + cache;
                        double rate = run(model, batch, cache.equals("on"));
                        if (round == 0) {
                            System.out.printf(
                                    "  warm-up  %-18s %,10.0f events/s (discarded)%n", key, rate);
                            continue;
                        }
                        if (!results.containsKey(key)) {
                            order.add(key);
                        }
                        results.computeIfAbsent(key, k -> new ArrayList<>()).add(rate);
                        System.out.printf("  round %d  %-28s %,10.0f events/s%n", round, key, rate);
                    }
                }
            }
        }
        System.out.println();
        System.out.println("| model | batch size | cache | events/s (median) | min | max | runs |");
        System.out.println("| --- | ---: | --- | ---: | ---: | ---: | ---: |");
        for (String key : order) {
            double[] r =
                    results.get(key).stream().mapToDouble(Double::doubleValue).sorted().toArray();
            String[] parts = key.split(" batch | cache ");
            System.out.printf(
                    "| %s | %s | %s | %,.0f | %,.0f | %,.0f | %d |%n",
                    parts[0],
                    parts[1],
                    parts[2],
                    BenchReport.median(results.get(key)),
                    r[0],
                    r[r.length - 1],
                    r.length);
        }
        return 0;
    }

    private double run(String model, int batch, boolean cacheOn) throws Exception {
        Configuration conf = new Configuration();
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        conf.set(StateBackendOptions.STATE_BACKEND, stateBackend);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        InferenceSettings settings =
                InferenceSettings.defaults(BenchSpec.modelLocation(model))
                        .withBatching(
                                b ->
                                        b.maxBatchSize(batch)
                                                .maxWait(BatchingOptions.MAX_WAIT.defaultValue())
                                                .cacheTtl(
                                                        cacheOn
                                                                ? Duration.ofMinutes(10)
                                                                : Duration.ZERO));
        FIRST.set(0);
        LAST.set(0);
        env.fromSource(
                        new DataGeneratorSource<>(
                                i -> workload[(int) (long) i],
                                workload.length,
                                RateLimiterStrategy.noOp(),
                                TypeInformation.of(PipelineEvent.class)),
                        WatermarkStrategy.noWatermarks(),
                        "workload")
                .keyBy(e -> e.key, Types.STRING)
                .transform(
                        "inference",
                        TypeInformation.of(Score.class),
                        new BatchingInferenceOperator(settings))
                .map(new Clock())
                .sinkTo(new DiscardingSink<>());
        env.execute("bench-operator " + model + " " + batch);
        double seconds = (LAST.get() - FIRST.get()) / 1e9;
        return workload.length / seconds;
    }

    /** Notes when the first and the last score pass; costs one nanoTime per event. */
    private static final class Clock implements MapFunction<Score, Score> {
        @Override
        public Score map(Score score) {
            long now = System.nanoTime();
            FIRST.compareAndSet(0, now);
            LAST.accumulateAndGet(now, Math::max);
            return score;
        }
    }

    private static PipelineEvent[] buildWorkload(int n) {
        TransactionGenerator generator =
                new TransactionGenerator(TransactionGenerator.Settings.defaults(99));
        FeatureRows rows = new FeatureRows();
        PipelineEvent[] out = new PipelineEvent[n];
        for (int i = 0; i < n; i++) {
            Transaction txn = generator.next().transaction();
            float[] f = rows.next(txn);
            PipelineEvent e =
                    new PipelineEvent(
                            txn.getCardId().toString(),
                            txn.getTransactionId().toString(),
                            txn.getEventTime().toEpochMilli(),
                            new byte[0],
                            new byte[0],
                            "bench",
                            0,
                            i);
            out[i] = e.withFeatures(f);
        }
        return out;
    }
}
