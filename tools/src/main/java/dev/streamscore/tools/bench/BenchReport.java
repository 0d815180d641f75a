package dev.streamscore.tools.bench;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.stream.Collectors.joining;

import dev.streamscore.tools.bench.BenchResults.Environment;
import dev.streamscore.tools.bench.BenchResults.LoadPoint;
import dev.streamscore.tools.bench.BenchResults.ModelCeiling;
import dev.streamscore.tools.bench.BenchResults.Setting;
import dev.streamscore.tools.bench.BenchResults.Stages;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.DoubleUnaryOperator;
import java.util.function.ToDoubleFunction;
import org.apache.flink.util.Preconditions;

/**
 * The report of {@code streamscore bench}: a Markdown table for the terminal, a CSV with every
 * measured round, and a self-contained HTML page (inline CSS and SVG, nothing fetched) with the
 * table, three figures and, given a p99 target, the recommended setting per delivery guarantee.
 *
 * <pre>{@code
 * System.out.println(BenchReport.markdownTable(settings));
 * BenchReport.writeCsv(dir.resolve("bench.csv"), env, settings, ceilings);
 * BenchReport.writeHtml(dir.resolve("bench.html"), env, settings, ceilings, Duration.ofMillis(50));
 * }</pre>
 */
public final class BenchReport {

    /** Offered loads reported, as a percentage of the setting's median maximum throughput. */
    private static final int[] LOADS = {25, 50, 75};

    private static final int REFERENCE_LOAD = 50;
    private static final String MICROS = "\u00b5s";
    private static final String EN_DASH = "\u2013";
    private static final String[] STAGES = {"decode", "enrichment", "cache", "inference", "sink"};
    private static final String[] STAGE_COLORS = {
        "#8da0cb", "#66c2a5", "#a6d854", "#fc8d62", "#e5c494"
    };
    // Ten colours, then the next ten settings change marker shape and dash, so ~40 stay distinct.
    private static final String[] PALETTE = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"
    };
    private static final String[] DASHES = {"none", "7 3", "2 3"};
    private static final List<String> TABLE_HEADER =
            List.of(
                    "setting",
                    "max events/s: median (min" + EN_DASH + "max, runs)",
                    "p50 / p99 / p99.9 ms at 50% load",
                    "p99 ms at 25% load",
                    "p99 ms at 75% load",
                    "bottleneck stage");
    private static final List<String> MEASURE_COLUMNS =
            List.of(
                    ("round,phase,load_percent,offered_rate,achieved_rate,"
                                    + "max_throughput,p50_ms,p99_ms,p999_ms,max_ms")
                            .split(","));
    private static final String CSS =
            "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1040px;color:#222}"
                    + "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
                    + "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
                    + "th:first-child,td:first-child,td:last-child{text-align:left}"
                    + "dt{font-weight:bold;float:left;clear:left;width:7em}dd{margin-left:8em}"
                    + "figure{margin:2em 0}svg{font-size:12px}.env{color:#666;font-size:12px}"
                    + "code{background:#f4f4f4;padding:1px 4px}";

    // Layout of the horizontal bar charts (figures 2 and 3), in SVG pixels.
    private static final int BAR_LEFT = 290;
    private static final int BAR_WIDTH = 420;
    private static final int BAR_ROW = 22;
    private static final int CHART_WIDTH = 1000;

    private BenchReport() {}

    /**
     * The setting {@link #recommend} picks, with its numbers and why it was picked.
     *
     * @param setting the recommended setting
     * @param maxThroughput its median maximum throughput, events/s
     * @param p99Ms its median p99 at 50% load, milliseconds
     * @param reason one sentence for the report
     */
    public record Recommendation(
            Setting setting, double maxThroughput, double p99Ms, String reason) {}

    /** The median; the mean of the middle two for an even count, NaN for none. */
    public static double median(List<Double> values) {
        if (values == null || values.isEmpty()) {
            return Double.NaN;
        }
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /** Writes one row per setting, round and phase, and one per model-alone ceiling. */
    public static void writeCsv(
            Path file, Environment env, List<Setting> settings, List<ModelCeiling> ceilings)
            throws IOException {
        Set<String> keys = new LinkedHashSet<>();
        settings.forEach(s -> keys.addAll(parameters(s).keySet()));
        if (!ceilings.isEmpty()) {
            keys.addAll(List.of("batch-size", "threads"));
        }
        StringBuilder csv = new StringBuilder();
        for (Map.Entry<String, String> line : environment(env)) {
            String text = line.getKey() + ": " + line.getValue();
            csv.append("# ").append(text.replaceAll("[\r\n]+", " ")).append('\n');
        }
        List<String> header = new ArrayList<>(List.of("label", "configuration", "model"));
        header.add("delivery");
        header.addAll(keys);
        header.addAll(MEASURE_COLUMNS);
        csvRow(csv, header, List.of());
        for (Setting s : settings) {
            List<String> lead = new ArrayList<>(List.of(s.label(), s.configuration(), s.model()));
            lead.add(s.delivery());
            keys.forEach(k -> lead.add(parameters(s).getOrDefault(k, "")));
            List<Double> maxima = Objects.requireNonNullElse(s.maxThroughput(), List.of());
            int rounds = points(s).stream().mapToInt(LoadPoint::round).max().orElse(0);
            for (int round = 1; round <= Math.max(rounds, maxima.size()); round++) {
                if (round <= maxima.size()) {
                    String max = number(maxima.get(round - 1));
                    csvRow(csv, lead, List.of("" + round, "max", "", "", "", max, "", "", "", ""));
                }
                int r = round;
                for (LoadPoint p : points(s)) {
                    if (p.round() == r) {
                        csvRow(csv, lead, loadColumns(p));
                    }
                }
            }
        }
        for (ModelCeiling c : ceilings) {
            String label = "model-alone " + c.model() + " batch " + c.batchSize();
            List<String> lead = new ArrayList<>(List.of(label, "model-alone", c.model(), ""));
            for (String k : keys) {
                lead.add(
                        k.equals("batch-size")
                                ? "" + c.batchSize()
                                : k.equals("threads") ? "" + c.threads() : "");
            }
            String rate = number(c.rowsPerSecond());
            csvRow(csv, lead, List.of("", "max", "", "", "", rate, "", "", "", ""));
        }
        Files.writeString(file, csv, UTF_8);
    }

    /** One Markdown table row per setting, with the columns of the HTML report's table. */
    public static String markdownTable(List<Setting> settings) {
        StringBuilder md = new StringBuilder("| " + String.join(" | ", TABLE_HEADER) + " |\n");
        md.append("|---|---:|---:|---:|---:|---|\n");
        for (Setting s : settings) {
            md.append("| ");
            md.append(
                    tableCells(s).stream().map(c -> c.replace("|", "\\|")).collect(joining(" | ")));
            md.append(" |\n");
        }
        return md.toString();
    }

    /** The stage with the highest cost per event, e.g. {@code "inference (12.3 µs/event)"}. */
    public static String bottleneck(Stages stages) {
        if (stages == null) {
            return "unknown";
        }
        double[] costs = stageCosts(stages);
        int worst = -1;
        for (int i = 0; i < costs.length; i++) {
            if (Double.isFinite(costs[i]) && (worst < 0 || costs[i] > costs[worst])) {
                worst = i;
            }
        }
        return worst < 0
                ? "unknown"
                : STAGES[worst] + " (" + decimal(costs[worst]) + " " + MICROS + "/event)";
    }

    /**
     * Among the {@code streamscore*} settings with this delivery guarantee whose median p99 at 50%
     * load is within the target, the one with the highest median maximum throughput (on a tie, the
     * lower p99). Baseline configurations are never picked.
     */
    public static Optional<Recommendation> recommend(
            List<Setting> settings, Duration p99Target, String delivery) {
        Preconditions.checkArgument(
                p99Target != null && !p99Target.isNegative() && !p99Target.isZero(),
                "p99 target must be positive, got %s",
                p99Target);
        Preconditions.checkArgument(delivery != null, "delivery must be set, found none");
        double targetMs = p99Target.toNanos() / 1e6;
        List<Setting> meeting =
                candidates(settings, delivery).stream()
                        .filter(s -> p99AtReference(s) <= targetMs)
                        .filter(s -> Double.isFinite(median(s.maxThroughput())))
                        .toList();
        Comparator<Setting> byThroughput =
                Comparator.comparingDouble(s -> median(s.maxThroughput()));
        Comparator<Setting> byP99 = Comparator.comparingDouble(BenchReport::p99AtReference);
        Optional<Setting> best = meeting.stream().max(byThroughput.thenComparing(byP99.reversed()));
        return best.map(
                s -> {
                    double max = median(s.maxThroughput());
                    double p99 = p99AtReference(s);
                    String why =
                            """
                            highest median maximum throughput (%s events/s) of the %s \
                            streamscore %s setting(s) whose median p99 at 50%% load (%s ms) \
                            is within the %s ms target\
                            """
                                    .formatted(
                                            count(max),
                                            meeting.size(),
                                            delivery,
                                            decimal(p99),
                                            decimal(targetMs));
                    return new Recommendation(s, max, p99, why);
                });
    }

    /** Writes the report as one HTML page that needs nothing but a browser, offline. */
    public static void writeHtml(
            Path file,
            Environment env,
            List<Setting> settings,
            List<ModelCeiling> ceilings,
            Duration p99Target)
            throws IOException {
        writeHtml(file, env, settings, ceilings, p99Target, null);
    }

    /**
     * As above, with a "Targets" section: {@code targets} is plain text (one line per target, met
     * or missed and why), shown as written; null or empty for none.
     */
    public static void writeHtml(
            Path file,
            Environment env,
            List<Setting> settings,
            List<ModelCeiling> ceilings,
            Duration p99Target,
            String targets)
            throws IOException {
        String caption = "<p class=\"env\">" + esc(figureCaption(env)) + "</p>\n";
        StringBuilder h = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
        h.append("<meta charset=\"utf-8\">\n<title>streamscore bench ")
                .append(esc(env.date()))
                .append("</title>\n<style>")
                .append(CSS)
                .append("</style>\n</head>\n<body>\n<h1>streamscore end-to-end benchmark</h1>\n");
        h.append("<dl class=\"environment\">\n");
        for (Map.Entry<String, String> e : environment(env)) {
            h.append("<dt>").append(esc(e.getKey())).append("</dt><dd>");
            h.append(
                    e.getKey().equals("command")
                            ? "<code>" + esc(e.getValue()) + "</code>"
                            : esc(e.getValue()));
            h.append("</dd>\n");
        }
        h.append("</dl>\n<h2>Results</h2>\n<table>\n<thead><tr>");
        TABLE_HEADER.forEach(c -> h.append("<th>").append(esc(c)).append("</th>"));
        h.append("</tr></thead>\n<tbody>\n");
        for (Setting s : settings) {
            h.append("<tr>");
            tableCells(s).forEach(c -> h.append("<td>").append(esc(c)).append("</td>"));
            h.append("</tr>\n");
        }
        h.append("</tbody>\n</table>\n").append(caption);
        if (targets != null && !targets.isBlank()) {
            h.append("<h2>Targets</h2>\n<pre>").append(esc(targets)).append("</pre>\n");
        }
        if (p99Target != null) {
            h.append(recommendationSection(settings, p99Target));
        }
        h.append("<figure>\n<h2>Figure 1. Throughput vs p99 latency</h2>\n");
        h.append(latencyFigure(settings)).append(caption);
        h.append("<figcaption>Median p99 over rounds at 25, 50 and 75% of each setting's")
                .append(" maximum; the hollow marker on the x axis is its median maximum")
                .append(" throughput.</figcaption>\n</figure>\n");
        h.append("<figure>\n<h2>Figure 2. Cost per event by stage</h2>\n");
        h.append(stageFigure(settings)).append(caption);
        h.append("<figcaption>Inference is model-call wall time per event on the inference")
                .append(
                        " threads; the other stages are task-thread time.</figcaption>\n"
                                + "</figure>\n");
        h.append("<figure>\n<h2>Figure 3. Maximum sustained throughput</h2>\n");
        h.append(throughputFigure(settings)).append(caption);
        h.append("<figcaption>Bar: median over rounds; whisker: min").append(EN_DASH);
        h.append("max.</figcaption>\n</figure>\n<h3>Model alone (JMH, no Flink, no Kafka)</h3>\n");
        h.append("<table>\n<thead><tr><th>model</th><th>batch size</th><th>threads</th>");
        h.append("<th>rows/s</th><th>\u00b1 (99.9%)</th></tr></thead>\n<tbody>\n");
        for (ModelCeiling c : ceilings) {
            h.append("<tr><td>").append(esc(c.model())).append("</td><td>").append(c.batchSize());
            h.append("</td><td>").append(c.threads()).append("</td><td>");
            h.append(count(c.rowsPerSecond())).append("</td><td>");
            h.append(count(c.errorRowsPerSecond())).append("</td></tr>\n");
        }
        h.append("</tbody>\n</table>\n").append(caption).append("</body>\n</html>\n");
        Files.writeString(file, h, UTF_8);
    }

    /**
     * Writes the report's three figures as standalone SVG files (for BENCHMARKS.md), each with the
     * machine and versions in its title: {@code throughput-vs-p99.svg}, {@code stage-cost.svg} and
     * {@code max-throughput.svg}.
     */
    public static void writeFigures(Path dir, Environment env, List<Setting> settings)
            throws IOException {
        Files.createDirectories(dir);
        standalone(dir.resolve("throughput-vs-p99.svg"), latencyFigure(settings), env);
        standalone(dir.resolve("stage-cost.svg"), stageFigure(settings), env);
        standalone(dir.resolve("max-throughput.svg"), throughputFigure(settings), env);
    }

    /**
     * One labelled point of {@link #writeScatter}: points of one {@code series} share a color, and
     * {@code shape} indexes the legend's names.
     */
    public record ScatterPoint(String label, double x, double y, int series, int shape) {}

    /**
     * A standalone SVG scatter plot, x on a log scale: the compression figure (throughput against
     * PR-AUC, one point per model variant).
     */
    public static void writeScatter(
            Path file,
            String caption,
            String xTitle,
            String yTitle,
            List<ScatterPoint> points,
            List<String> shapeNames)
            throws IOException {
        int left = 80, top = 20, plotWidth = 760, plotHeight = 380, right = 260;
        double xMin = Double.POSITIVE_INFINITY, xMax = 0;
        double yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
        for (ScatterPoint p : points) {
            if (p.x() > 0 && Double.isFinite(p.y())) {
                xMin = Math.min(xMin, p.x());
                xMax = Math.max(xMax, p.x());
                yMin = Math.min(yMin, p.y());
                yMax = Math.max(yMax, p.y());
            }
        }
        if (xMax <= 0) {
            throw new IllegalArgumentException("nothing to plot");
        }
        double xLo = Math.floor(Math.log10(xMin));
        double xHi = Math.max(Math.ceil(Math.log10(xMax)), xLo + 1);
        double pad = Math.max(0.005, (yMax - yMin) * 0.1);
        double yLo = Math.floor((yMin - pad) * 100) / 100;
        double yHi = Math.ceil((yMax + pad) * 100) / 100;
        DoubleUnaryOperator sx = v -> left + (Math.log10(v) - xLo) / (xHi - xLo) * plotWidth;
        DoubleUnaryOperator sy = v -> top + plotHeight - (v - yLo) / (yHi - yLo) * plotHeight;
        int bottom = top + plotHeight;
        StringBuilder svg = svgOpen(left + plotWidth + right, bottom + 60, caption);
        for (double decade = xLo; decade <= xHi; decade++) {
            double v = Math.pow(10, decade);
            line(svg, sx.applyAsDouble(v), top, sx.applyAsDouble(v), bottom + 4, "#ccc");
            text(svg, sx.applyAsDouble(v), bottom + 18, "middle", plain(v));
            for (int m = 2; m <= 9 && decade < xHi; m++) {
                double x = sx.applyAsDouble(m * v);
                line(svg, x, top, x, bottom, "#f2f2f2");
            }
        }
        int steps = (int) Math.round((yHi - yLo) / 0.01);
        int every = Math.max(1, (int) Math.ceil(steps / 8.0));
        for (int i = 0; i <= steps; i += every) {
            double v = yLo + i * 0.01;
            line(
                    svg,
                    left - 4,
                    sy.applyAsDouble(v),
                    left + plotWidth,
                    sy.applyAsDouble(v),
                    "#e5e5e5");
            text(
                    svg,
                    left - 8,
                    sy.applyAsDouble(v) + 4,
                    "end",
                    String.format(Locale.ROOT, "%.2f", v));
        }
        line(svg, left, bottom, left + plotWidth, bottom, "#333");
        line(svg, left, top, left, bottom, "#333");
        text(svg, left + plotWidth / 2.0, bottom + 40, "middle", xTitle);
        String rotate = "translate(20," + (top + plotHeight / 2) + ") rotate(-90)";
        svg(svg, "text", null, yTitle, "transform", rotate, "text-anchor", "middle");
        // Labels move down until they overlap no earlier one (points of equal quality crowd).
        List<double[]> placed = new ArrayList<>();
        for (ScatterPoint p : points) {
            if (!(p.x() > 0) || !Double.isFinite(p.y())) {
                continue;
            }
            String color = PALETTE[p.series() % PALETTE.length];
            double px = sx.applyAsDouble(p.x()), py = sy.applyAsDouble(p.y());
            double width = Math.min(40, p.label().length()) * 6.5;
            double ly = py + 4;
            boolean moved = true;
            while (moved) {
                moved = false;
                for (double[] box : placed) {
                    if (px + 8 < box[0] + box[2]
                            && box[0] < px + 8 + width
                            && Math.abs(ly - box[1]) < 13) {
                        ly = box[1] + 13;
                        moved = true;
                    }
                }
            }
            placed.add(new double[] {px + 8, ly, width});
            String tip =
                    p.label()
                            + ": "
                            + count(p.x())
                            + ", "
                            + String.format(Locale.ROOT, "%.4f", p.y());
            marker(svg, p.shape() % 4, px, py, color, false, tip);
            text(svg, px + 8, ly, "start", shorten(p.label(), 40));
        }
        for (int i = 0; i < shapeNames.size(); i++) {
            double lx = left + plotWidth + 20, ly = top + 10 + i * 18;
            marker(svg, i % 4, lx, ly, "#555", false, shapeNames.get(i));
            text(svg, lx + 10, ly + 4, "start", shapeNames.get(i));
        }
        svg.append("</svg>\n");
        Files.createDirectories(file.toAbsolutePath().getParent());
        standalone(file, svg.toString(), caption);
    }

    private static void standalone(Path file, String svg, Environment env) throws IOException {
        standalone(file, svg, figureCaption(env));
    }

    private static void standalone(Path file, String svg, String caption) throws IOException {
        int open = svg.indexOf('>') + 1;
        String titled =
                svg.substring(0, open).replaceFirst("<svg ", "<svg xmlns=\"" + SVG_NS + "\" ")
                        + "\n<title>"
                        + esc(caption)
                        + "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
                        + svg.substring(open);
        Files.writeString(file, titled, UTF_8);
    }

    /** The SVG namespace, needed by a standalone file (the HTML page's inline SVG has none). */
    private static final String SVG_NS = "http" + "://www.w3.org/2000/svg";

    private static String recommendationSection(List<Setting> settings, Duration p99Target) {
        double targetMs = p99Target.toNanos() / 1e6;
        StringBuilder h = new StringBuilder("<h2>Recommendation</h2>\n<p>Target: median p99 ");
        h.append("&le; ").append(decimal(targetMs)).append(" ms at 50% load.</p>\n<ul>\n");
        List<String> deliveries =
                settings.stream()
                        .filter(BenchReport::isStreamscore)
                        .map(Setting::delivery)
                        .distinct()
                        .toList();
        for (String delivery : deliveries) {
            h.append("<li><strong>").append(esc(delivery)).append("</strong>: ");
            Optional<Recommendation> pick = recommend(settings, p99Target, delivery);
            if (pick.isPresent()) {
                h.append(esc(pick.get().setting().label())).append(" &mdash; ");
                h.append(esc(pick.get().reason())).append('.');
            } else {
                h.append("no streamscore setting met the target");
                Optional<Setting> closest =
                        candidates(settings, delivery).stream()
                                .filter(s -> Double.isFinite(p99AtReference(s)))
                                .min(Comparator.comparingDouble(BenchReport::p99AtReference));
                if (closest.isPresent()) {
                    h.append("; the closest was ").append(esc(closest.get().label()));
                    h.append(" with p99 ").append(decimal(p99AtReference(closest.get())));
                    h.append(" ms.");
                } else {
                    h.append("; none had a p99 measured at 50% load.");
                }
            }
            h.append("</li>\n");
        }
        if (deliveries.isEmpty()) {
            h.append("<li>No streamscore setting was measured.</li>\n");
        }
        return h.append("</ul>\n").toString();
    }

    private static String latencyFigure(List<Setting> settings) {
        int left = 80, top = 20, plotWidth = 860, plotHeight = 380, axes = 55;
        double xMax = 0, yMin = Double.POSITIVE_INFINITY, yMax = 0;
        for (Setting s : settings) {
            xMax = Math.max(xMax, finiteOr(median(s.maxThroughput()), 0));
            for (int load : LOADS) {
                double x = medianAt(s, load, LoadPoint::achievedRate);
                double y = medianAt(s, load, LoadPoint::p99Ms);
                if (Double.isFinite(x) && Double.isFinite(y) && y > 0) {
                    xMax = Math.max(xMax, x);
                    yMin = Math.min(yMin, y);
                    yMax = Math.max(yMax, y);
                }
            }
        }
        if (xMax <= 0 || yMax <= 0) {
            return "<p>No latency was measured.</p>\n";
        }
        double[] xTicks = niceTicks(xMax, 6);
        double xTop = xTicks[xTicks.length - 1];
        double yLo = Math.floor(Math.log10(yMin)),
                yHi = Math.max(Math.ceil(Math.log10(yMax)), yLo + 1);
        DoubleUnaryOperator sx = v -> left + v / xTop * plotWidth;
        DoubleUnaryOperator sy =
                v -> top + plotHeight - (Math.log10(v) - yLo) / (yHi - yLo) * plotHeight;
        int bottom = top + plotHeight;
        // Three legend columns, or two when a label would not fit in a third of the width.
        int columns = settings.stream().anyMatch(s -> s.label().length() > 36) ? 2 : 3;
        int height = bottom + axes + ((settings.size() + columns - 1) / columns) * 18 + 10;
        StringBuilder svg = svgOpen(left + plotWidth + 30, height, "throughput vs p99 latency");
        for (double t : xTicks) {
            line(svg, sx.applyAsDouble(t), top, sx.applyAsDouble(t), bottom + 4, "#e5e5e5");
            text(svg, sx.applyAsDouble(t), bottom + 18, "middle", count(t));
        }
        for (double decade = yLo; decade <= yHi; decade++) {
            double v = Math.pow(10, decade);
            line(svg, left - 4, sy.applyAsDouble(v), left + plotWidth, sy.applyAsDouble(v), "#ccc");
            text(svg, left - 8, sy.applyAsDouble(v) + 4, "end", plain(v));
            for (int m = 2; m <= 9 && decade < yHi; m++) {
                double y = sy.applyAsDouble(m * v);
                line(svg, left, y, left + plotWidth, y, "#f2f2f2");
            }
        }
        line(svg, left, bottom, left + plotWidth, bottom, "#333");
        line(svg, left, top, left, bottom, "#333");
        text(svg, left + plotWidth / 2.0, bottom + 40, "middle", "achieved throughput (events/s)");
        String rotate = "translate(20," + (top + plotHeight / 2) + ") rotate(-90)";
        String yTitle = "p99 latency (ms, log scale)";
        svg(svg, "text", null, yTitle, "transform", rotate, "text-anchor", "middle");
        for (int i = 0; i < settings.size(); i++) {
            Setting s = settings.get(i);
            String color = PALETTE[i % PALETTE.length];
            int shape = (i / PALETTE.length) % 4;
            String dash = DASHES[(i / PALETTE.length) % DASHES.length];
            StringBuilder polyline = new StringBuilder();
            StringBuilder markers = new StringBuilder();
            for (int load : LOADS) {
                double x = medianAt(s, load, LoadPoint::achievedRate);
                double y = medianAt(s, load, LoadPoint::p99Ms);
                if (Double.isFinite(x) && Double.isFinite(y) && y > 0) {
                    double px = sx.applyAsDouble(x), py = sy.applyAsDouble(y);
                    polyline.append(points(px, py)).append(' ');
                    String tip = s.label() + ": " + load + "% load, " + count(x) + " events/s";
                    tip += ", p99 " + decimal(y) + " ms";
                    marker(markers, shape, px, py, color, false, tip);
                }
            }
            String path = polyline.toString().trim();
            String label = s.label();
            String style =
                    "fill:none;stroke:" + color + ";stroke-width:1.5;stroke-dasharray:" + dash;
            svg(svg, "polyline", label, "", "points", path, "style", style);
            svg.append(markers);
            double max = median(s.maxThroughput());
            if (Double.isFinite(max)) {
                String tip = s.label() + ": maximum " + count(max) + " events/s";
                marker(svg, shape, sx.applyAsDouble(max), bottom, color, true, tip);
            }
            double lx = left + (i % columns) * (plotWidth / (double) columns);
            double ly = bottom + axes + (i / columns) * 18 + 8;
            svg(svg, "line", null, "", "x1", lx, "y1", ly, "x2", lx + 24, "y2", ly, "style", style);
            marker(svg, shape, lx + 12, ly, color, false, s.label());
            text(svg, lx + 30, ly + 4, "start", shorten(s.label(), columns == 2 ? 58 : 38));
        }
        return svg.append("</svg>\n").toString();
    }

    private static String stageFigure(List<Setting> settings) {
        double max = 0;
        for (Setting s : settings) {
            if (s.stages() != null) {
                max = Math.max(max, finiteOr(sum(stageCosts(s.stages())), 0));
            }
        }
        if (max <= 0) {
            return "<p>Stage costs were not measured.</p>\n";
        }
        int top = 30;
        double[] ticks = niceTicks(max, 5);
        StringBuilder svg = horizontalChart(settings.size(), top, ticks, MICROS + " per event");
        for (int k = 0; k < STAGES.length; k++) {
            rect(svg, BAR_LEFT + k * 100, 6, 12, 12, STAGE_COLORS[k], STAGES[k]);
            text(svg, BAR_LEFT + k * 100 + 16, 16, "start", STAGES[k]);
        }
        double scale = BAR_WIDTH / ticks[ticks.length - 1];
        for (int i = 0; i < settings.size(); i++) {
            Setting s = settings.get(i);
            double y = top + i * BAR_ROW;
            rowLabel(svg, s.label(), y);
            if (s.stages() == null) {
                text(svg, BAR_LEFT + 6, y + 15, "start", "not measured");
                continue;
            }
            double[] costs = stageCosts(s.stages());
            double x = BAR_LEFT;
            for (int k = 0; k < costs.length; k++) {
                double w = finiteOr(costs[k], 0) * scale;
                String tip = s.label() + ": " + STAGES[k] + " " + decimal(costs[k]);
                tip += " " + MICROS + "/event";
                rect(svg, x, y + 4, w, BAR_ROW - 8, STAGE_COLORS[k], tip);
                x += w;
            }
            text(svg, x + 6, y + 15, "start", "bottleneck: " + bottleneck(s.stages()));
        }
        return svg.append("</svg>\n").toString();
    }

    private static String throughputFigure(List<Setting> settings) {
        double max = 0;
        for (Setting s : settings) {
            for (double v : Objects.requireNonNullElse(s.maxThroughput(), List.<Double>of())) {
                max = Math.max(max, finiteOr(v, 0));
            }
        }
        if (max <= 0) {
            return "<p>No maximum throughput was measured.</p>\n";
        }
        int top = 10;
        double[] ticks = niceTicks(max, 6);
        StringBuilder svg = horizontalChart(settings.size(), top, ticks, "events/s");
        double scale = BAR_WIDTH / ticks[ticks.length - 1];
        for (int i = 0; i < settings.size(); i++) {
            Setting s = settings.get(i);
            double y = top + i * BAR_ROW, mid = y + BAR_ROW / 2.0;
            rowLabel(svg, s.label(), y);
            List<Double> runs = Objects.requireNonNullElse(s.maxThroughput(), List.of());
            if (runs.isEmpty()) {
                text(svg, BAR_LEFT + 6, y + 15, "start", "not measured");
                continue;
            }
            double lo = runs.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
            double hi = runs.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
            double median = median(runs);
            String color = PALETTE[i % PALETTE.length];
            String tip = s.label() + ": " + throughputCell(runs);
            rect(svg, BAR_LEFT, y + 4, median * scale, BAR_ROW - 8, color, tip);
            double x0 = BAR_LEFT + lo * scale, x1 = BAR_LEFT + hi * scale;
            line(svg, x0, mid, x1, mid, "#222");
            line(svg, x0, mid - 5, x0, mid + 5, "#222");
            line(svg, x1, mid - 5, x1, mid + 5, "#222");
            text(svg, x1 + 6, y + 15, "start", throughputCell(runs));
        }
        return svg.append("</svg>\n").toString();
    }

    /** Opens an SVG for one bar per row, with its vertical grid, x tick labels and axis title. */
    private static StringBuilder horizontalChart(int rows, int top, double[] ticks, String title) {
        int bottom = top + rows * BAR_ROW;
        StringBuilder svg = svgOpen(CHART_WIDTH, bottom + 45, title);
        double scale = BAR_WIDTH / ticks[ticks.length - 1];
        for (double t : ticks) {
            double x = BAR_LEFT + t * scale;
            line(svg, x, top, x, bottom + 4, "#e5e5e5");
            text(svg, x, bottom + 18, "middle", plain(t));
        }
        line(svg, BAR_LEFT, top, BAR_LEFT, bottom, "#333");
        line(svg, BAR_LEFT, bottom, BAR_LEFT + BAR_WIDTH, bottom, "#333");
        text(svg, BAR_LEFT + BAR_WIDTH / 2.0, bottom + 38, "middle", title);
        return svg;
    }

    private static List<String> tableCells(Setting s) {
        return List.of(
                s.label(),
                throughputCell(Objects.requireNonNullElse(s.maxThroughput(), List.of())),
                decimal(medianAt(s, REFERENCE_LOAD, LoadPoint::p50Ms))
                        + " / "
                        + decimal(medianAt(s, REFERENCE_LOAD, LoadPoint::p99Ms))
                        + " / "
                        + decimal(medianAt(s, REFERENCE_LOAD, LoadPoint::p999Ms)),
                decimal(medianAt(s, 25, LoadPoint::p99Ms)),
                decimal(medianAt(s, 75, LoadPoint::p99Ms)),
                bottleneck(s.stages()));
    }

    private static String throughputCell(List<Double> runs) {
        if (runs.isEmpty()) {
            return EN_DASH;
        }
        if (runs.size() == 1) {
            return count(runs.get(0)) + " (1 run)";
        }
        double lo = runs.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        double hi = runs.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        String range = count(lo) + EN_DASH + count(hi);
        return count(median(runs)) + " (" + range + ", " + runs.size() + " runs)";
    }

    private static List<Map.Entry<String, String>> environment(Environment env) {
        return List.of(
                Map.entry("cores", "" + env.cores()),
                Map.entry("jvm", Objects.toString(env.jvm(), "")),
                Map.entry("versions", versions(env)),
                Map.entry("command", Objects.toString(env.command(), "")),
                Map.entry("date", Objects.toString(env.date(), "")));
    }

    private static String versions(Environment env) {
        Map<String, String> versions = Objects.requireNonNullElse(env.versions(), Map.of());
        return versions.entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue())
                .collect(joining(", "));
    }

    private static String figureCaption(Environment env) {
        return env.cores() + " cores; JVM " + env.jvm() + "; " + versions(env) + "; " + env.date();
    }

    private static List<Setting> candidates(List<Setting> settings, String delivery) {
        return settings.stream()
                .filter(BenchReport::isStreamscore)
                .filter(s -> delivery.equals(s.delivery()))
                .toList();
    }

    private static boolean isStreamscore(Setting s) {
        return s.configuration() != null && s.configuration().startsWith("streamscore");
    }

    private static double p99AtReference(Setting s) {
        return medianAt(s, REFERENCE_LOAD, LoadPoint::p99Ms);
    }

    private static double medianAt(Setting s, int load, ToDoubleFunction<LoadPoint> metric) {
        return median(
                points(s).stream()
                        .filter(p -> p.loadPercent() == load)
                        .map(p -> metric.applyAsDouble(p))
                        .toList());
    }

    private static List<LoadPoint> points(Setting s) {
        return Objects.requireNonNullElse(s.latency(), List.of());
    }

    private static Map<String, String> parameters(Setting s) {
        return Objects.requireNonNullElse(s.parameters(), Map.of());
    }

    private static double[] stageCosts(Stages s) {
        return new double[] {
            s.decodeMicros(), s.enrichMicros(), s.cacheMicros(), s.inferenceMicros(), s.sinkMicros()
        };
    }

    private static List<String> loadColumns(LoadPoint p) {
        return List.of(
                "" + p.round(),
                "load",
                "" + p.loadPercent(),
                number(p.offeredRate()),
                number(p.achievedRate()),
                "",
                number(p.p50Ms()),
                number(p.p99Ms()),
                number(p.p999Ms()),
                number(p.maxMs()));
    }

    private static void csvRow(StringBuilder csv, List<String> lead, List<String> rest) {
        List<String> fields = new ArrayList<>(lead);
        fields.addAll(rest);
        csv.append(fields.stream().map(BenchReport::csvField).collect(joining(","))).append('\n');
    }

    /** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
    private static String csvField(String field) {
        String f = Objects.toString(field, "");
        return f.matches("(?s).*[,\"\r\n].*") ? "\"" + f.replace("\"", "\"\"") + "\"" : f;
    }

    /** A plain decimal for the CSV (no exponent, no grouping), empty when not a number. */
    private static String number(double v) {
        return Double.isFinite(v) ? BigDecimal.valueOf(v).stripTrailingZeros().toPlainString() : "";
    }

    private static String plain(double v) {
        return v >= 1000 ? count(v) : BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }

    private static String count(double v) {
        return Double.isFinite(v) ? String.format(Locale.US, "%,.0f", v) : EN_DASH;
    }

    private static String decimal(double v) {
        return Double.isFinite(v) ? String.format(Locale.US, "%,.1f", v) : EN_DASH;
    }

    private static double finiteOr(double v, double fallback) {
        return Double.isFinite(v) ? v : fallback;
    }

    private static double sum(double[] values) {
        double total = 0;
        for (double v : values) {
            total += finiteOr(v, 0);
        }
        return total;
    }

    /** Ticks from 0 at a step of 1, 2 or 5 times a power of ten, the last at or above max. */
    private static double[] niceTicks(double max, int approxCount) {
        double raw = max / approxCount;
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double norm = raw / magnitude;
        double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
        int n = (int) Math.ceil(max / step - 1e-9);
        double[] ticks = new double[n + 1];
        for (int i = 0; i <= n; i++) {
            ticks[i] = BigDecimal.valueOf(i * step).stripTrailingZeros().doubleValue();
        }
        return ticks;
    }

    private static StringBuilder svgOpen(int width, int height, String label) {
        // No xmlns: inline SVG in HTML needs none, and the page then holds no URL at all.
        String size = "width=\"" + width + "\" height=\"" + height + "\"";
        String box = " viewBox=\"0 0 " + width + " " + height + "\"";
        return new StringBuilder(
                "<svg " + size + box + " role=\"img\" aria-label=\"" + esc(label) + "\">\n");
    }

    /**
     * Appends one SVG element: attributes as name, value pairs (doubles to 0.1 px), then an
     * optional tooltip and a text body.
     */
    private static void svg(
            StringBuilder out, String tag, String tip, String body, Object... attributes) {
        out.append('<').append(tag);
        for (int i = 0; i < attributes.length; i += 2) {
            Object v = attributes[i + 1];
            String value = v instanceof Double d ? String.format(Locale.ROOT, "%.1f", d) : "" + v;
            out.append(' ').append(attributes[i]).append("=\"").append(esc(value)).append('"');
        }
        out.append('>');
        if (tip != null) {
            out.append("<title>").append(esc(tip)).append("</title>");
        }
        out.append(esc(body)).append("</").append(tag).append(">\n");
    }

    private static void rowLabel(StringBuilder svg, String label, double y) {
        String shortLabel = shorten(label, 44);
        svg(svg, "text", label, shortLabel, "x", BAR_LEFT - 8, "y", y + 15, "text-anchor", "end");
    }

    private static void line(
            StringBuilder svg, double x1, double y1, double x2, double y2, String c) {
        svg(svg, "line", null, "", "x1", x1, "y1", y1, "x2", x2, "y2", y2, "stroke", c);
    }

    private static void rect(
            StringBuilder svg, double x, double y, double w, double h, String fill, String tip) {
        svg(svg, "rect", tip, "", "x", x, "y", y, "width", w, "height", h, "fill", fill);
    }

    private static void text(StringBuilder svg, double x, double y, String anchor, String text) {
        svg(svg, "text", null, text, "x", x, "y", y, "text-anchor", anchor);
    }

    /** Circle, square, triangle or diamond; hollow for the maximum-throughput marks. */
    private static void marker(
            StringBuilder svg,
            int shape,
            double x,
            double y,
            String color,
            boolean hollow,
            String tip) {
        String fill = hollow ? "white" : color;
        switch (shape) {
            case 0 ->
                    svg(
                            svg, "circle", tip, "", "cx", x, "cy", y, "r", 4, "fill", fill,
                            "stroke", color);
            case 1 ->
                    svg(
                            svg, "rect", tip, "", "x", x - 3.5, "y", y - 3.5, "width", 7, "height",
                            7, "fill", fill, "stroke", color);
            default -> {
                String points =
                        shape == 2
                                ? points(x, y - 5, x - 4.5, y + 4, x + 4.5, y + 4)
                                : points(x, y - 5, x + 5, y, x, y + 5, x - 5, y);
                svg(svg, "polygon", tip, "", "points", points, "fill", fill, "stroke", color);
            }
        }
    }

    private static String points(double... xy) {
        StringBuilder points = new StringBuilder();
        for (int i = 0; i < xy.length; i += 2) {
            points.append(String.format(Locale.ROOT, "%.1f,%.1f ", xy[i], xy[i + 1]));
        }
        return points.toString().trim();
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "\u2026";
    }

    private static String esc(String s) {
        return Objects.toString(s, "")
                .replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace("\"", "&quot;")
                .replace("'", "&#39;");
    }
}
