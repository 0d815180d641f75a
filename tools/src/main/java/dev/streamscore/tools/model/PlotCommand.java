package dev.streamscore.tools.model;

import dev.streamscore.tools.bench.BenchReport;
import dev.streamscore.tools.bench.BenchReport.ScatterPoint;
import dev.streamscore.tools.model.ModelEvaluation.Result;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code streamscore model plot}: one figure of throughput against PR-AUC from the CSVs of several
 * {@code model evaluate} runs, e.g. each bundled model beside its compressed variants.
 *
 * <pre>
 * ./streamscore model plot docs/benchmarks/compression/*&#47;evaluation.csv \
 *     --out docs/benchmarks/compression/throughput-vs-pr-auc.svg
 * </pre>
 */
@Command(
        name = "plot",
        mixinStandardHelpOptions = true,
        description =
                "Draw throughput against PR-AUC for every model of one or more `model evaluate`"
                        + " CSVs, in one SVG figure.")
public final class PlotCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "<evaluation.csv>", description = "CSVs to plot.")
    List<Path> csvs;

    @Option(names = "--out", required = true, description = "The SVG file to write.")
    Path out;

    @Override
    public Integer call() throws Exception {
        List<Result> all = new ArrayList<>();
        for (Path csv : csvs) {
            all.addAll(ModelEvaluation.readCsv(csv));
        }
        List<ScatterPoint> points = EvaluateCommand.points(all);
        BenchReport.writeScatter(
                out,
                "throughput against PR-AUC, every model and variant",
                "rows/s at batch 256, one intra-op thread (log scale)",
                "PR-AUC",
                points,
                EvaluateCommand.methods(all));
        System.out.println("wrote " + out + " (" + points.size() + " models)");
        return 0;
    }
}
