package dev.streamscore.tools.pipeline;

import dev.streamscore.pipeline.OfflineFeatures;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineException;
import dev.streamscore.pipeline.Problem;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore pipeline}: what a pipeline file says, checked before it runs, and its features
 * computed offline by the same code the job runs.
 *
 * <pre>
 * ./streamscore pipeline check pipelines/examples/payouts/payouts.yaml
 * ./streamscore pipeline features pipelines/examples/payouts/payouts.yaml \
 *     --events pipelines/examples/payouts/events.jsonl --labels pipelines/examples/payouts/labels.csv \
 *     --out training.csv
 * </pre>
 */
@Command(
        name = "pipeline",
        mixinStandardHelpOptions = true,
        description = "Check a pipeline file, or compute its features offline.",
        subcommands = {PipelineCommand.Check.class, PipelineCommand.Features.class})
public final class PipelineCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    /** Prints every problem, each with its line and a fix. */
    static void printProblems(PipelineException e, PrintWriter err) {
        err.println(
                "streamscore: "
                        + e.problems().size()
                        + (e.problems().size() == 1 ? " problem" : " problems")
                        + " in the pipeline file:");
        for (Problem p : e.problems()) {
            err.println(p);
        }
        err.flush();
    }

    @Command(
            name = "check",
            mixinStandardHelpOptions = true,
            description = {
                "Check a pipeline file against its schemas and its model, and print what it"
                        + " computes; or every problem, each with its line and what would fix"
                        + " it. Exit code 0 when it can run, 1 when not."
            })
    static final class Check implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(index = "0", paramLabel = "FILE", description = "The pipeline file (YAML).")
        String file;

        @Option(
                names = "--model",
                paramLabel = "MODEL",
                description =
                        "Check against this model instead of the file's: bundled:<id> or a folder"
                                + " holding descriptor.json.")
        String model;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Pipeline p;
            try {
                p = Pipeline.load(file, model, true);
            } catch (PipelineException e) {
                printProblems(e, spec.commandLine().getErr());
                return 1;
            }
            out.printf("pipeline %s: OK (%s)%n", p.name(), file);
            out.printf(
                    "  input  : topic %s, %s %s; key %s, id %s, time %s%n",
                    p.inputTopic(),
                    p.inputFormat().key(),
                    p.inputSchema().getFullName(),
                    p.keyField(),
                    p.idField(),
                    p.timeField());
            for (String c : p.checks()) {
                out.printf("  check  : %s%n", c);
            }
            for (Pipeline.AggregateSpec a : p.aggregates()) {
                out.printf(
                        "  aggregate %-16s %s%s%s%s (%s)%n",
                        a.name(),
                        a.kind().key(),
                        a.value() == null ? "" : " " + a.value(),
                        a.windowMillis() > 0
                                ? ", window " + window(a.windowMillis())
                                : ", whole history",
                        a.where() == null ? "" : ", where " + a.where(),
                        a.type().celName());
            }
            out.printf("  features (%d), the model's input in this order:%n", p.features().size());
            int i = 1;
            for (Pipeline.FeatureSpec f : p.features()) {
                out.printf("    %2d. %-24s %s%n", i++, f.name(), f.expression());
            }
            out.printf(
                    "  model  : %s (%s, thresholds review %.4g, decline %.4g)%n",
                    p.modelDescriptor().id(),
                    p.model(),
                    p.modelDescriptor().thresholds().review(),
                    p.modelDescriptor().thresholds().decline());
            out.printf(
                    "  output : topic %s, %s %s%s; dead letters to %s%n",
                    p.outputTopic(),
                    p.outputFormat().key(),
                    p.outputSchema().getFullName(),
                    p.outputSchemaGenerated() ? " (generated)" : "",
                    p.deadLetterTopic());
            out.flush();
            return 0;
        }

        private static String window(long millis) {
            long[] units = {86_400_000L, 3_600_000L, 60_000L, 1000L, 1L};
            String[] names = {"d", "h", "m", "s", "ms"};
            for (int u = 0; u < units.length; u++) {
                if (millis % units[u] == 0) {
                    return millis / units[u] + names[u];
                }
            }
            return millis + "ms";
        }
    }

    @Command(
            name = "features",
            mixinStandardHelpOptions = true,
            description = {
                "Compute every event's features offline, in event-time order, with the code the"
                        + " job runs, and write them as CSV: the training set for exactly the"
                        + " features the stream serves. Columns: the id, key and time fields, the"
                        + " label (with --labels; empty for an unlabelled event), then one per"
                        + " feature. An event the job would dead-letter is left out and counted; a"
                        + " re-sent id is written once."
            })
    static final class Features implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(index = "0", paramLabel = "FILE", description = "The pipeline file (YAML).")
        String file;

        @Option(
                names = "--events",
                required = true,
                paramLabel = "EVENTS",
                description =
                        "The events: an Avro object container file, or JSON lines (one event per"
                                + " line).")
        Path events;

        @Option(
                names = "--out",
                required = true,
                paramLabel = "CSV",
                description = "Where to write.")
        Path out;

        @Option(
                names = "--labels",
                paramLabel = "CSV",
                description =
                        "Labels: a CSV of id,label (a header line, then one row per labelled id).")
        Path labels;

        @Option(
                names = "--max-events-per-key",
                defaultValue = "" + OfflineFeatures.DEFAULT_MAX_EVENTS_PER_KEY,
                description = "As the job's option. Default: ${DEFAULT-VALUE}.")
        int maxEventsPerKey;

        @Override
        public Integer call() throws IOException {
            PrintWriter console = spec.commandLine().getOut();
            Pipeline p;
            try {
                p = Pipeline.load(file, null, false);
            } catch (PipelineException e) {
                printProblems(e, spec.commandLine().getErr());
                return 1;
            }
            Map<String, String> labelled = labels == null ? Map.of() : readLabels(labels);
            List<OfflineFeatures.Row> rows;
            try {
                rows = OfflineFeatures.compute(p, OfflineFeatures.read(p, events), maxEventsPerKey);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the events: " + e.getMessage(), e);
            }
            int written = 0;
            int failed = 0;
            int resent = 0;
            int withLabel = 0;
            Map<String, Integer> reasons = new HashMap<>();
            try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
                StringBuilder header =
                        new StringBuilder()
                                .append(csv(p.idField()))
                                .append(',')
                                .append(csv(p.keyField()))
                                .append(',')
                                .append(csv(p.timeField()))
                                .append(",label");
                for (String f : p.featureNames()) {
                    header.append(',').append(csv(f));
                }
                w.write(header.toString());
                w.newLine();
                for (OfflineFeatures.Row r : rows) {
                    if (r.resent()) {
                        resent++;
                        continue;
                    }
                    if (r.features() == null) {
                        failed++;
                        reasons.merge(r.error(), 1, Integer::sum);
                        continue;
                    }
                    String label = labelled.getOrDefault(r.id(), "");
                    if (!label.isEmpty()) {
                        withLabel++;
                    }
                    StringBuilder line =
                            new StringBuilder()
                                    .append(csv(r.id()))
                                    .append(',')
                                    .append(csv(r.key()))
                                    .append(',')
                                    .append(r.time())
                                    .append(',')
                                    .append(csv(label));
                    for (float v : r.features()) {
                        line.append(',').append(Float.toString(v));
                    }
                    w.write(line.toString());
                    w.newLine();
                    written++;
                }
            }
            console.printf(
                    "wrote %,d rows of %d features to %s (%,d labelled); %,d re-sent ids written"
                            + " once; %,d events left out as the job would dead-letter them%n",
                    written, p.featureNames().size(), out, withLabel, resent, failed);
            reasons.entrySet().stream()
                    .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                    .limit(5)
                    .forEach(e -> console.printf("  %,d x %s%n", e.getValue(), e.getKey()));
            console.flush();
            return 0;
        }

        private static Map<String, String> readLabels(Path file) throws IOException {
            Map<String, String> labels = new HashMap<>();
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 1; i < lines.size(); i++) {
                String line = lines.get(i).trim();
                if (line.isEmpty()) {
                    continue;
                }
                int comma = line.lastIndexOf(',');
                if (comma <= 0) {
                    throw new IllegalArgumentException(
                            file + ":" + (i + 1) + ": expected id,label, found '" + line + "'");
                }
                labels.putIfAbsent(
                        line.substring(0, comma).trim(), line.substring(comma + 1).trim());
            }
            return labels;
        }

        private static String csv(String value) {
            if (value == null) {
                return "";
            }
            if (value.contains(",") || value.contains("\"") || value.contains("\n")) {
                return "\"" + value.replace("\"", "\"\"") + "\"";
            }
            return value;
        }
    }
}
