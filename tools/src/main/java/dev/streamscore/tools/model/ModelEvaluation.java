package dev.streamscore.tools.model;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.tools.model.compress.Metrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What a model variant costs in fraud caught and what it buys in speed: each model scored on the
 * same labelled set, beside the first one (the original).
 *
 * <p>Quality: PR-AUC (average precision), recall at 1% false-positive rate, recall at the model's
 * own {@code review} and {@code decline} thresholds, and the mean and largest absolute difference
 * of its scores from the original's on every row. Speed: rows scored per second at batch {@value
 * #BATCH} with one intra-op thread (the job's default), the median of {@code repeats} timed runs,
 * the models taking turns so that the machine's noise hits them alike.
 *
 * <pre>{@code
 * List<Result> results = ModelEvaluation.evaluate(
 *         List.of("bundled:deep", "/tmp/deep-int8"), LabelledSet.read(csv), 5, Duration.ofSeconds(1));
 * }</pre>
 */
public final class ModelEvaluation {

    /** Rows per model call in the throughput measurement. */
    public static final int BATCH = 256;

    /** The false-positive rate at which recall is reported. */
    public static final double FPR = 0.01;

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelEvaluation() {}

    /**
     * One model's measurements.
     *
     * @param location where it was loaded from
     * @param name descriptor name
     * @param version descriptor version
     * @param method how it was made: {@code original}, or the compression method of its provenance
     * @param prAuc average precision on the set
     * @param prAucDrop the original's PR-AUC minus this one's (0 for the original)
     * @param recallAtFpr recall at {@link #FPR} false-positive rate
     * @param recallAtReview recall at the model's review threshold
     * @param recallAtDecline recall at the model's decline threshold
     * @param meanAbsDiff mean absolute score difference from the original
     * @param maxAbsDiff largest absolute score difference from the original
     * @param fileBytes size of its ONNX file
     * @param rowsPerSecond median batched throughput
     * @param speedup its throughput over the original's
     */
    public record Result(
            String location,
            String name,
            String version,
            String method,
            double prAuc,
            double prAucDrop,
            double recallAtFpr,
            double recallAtReview,
            double recallAtDecline,
            double meanAbsDiff,
            double maxAbsDiff,
            long fileBytes,
            double rowsPerSecond,
            double speedup) {}

    /**
     * Scores every row with every model, then times them in turns.
     *
     * @param locations model locations; the first is the original the others are compared with
     * @param data the labelled rows
     * @param repeats timed runs per model, at least 1
     * @param runMillis how long each timed run scores batches
     */
    public static List<Result> evaluate(
            List<String> locations, LabelledSet data, int repeats, long runMillis)
            throws OrtException {
        if (locations.isEmpty()) {
            throw new IllegalArgumentException("name at least one model to evaluate");
        }
        if (repeats < 1 || runMillis < 1) {
            throw new IllegalArgumentException("repeats and run time must be positive");
        }
        if (data.positives() == 0 || data.positives() == data.fraud().length) {
            throw new IllegalArgumentException(
                    data.path() + " must hold both fraud and legitimate rows");
        }
        List<OnnxModel> models = new ArrayList<>();
        List<ModelArtifact> artifacts = new ArrayList<>();
        try {
            for (String location : locations) {
                ModelArtifact artifact = ModelArtifact.load(location);
                artifacts.add(artifact);
                models.add(OnnxModel.open(artifact, OnnxOptions.DEFAULT));
            }
            List<float[]> scores = new ArrayList<>();
            List<float[][]> inputs = new ArrayList<>();
            for (int m = 0; m < models.size(); m++) {
                float[][] rows =
                        data.rowsFor(models.get(m).descriptor().features(), locations.get(m));
                inputs.add(rows);
                scores.add(scoreAll(models.get(m), rows));
            }
            double[][] rates = new double[models.size()][repeats];
            for (int m = 0; m < models.size(); m++) {
                rowsPerSecond(models.get(m), inputs.get(m), Math.max(100, runMillis / 5));
            }
            for (int r = 0; r < repeats; r++) {
                // Each round starts with the next model, so no model always runs first or last.
                for (int k = 0; k < models.size(); k++) {
                    int m = (k + r) % models.size();
                    rates[m][r] = rowsPerSecond(models.get(m), inputs.get(m), runMillis);
                }
            }
            List<Result> results = new ArrayList<>();
            double originalPrAuc = Double.NaN;
            double originalRate = Double.NaN;
            for (int m = 0; m < models.size(); m++) {
                ModelDescriptor d = artifacts.get(m).descriptor();
                float[] s = scores.get(m);
                double prAuc = Metrics.averagePrecision(s, data.fraud());
                double rate = median(rates[m]);
                if (m == 0) {
                    originalPrAuc = prAuc;
                    originalRate = rate;
                }
                double[] diff = absDiff(scores.get(0), s);
                results.add(
                        new Result(
                                locations.get(m),
                                d.name(),
                                d.version(),
                                method(artifacts.get(m)),
                                prAuc,
                                originalPrAuc - prAuc,
                                Metrics.atFalsePositiveRate(s, data.fraud(), FPR).recall(),
                                recallAt(s, data.fraud(), d.thresholds().review()),
                                recallAt(s, data.fraud(), d.thresholds().decline()),
                                diff[0],
                                diff[1],
                                artifacts.get(m).onnxBytes().length,
                                rate,
                                rate / originalRate));
            }
            return results;
        } finally {
            for (OnnxModel model : models) {
                model.close();
            }
        }
    }

    /** The variants whose PR-AUC fell by more than {@code maxDrop} below the original's. */
    public static List<Result> failing(List<Result> results, double maxDrop) {
        return results.stream().skip(1).filter(r -> r.prAucDrop() > maxDrop).toList();
    }

    /** The console table. */
    public static String table(List<Result> results, LabelledSet data) {
        StringBuilder out = new StringBuilder();
        out.append(
                String.format(
                        Locale.ROOT,
                        "%d rows, %d labelled fraud, from %s; throughput at batch %d, 1 intra-op"
                                + " thread%n",
                        data.fraud().length,
                        data.positives(),
                        data.path(),
                        BATCH));
        String[] header = {
            "model",
            "method",
            "PR-AUC",
            "drop",
            "recall@1%FPR",
            "recall@review",
            "recall@decline",
            "mean|diff|",
            "max|diff|",
            "size",
            "rows/s",
            "speedup"
        };
        List<String[]> rows = new ArrayList<>();
        rows.add(header);
        for (Result r : results) {
            rows.add(
                    new String[] {
                        r.name() + " " + r.version(),
                        r.method(),
                        fixed(r.prAuc(), 4),
                        fixed(r.prAucDrop(), 4),
                        fixed(r.recallAtFpr(), 4),
                        fixed(r.recallAtReview(), 4),
                        fixed(r.recallAtDecline(), 4),
                        String.format(Locale.ROOT, "%.2e", r.meanAbsDiff()),
                        String.format(Locale.ROOT, "%.2e", r.maxAbsDiff()),
                        size(r.fileBytes()),
                        String.format(Locale.ROOT, "%,.0f", r.rowsPerSecond()),
                        fixed(r.speedup(), 2) + "x"
                    });
        }
        int[] width = new int[header.length];
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                width[c] = Math.max(width[c], row[c].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < row.length; c++) {
                String cell = c < 2 ? pad(row[c], width[c]) : padLeft(row[c], width[c]);
                line.append(c == 0 ? "" : "  ").append(cell);
            }
            out.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
        return out.toString();
    }

    /** The same numbers, unrounded, one row per model. */
    public static void writeCsv(Path file, List<Result> results) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(file))) {
            w.println(
                    "location,name,version,method,pr_auc,pr_auc_drop,recall_at_1pct_fpr,"
                            + "recall_at_review,recall_at_decline,mean_abs_diff,max_abs_diff,"
                            + "file_bytes,rows_per_second,speedup");
            for (Result r : results) {
                w.println(
                        String.join(
                                ",",
                                csv(r.location()),
                                csv(r.name()),
                                csv(r.version()),
                                csv(r.method()),
                                Double.toString(r.prAuc()),
                                Double.toString(r.prAucDrop()),
                                Double.toString(r.recallAtFpr()),
                                Double.toString(r.recallAtReview()),
                                Double.toString(r.recallAtDecline()),
                                Double.toString(r.meanAbsDiff()),
                                Double.toString(r.maxAbsDiff()),
                                Long.toString(r.fileBytes()),
                                String.format(Locale.ROOT, "%.1f", r.rowsPerSecond()),
                                String.format(Locale.ROOT, "%.4f", r.speedup())));
            }
        }
    }

    /** Reads back what {@link #writeCsv} wrote. */
    public static List<Result> readCsv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        if (lines.isEmpty() || !lines.get(0).startsWith("location,name,version,method,pr_auc")) {
            throw new IllegalArgumentException(
                    file + " is not a CSV written by `streamscore model evaluate`");
        }
        List<Result> results = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            // Commas inside quotes (a location with a comma) do not split.
            String[] c = lines.get(i).split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", -1);
            if (c.length != 14) {
                throw new IllegalArgumentException(
                        file + ":" + (i + 1) + ": expected 14 columns, found " + c.length);
            }
            try {
                results.add(
                        new Result(
                                unquote(c[0]),
                                unquote(c[1]),
                                unquote(c[2]),
                                unquote(c[3]),
                                Double.parseDouble(c[4]),
                                Double.parseDouble(c[5]),
                                Double.parseDouble(c[6]),
                                Double.parseDouble(c[7]),
                                Double.parseDouble(c[8]),
                                Double.parseDouble(c[9]),
                                Double.parseDouble(c[10]),
                                Long.parseLong(c[11]),
                                Double.parseDouble(c[12]),
                                Double.parseDouble(c[13])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        file + ":" + (i + 1) + ": not a number: " + e.getMessage());
            }
        }
        return results;
    }

    private static String unquote(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")
                ? s.substring(1, s.length() - 1).replace("\"\"", "\"")
                : s;
    }

    static float[] scoreAll(OnnxModel model, float[][] rows) throws OrtException {
        float[] out = new float[rows.length];
        FloatBuffer buffer = model.newInputBuffer(BATCH);
        float[] batch = new float[BATCH];
        for (int start = 0; start < rows.length; start += BATCH) {
            int n = fill(buffer, rows, start);
            model.score(buffer, n, batch);
            System.arraycopy(batch, 0, out, start, n);
        }
        return out;
    }

    private static double rowsPerSecond(OnnxModel model, float[][] rows, long millis)
            throws OrtException {
        // Batches prepared up front, so that only the model call is timed.
        int batches = Math.max(1, Math.min(64, rows.length / BATCH));
        FloatBuffer[] buffers = new FloatBuffer[batches];
        int[] sizes = new int[batches];
        for (int b = 0; b < batches; b++) {
            buffers[b] = model.newInputBuffer(BATCH);
            sizes[b] = fill(buffers[b], rows, b * BATCH);
        }
        float[] out = new float[BATCH];
        long rowsScored = 0;
        long start = System.nanoTime();
        long deadline = start + millis * 1_000_000L;
        long now;
        int b = 0;
        do {
            model.score(buffers[b], sizes[b], out);
            rowsScored += sizes[b];
            b = (b + 1) % batches;
            now = System.nanoTime();
        } while (now < deadline);
        return rowsScored / ((now - start) / 1e9);
    }

    private static int fill(FloatBuffer buffer, float[][] rows, int start) {
        int n = Math.min(BATCH, rows.length - start);
        buffer.clear();
        for (int r = 0; r < n; r++) {
            buffer.put(rows[start + r]);
        }
        buffer.flip();
        return n;
    }

    private static double[] absDiff(float[] original, float[] variant) {
        double sum = 0;
        double max = 0;
        for (int i = 0; i < original.length; i++) {
            double d = Math.abs((double) original[i] - variant[i]);
            sum += d;
            max = Math.max(max, d);
        }
        return new double[] {sum / original.length, max};
    }

    private static double recallAt(float[] scores, boolean[] fraud, double threshold) {
        int caught = 0;
        int frauds = 0;
        for (int i = 0; i < scores.length; i++) {
            if (fraud[i]) {
                frauds++;
                if (scores[i] >= threshold) {
                    caught++;
                }
            }
        }
        return frauds == 0 ? Double.NaN : caught / (double) frauds;
    }

    /** The {@code provenance.method} a compressed model's descriptor records, else original. */
    private static String method(ModelArtifact artifact) {
        String location = artifact.location();
        if (location.startsWith(ModelArtifact.BUNDLED) || location.contains("://")) {
            return "original";
        }
        Path descriptor = Path.of(location.replaceFirst("^file:", "")).resolve("descriptor.json");
        try {
            JsonNode method = JSON.readTree(descriptor.toFile()).path("provenance").path("method");
            return method.isTextual() ? method.asText() : "original";
        } catch (IOException e) {
            return "original";
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String fixed(double v, int digits) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    private static String size(long bytes) {
        return bytes >= 1 << 20
                ? String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20))
                : String.format(Locale.ROOT, "%.0f KiB", bytes / 1024.0);
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(width - s.length());
    }

    private static String padLeft(String s, int width) {
        return " ".repeat(width - s.length()) + s;
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
