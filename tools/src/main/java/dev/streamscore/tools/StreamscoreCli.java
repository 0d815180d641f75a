package dev.streamscore.tools;

import dev.streamscore.jobs.KafkaConnectionCheck;
import dev.streamscore.tools.bench.BenchCommand;
import dev.streamscore.tools.bench.OperatorBenchmarkCommand;
import dev.streamscore.tools.cli.JobOptions;
import dev.streamscore.tools.cluster.ClusterCommand;
import dev.streamscore.tools.demo.DemoCommand;
import dev.streamscore.tools.model.ModelCommandLine;
import dev.streamscore.tools.probe.ProbeCommand;
import dev.streamscore.tools.run.RunCommand;
import dev.streamscore.tools.training.ExportTrainingDataCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ./streamscore} command line.
 *
 * <pre>
 * ./streamscore demo --events 100000        # embedded Kafka + local Flink + generator + job
 * ./streamscore run --bootstrap-servers host:9092 --pipeline my-events.yaml
 * ./streamscore pipeline check my-events.yaml
 * ./streamscore model deploy --bootstrap-servers host:9092 models/artifacts/gbdt
 * ./streamscore probe --bootstrap-servers host:9092   # end-to-end latency from outside
 * ./streamscore export-training-data --out models/training/data/train.csv
 * </pre>
 */
@Command(
        name = "streamscore",
        mixinStandardHelpOptions = true,
        version = "streamscore 0.1.0",
        description =
                "Real-time scoring of your events on Apache Flink and Kafka with ONNX Runtime.",
        subcommands = {
            DemoCommand.class,
            RunCommand.class,
            ExportTrainingDataCommand.class,
            ClusterCommand.class,
            BenchCommand.class,
            dev.streamscore.tools.soak.SoakCommand.class,
            ModelCommandLine.class,
            dev.streamscore.tools.pipeline.PipelineCommand.class,
            OperatorBenchmarkCommand.class,
            ProbeCommand.class
        })
public final class StreamscoreCli {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /**
     * The configured command line, for {@link #main} and for tests that run a command in-process.
     */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new StreamscoreCli());
        // The job's options come from one definition, ScoringOptions.all(), for every command that
        // runs it.
        for (String command : new String[] {"run", "demo"}) {
            JobOptions.addTo(cli.getSubcommands().get(command).getCommandSpec());
        }
        JobOptions.addTo(cli.getSubcommands().get("probe").getCommandSpec(), ProbeCommand.OPTIONS);
        JobOptions.addTo(
                cli.getSubcommands().get("export-training-data").getCommandSpec(),
                ExportTrainingDataCommand.OPTIONS);
        CommandLine model = cli.getSubcommands().get("model");
        for (String name : ModelCommandLine.KAFKA_COMMANDS) {
            JobOptions.addTo(
                    model.getSubcommands().get(name).getCommandSpec(), ModelCommandLine.OPTIONS);
        }
        cli.setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                    // A mistake of the user's gets its message, not a stack trace.
                    if (e instanceof IllegalArgumentException) {
                        commandLine.getErr().println("streamscore: " + e.getMessage());
                        return 2;
                    }
                    // Kafka cannot be reached or used as configured: the message says what.
                    if (e instanceof KafkaConnectionCheck.KafkaUnavailableException) {
                        commandLine.getErr().println("streamscore: " + e.getMessage());
                        return 1;
                    }
                    throw e;
                });
        return cli;
    }
}
