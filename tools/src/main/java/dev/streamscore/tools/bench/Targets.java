package dev.streamscore.tools.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The issues' targets, checked on one run's numbers: streamscore at 90% of the pipeline's limit
 * ({@code 1 / (1/ceiling + 1/model)}), at twice each per-record path, its p99 at 50% load within
 * {@code max-wait + 15 ms} at-least-once and within the checkpoint interval + 300 ms exactly-once,
 * and the ceiling's at-least-once p99 at 50% within 15 ms. Missed targets name the bottleneck
 * stage.
 */
final class Targets {

    private Targets() {}

    static String evaluate(
            List<BenchResults.Setting> settings,
            List<BenchResults.ModelCeiling> ceilings,
            Duration maxWait,
            Duration checkpointInterval) {
        StringBuilder out = new StringBuilder("Targets (medians of this run):\n\n");
        List<String> seen = new ArrayList<>();
        for (BenchResults.Setting s : settings) {
            if (s.configuration().equals(BenchSpec.CEILING)
                    && s.delivery().equals("at-least-once")) {
                p99AtHalfLoad(s, 15, "ceiling p99 at 50%% load %.1f ms; target %.0f ms", out);
            }
        }
        for (BenchResults.Setting s : settings) {
            if (!s.configuration().equals(BenchSpec.STREAMSCORE)) {
                continue;
            }
            String key = s.model() + " " + s.delivery();
            if (seen.contains(key)) {
                continue;
            }
            seen.add(key);
            double mine = BenchReport.median(s.maxThroughput());
            Optional<Double> ceiling = max(settings, BenchSpec.CEILING, s);
            Optional<BenchResults.ModelCeiling> model =
                    ceilings.stream().filter(c -> c.model().equals(s.model())).findFirst();
            if (ceiling.isPresent() && model.isPresent()) {
                double limit = 1 / (1 / ceiling.get() + 1 / model.get().rowsPerSecond());
                line(
                        out,
                        key,
                        mine >= 0.9 * limit,
                        String.format(
                                Locale.ROOT,
                                "%,.0f events/s = %.0f%% of the limit %,.0f (ceiling %,.0f, model"
                                        + " alone %,.0f rows/s); target 90%%",
                                mine,
                                100 * mine / limit,
                                limit,
                                ceiling.get(),
                                model.get().rowsPerSecond()),
                        s);
            }
            for (String baseline : List.of(BenchSpec.PER_RECORD_MAP, BenchSpec.PER_RECORD_ASYNC)) {
                Optional<Double> other = max(settings, baseline, s);
                if (other.isPresent()) {
                    line(
                            out,
                            key,
                            mine >= 2 * other.get(),
                            String.format(
                                    Locale.ROOT,
                                    "%.2fx %s (%,.0f against %,.0f events/s); target 2x",
                                    mine / other.get(),
                                    baseline,
                                    mine,
                                    other.get()),
                            s);
                }
            }
            if (s.delivery().equals("at-least-once")) {
                p99AtHalfLoad(
                        s,
                        maxWait.toMillis() + 15,
                        "p99 at 50%% load %.1f ms; target max-wait + 15 = %.0f ms",
                        out);
            } else {
                p99AtHalfLoad(
                        s,
                        checkpointInterval.toMillis() + 300,
                        "p99 at 50%% load %.1f ms; target checkpoint interval + 300 = %.0f ms",
                        out);
            }
        }
        return out.toString();
    }

    /** The median p99 at 50% load of {@code s} against {@code limitMs}, if it was measured. */
    private static void p99AtHalfLoad(
            BenchResults.Setting s, double limitMs, String format, StringBuilder out) {
        List<Double> p99 = new ArrayList<>();
        for (BenchResults.LoadPoint p : s.latency()) {
            if (p.loadPercent() == 50) {
                p99.add(p.p99Ms());
            }
        }
        if (!p99.isEmpty()) {
            double got = BenchReport.median(p99);
            line(
                    out,
                    s.model() + " " + s.delivery(),
                    got <= limitMs,
                    String.format(Locale.ROOT, format, got, limitMs),
                    s);
        }
    }

    private static void line(
            StringBuilder out, String key, boolean met, String text, BenchResults.Setting s) {
        out.append("- ").append(met ? "MET    " : "MISSED ").append(key).append(": ").append(text);
        if (!met) {
            out.append(" (bottleneck: ").append(BenchReport.bottleneck(s.stages())).append(')');
        }
        out.append('\n');
    }

    private static Optional<Double> max(
            List<BenchResults.Setting> settings, String configuration, BenchResults.Setting like) {
        return settings.stream()
                .filter(
                        o ->
                                o.configuration().equals(configuration)
                                        && o.model().equals(like.model())
                                        && o.delivery().equals(like.delivery()))
                .findFirst()
                .map(o -> BenchReport.median(o.maxThroughput()));
    }
}
