package dev.streamscore.tools.run;

import dev.streamscore.jobs.FraudScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.testkit.LocalFlink;
import dev.streamscore.tools.cli.JobOptions;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore run}: the fraud-scoring job against an existing Kafka cluster, on a local
 * Flink MiniCluster. Every job option is a flag (added from {@code ScoringOptions} at start-up).
 */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        description =
                "Run the fraud-scoring job locally against an existing Kafka cluster, until"
                        + " Ctrl-C.")
public final class RunCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Configuration options = JobOptions.toConfiguration(spec.commandLine().getParseResult());
        ScoringConfig config = ScoringConfig.from(options);
        System.out.printf(
                "streamscore: reading %s, writing %s and %s on %s, model %s%n",
                config.transactionsTopic(),
                config.scoresTopic(),
                config.deadLetterTopic(),
                config.bootstrapServers(),
                config.inference().modelLocation());
        FraudScoringJob.run(LocalFlink.environment(FraudScoringJob.flinkSettings(options)), config);
        return 0;
    }
}
