package dev.streamscore.tools.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * Reads the operators' own metrics for {@code streamscore bench}'s per-stage breakdown: a Flink
 * metric reporter that keeps a reference to every metric registered in this JVM (the MiniCluster
 * runs here), so the benchmark reads the counters directly at the end of a run.
 *
 * <p>Enabled through the configuration keys of {@link #reporterConfig()}; found by Flink through
 * {@code META-INF/services}.
 */
public final class StageMetrics implements MetricReporter {

    private static final Map<String, Metric> METRICS = new ConcurrentHashMap<>();

    /** The configuration that turns the reporter on for a MiniCluster. */
    static Map<String, String> reporterConfig() {
        return Map.of("metrics.reporter.streamscore_bench.factory.class", Factory.class.getName());
    }

    /** Forgets the metrics of earlier runs. */
    static void reset() {
        METRICS.clear();
        LOOKUPS.clear();
    }

    /** Sum of every counter whose name is {@code name}, over all subtasks and operators. */
    static long counterSum(String name) {
        return counterSum(name, "");
    }

    /**
     * Sum of the counters named {@code name} whose identifier contains {@code scope}. Cheap enough
     * to poll: the matching counters are looked up again only when metrics were added.
     */
    static long counterSum(String name, String scope) {
        String key = name + "|" + scope;
        Lookup lookup = LOOKUPS.get(key);
        if (lookup == null || lookup.seenMetrics != METRICS.size()) {
            List<Counter> found = new ArrayList<>();
            for (Map.Entry<String, Metric> e : METRICS.entrySet()) {
                if (e.getKey().endsWith("." + name)
                        && e.getKey().contains(scope)
                        && e.getValue() instanceof Counter c) {
                    found.add(c);
                }
            }
            lookup = new Lookup(METRICS.size(), found);
            LOOKUPS.put(key, lookup);
        }
        long sum = 0;
        for (Counter c : lookup.counters) {
            sum += c.getCount();
        }
        return sum;
    }

    private record Lookup(int seenMetrics, List<Counter> counters) {}

    private static final Map<String, Lookup> LOOKUPS = new ConcurrentHashMap<>();

    /**
     * Mean of the histograms named {@code name} over their recent samples, weighted by each
     * subtask's count; NaN when none has samples.
     */
    static double histogramMean(String name) {
        double weighted = 0;
        long count = 0;
        for (Map.Entry<String, Metric> e : METRICS.entrySet()) {
            if (e.getKey().endsWith("." + name) && e.getValue() instanceof Histogram h) {
                long n = h.getStatistics().size();
                if (n > 0) {
                    weighted += h.getStatistics().getMean() * n;
                    count += n;
                }
            }
        }
        return count == 0 ? Double.NaN : weighted / count;
    }

    /** Names of the metrics seen, for diagnostics. */
    static List<String> names() {
        return new ArrayList<>(METRICS.keySet());
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
        METRICS.put(group.getMetricIdentifier(name), metric);
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {
        // Kept: the benchmark reads the final values after the job has ended.
    }

    /** Creates the reporter; named in the configuration by class name. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new StageMetrics();
        }
    }
}
