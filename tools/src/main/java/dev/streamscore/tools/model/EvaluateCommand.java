package dev.streamscore.tools.model;

import dev.streamscore.tools.bench.BenchReport;
import dev.streamscore.tools.bench.BenchReport.ScatterPoint;
import dev.streamscore.tools.model.ModelEvaluation.Result;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code streamscore model evaluate}: the original model beside its compressed variants on a
 * labelled held-out set, as a console table, a CSV and a figure; with {@code --max-pr-auc-drop}, a
 * gate that fails when a variant loses more than that.
 *
 * <pre>
 * ./streamscore export-training-data --seed 11 --events 200000 --out heldout.csv
 * ./streamscore model compress bundled:deep --method int8 --out /tmp/deep-int8
 * ./streamscore model evaluate bundled:deep /tmp/deep-int8 --data heldout.csv --max-pr-auc-drop 0.005
 * </pre>
 */
@Command(
        name = "evaluate",
        mixinStandardHelpOptions = true,
        description = {
            "Measure models on a labelled set: PR-AUC, recall at 1% FPR and at their own"
                    + " thresholds, score differences from the first model, file size and batched"
                    + " throughput (batch 256, one intra-op thread).",
            "The first model is the original; the others are compared with it."
        },
        exitCodeListHeading = "Exit codes:%n",
        exitCodeList = {
            "0:every variant is within --max-pr-auc-drop (or no gate)",
            "2:bad arguments or a model or data file that cannot be used",
            "5:a variant lost more PR-AUC than --max-pr-auc-drop"
        })
public final class EvaluateCommand implements Callable<Integer> {

    /** Exit code when a variant fails the PR-AUC gate. */
    public static final int GATE_FAILED = 5;

    @Parameters(
            arity = "1..*",
            paramLabel = "<model>",
            description =
                    "Model locations (bundled:deep, a folder, ...); the first is the original.")
    List<String> models;

    @Option(
            names = "--data",
            required = true,
            description =
                    "Labelled CSV as `streamscore export-training-data` writes it. The documented"
                            + " held-out set: --seed 11 --events 200000 (training used seed 7).")
    Path data;

    @Option(
            names = "--max-pr-auc-drop",
            description =
                    "Exit with code 5 when a variant's PR-AUC is more than this below the"
                            + " original's, e.g. 0.005.")
    Double maxPrAucDrop;

    @Option(
            names = "--repeats",
            defaultValue = "5",
            description =
                    "Timed runs per model, taken in turns; the median counts. Default:"
                            + " ${DEFAULT-VALUE}.")
    int repeats;

    @Option(
            names = "--run-millis",
            defaultValue = "1000",
            description = "How long each timed run scores batches. Default: ${DEFAULT-VALUE}.")
    long runMillis;

    @Option(
            names = "--out",
            defaultValue = "evaluation-results",
            description =
                    "Folder for evaluation.csv and throughput-vs-pr-auc.svg. Default:"
                            + " ${DEFAULT-VALUE}.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (maxPrAucDrop != null && !(maxPrAucDrop >= 0)) {
            throw new IllegalArgumentException(
                    "--max-pr-auc-drop must be a non-negative number, got " + maxPrAucDrop);
        }
        LabelledSet set = LabelledSet.read(data);
        List<Result> results = ModelEvaluation.evaluate(models, set, repeats, runMillis);
        System.out.print(ModelEvaluation.table(results, set));
        Path csv = out.resolve("evaluation.csv");
        ModelEvaluation.writeCsv(csv, results);
        Path figure = out.resolve("throughput-vs-pr-auc.svg");
        BenchReport.writeScatter(
                figure,
                "throughput against PR-AUC on " + set.path().getFileName(),
                "rows/s at batch 256, one intra-op thread (log scale)",
                "PR-AUC",
                points(results),
                methods(results));
        System.out.println("wrote " + csv + " and " + figure);
        if (maxPrAucDrop == null) {
            return 0;
        }
        List<Result> failing = ModelEvaluation.failing(results, maxPrAucDrop);
        for (Result r : failing) {
            System.out.printf(
                    Locale.ROOT,
                    "FAIL %s %s (%s): PR-AUC %.4f is %.4f below the original's, more than %s%n",
                    r.name(),
                    r.version(),
                    r.method(),
                    r.prAuc(),
                    r.prAucDrop(),
                    maxPrAucDrop);
        }
        if (failing.isEmpty()) {
            System.out.printf(
                    Locale.ROOT,
                    "every variant is within %s PR-AUC of the original%n",
                    maxPrAucDrop);
            return 0;
        }
        return GATE_FAILED;
    }

    /** The methods in order of first appearance: the figure's shapes. */
    static List<String> methods(List<Result> results) {
        return results.stream().map(Result::method).distinct().toList();
    }

    /** One point per model; models of one name share a color, methods a shape. */
    static List<ScatterPoint> points(List<Result> results) {
        Map<String, Integer> series = new LinkedHashMap<>();
        List<String> shapes = methods(results);
        List<ScatterPoint> points = new ArrayList<>();
        for (Result r : results) {
            int s = series.computeIfAbsent(r.name(), k -> series.size());
            int shape = shapes.indexOf(r.method());
            points.add(
                    new ScatterPoint(
                            r.name() + " " + r.version(), r.rowsPerSecond(), r.prAuc(), s, shape));
        }
        return points;
    }
}
