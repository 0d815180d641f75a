package dev.streamscore.tools.bench;

import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs {@link ModelThroughputBenchmark} with JMH for each model and batch size and reports the
 * model's own ceiling in rows/s, the number the end-to-end results are read against.
 *
 * <pre>{@code
 * List<BenchResults.ModelCeiling> ceilings =
 *         ModelCeilingRunner.measure(
 *                 List.of("gbdt", "mlp"), List.of(1, 64, 256), 2, 1,
 *                 Duration.ofSeconds(2), Duration.ofSeconds(2), 5, System.err);
 * }</pre>
 *
 * <p>JMH runs in this JVM (no fork): a forked JMH benchmark JVM gets the whole classpath on its
 * command line, and ONNX Runtime misbehaves in a process with a huge command line (see
 * shared/FACTS.md; the ./streamscore launcher passes its classpath through an @argfile for the same
 * reason). The price is JMH's usual warning about non-forked runs: configurations share one JIT
 * profile and heap, so they are measured in a fixed order and each gets its own warm-up. The native
 * ONNX Runtime kernels, where almost all the time goes, are not affected by the JIT.
 */
public final class ModelCeilingRunner {

    private ModelCeilingRunner() {}

    /**
     * Measures every model at every batch size, in that order.
     *
     * @param models bundled model ids ({@code gbdt}, {@code mlp}, {@code deep}) or model folders
     * @param batchSizes rows per call, each positive
     * @param threads concurrent callers sharing one session
     * @param intraOpThreads ONNX Runtime threads per call
     * @param warmup length of the one warm-up iteration per configuration, at least 1 ms
     * @param measurement length of each measured iteration, at least 1 ms
     * @param iterations measured iterations per configuration
     * @param progress where JMH's progress goes; null for nowhere
     * @return one ceiling per model and batch size, models outer, in the order given; the rows/s
     *     are the median over iterations of all callers' rows/s together, and the error is NaN with
     *     a single iteration (JMH gives no confidence interval for it)
     */
    public static List<BenchResults.ModelCeiling> measure(
            List<String> models,
            List<Integer> batchSizes,
            int threads,
            int intraOpThreads,
            Duration warmup,
            Duration measurement,
            int iterations,
            PrintStream progress) {
        check(models != null && !models.isEmpty(), "models must be given, got %s", models);
        check(
                batchSizes != null && !batchSizes.isEmpty(),
                "batch sizes must be given, got %s",
                batchSizes);
        check(
                batchSizes.stream().allMatch(b -> b != null && b > 0),
                "batch sizes must be positive, got %s",
                batchSizes);
        check(threads >= 1, "threads must be at least 1, got %s", threads);
        check(intraOpThreads >= 1, "intra-op threads must be at least 1, got %s", intraOpThreads);
        check(
                warmup != null && warmup.toMillis() >= 1,
                "warm-up must be at least 1 ms, got %s",
                warmup);
        check(
                measurement != null && measurement.toMillis() >= 1,
                "measurement must be at least 1 ms, got %s",
                measurement);
        check(iterations >= 1, "iterations must be at least 1, got %s", iterations);
        List<String> distinctModels = List.copyOf(new LinkedHashSet<>(models));
        List<Integer> distinctSizes = List.copyOf(new LinkedHashSet<>(batchSizes));

        Options options =
                new OptionsBuilder()
                        .include(Pattern.quote(ModelThroughputBenchmark.class.getName()) + "\\.")
                        .param("model", distinctModels.toArray(String[]::new))
                        .param(
                                "batchSize",
                                distinctSizes.stream().map(String::valueOf).toArray(String[]::new))
                        .param("intraOpThreads", String.valueOf(intraOpThreads))
                        // In this JVM: see the class comment (ONNX Runtime and long command lines).
                        .forks(0)
                        .threads(threads)
                        .warmupIterations(1)
                        .warmupTime(TimeValue.milliseconds(warmup.toMillis()))
                        .measurementIterations(iterations)
                        .measurementTime(TimeValue.milliseconds(measurement.toMillis()))
                        .shouldFailOnError(true)
                        .build();
        OutputFormat output =
                progress == null
                        ? OutputFormatFactory.createFormatInstance(
                                new PrintStream(OutputStream.nullOutputStream()),
                                VerboseMode.SILENT)
                        : OutputFormatFactory.createFormatInstance(progress, VerboseMode.NORMAL);
        Collection<RunResult> results;
        try {
            results = new Runner(options, output).run();
        } catch (RunnerException e) {
            throw new IllegalStateException(
                    "JMH failed to measure models "
                            + distinctModels
                            + " at batch sizes "
                            + distinctSizes
                            + ": "
                            + e.getMessage(),
                    e);
        }

        Map<String, RunResult> byConfiguration = new HashMap<>();
        for (RunResult result : results) {
            byConfiguration.put(
                    configuration(
                            result.getParams().getParam("model"),
                            Integer.parseInt(result.getParams().getParam("batchSize"))),
                    result);
        }
        List<BenchResults.ModelCeiling> ceilings = new ArrayList<>();
        for (String model : distinctModels) {
            for (int batchSize : distinctSizes) {
                RunResult result = byConfiguration.get(configuration(model, batchSize));
                if (result == null) {
                    throw new IllegalStateException(
                            "JMH returned no result for model "
                                    + model
                                    + " at batch size "
                                    + batchSize
                                    + "; it returned "
                                    + byConfiguration.keySet());
                }
                ceilings.add(ceiling(model, batchSize, threads, result));
            }
        }
        return ceilings;
    }

    /** Batches/s (JMH's score, all threads together) times rows per batch. */
    private static BenchResults.ModelCeiling ceiling(
            String model, int batchSize, int threads, RunResult result) {
        Result<?> primary = result.getPrimaryResult();
        double medianBatchesPerSecond = primary.getStatistics().getPercentile(50);
        return new BenchResults.ModelCeiling(
                model,
                batchSize,
                threads,
                medianBatchesPerSecond * batchSize,
                primary.getScoreError() * batchSize);
    }

    private static String configuration(String model, int batchSize) {
        return model + "@" + batchSize;
    }

    private static void check(boolean condition, String message, Object value) {
        if (!condition) {
            throw new IllegalArgumentException(String.format(message, value));
        }
    }
}
